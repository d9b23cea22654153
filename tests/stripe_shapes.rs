//! Stripe deliveries built from the objects Stripe publishes for each API
//! version family (`shared/tests/fixtures/stripe/`, from stripe/openapi):
//! a test sets the values of fields the family's object has, and cannot add
//! one it does not (except the few that Stripe's types declare and its
//! fixtures leave out, listed in [`DECLARED_NOT_IN_FIXTURES`]).

use serde_json::{Map, Value};

use crate::support;

/// Every family pastdue supports, oldest first. Stripe has published no
/// fixtures for endive (2026-11-18): its changelog lists no change to these
/// objects, so endive deliveries are dahlia's objects under endive's
/// version (see the fixtures' README).
pub const FAMILIES: [(&str, &str); 6] = [
    ("2024-06-20", "2024-06-20"),
    ("acacia", "acacia"),
    ("basil", "basil"),
    ("clover", "clover"),
    ("dahlia", "dahlia"),
    ("endive", "dahlia"),
];

/// Fields stripe-node's types declare that the published fixtures omit.
pub const DECLARED_NOT_IN_FIXTURES: [(&str, &str); 2] = [
    ("invoice_payment", "payment.payment_intent"),
    ("invoice_payment", "payment.charge"),
];

pub struct Family {
    pub name: &'static str,
    pub api_version: String,
    objects: Map<String, Value>,
}

impl Family {
    pub fn load(name: &'static str, objects_of: &str) -> Self {
        let path =
            support::repo_root().join(format!("shared/tests/fixtures/stripe/{objects_of}.json"));
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let api_version = if name == "endive" {
            "2026-11-18.endive".to_owned()
        } else {
            file["api_version"].as_str().unwrap().to_owned()
        };
        Self {
            name,
            api_version,
            objects: file["objects"].as_object().unwrap().clone(),
        }
    }

    /// Whether invoices of this family name no payment (basil and later).
    pub fn basil_or_later(&self) -> bool {
        self.api_version.as_str() >= "2025-03-31"
    }

    /// The family's `kind` object with `set` applied (dotted paths). Panics
    /// on a field the family's object does not have.
    pub fn object(&self, kind: &str, set: &[(&str, Value)]) -> Value {
        let mut object = self
            .objects
            .get(kind)
            .unwrap_or_else(|| panic!("{}: Stripe sends no {kind}", self.name))
            .clone();
        for (path, value) in set {
            let declared = DECLARED_NOT_IN_FIXTURES.contains(&(kind, path));
            let (parents, leaf) = match path.rsplit_once('.') {
                Some((p, l)) => (p.split('.').collect::<Vec<_>>(), l),
                None => (Vec::new(), *path),
            };
            let mut at = &mut object;
            for p in parents {
                at = at
                    .get_mut(p)
                    .unwrap_or_else(|| panic!("{}: {kind} has no {p}", self.name));
            }
            let fields = at.as_object_mut().unwrap();
            assert!(
                fields.contains_key(leaf) || declared,
                "{}: {kind} has no field {path}: never invent one",
                self.name
            );
            fields.insert(leaf.to_owned(), value.clone());
        }
        object
    }

    /// A paid invoice payment (basil and later) of `amount` USD cents
    /// towards `invoice`, paid by the payment intent `payment_intent`.
    pub fn paid_invoice_payment(
        &self,
        id: &str,
        invoice: &str,
        amount: i64,
        payment_intent: &str,
    ) -> Value {
        self.object(
            "invoice_payment",
            &[
                ("id", id.into()),
                ("invoice", invoice.into()),
                ("amount_paid", amount.into()),
                ("currency", "usd".into()),
                ("payment.type", "payment_intent".into()),
                ("payment.payment_intent", payment_intent.into()),
                ("status", "paid".into()),
            ],
        )
    }

    /// Whether the family's `kind` object has `field`.
    pub fn has(&self, kind: &str, field: &str) -> bool {
        self.objects[kind].get(field).is_some()
    }

    /// The event envelope as Stripe posts it, around `object`.
    pub fn event(&self, id: &str, kind: &str, created: i64, object: Value) -> Value {
        let mut event = self.objects["event"].clone();
        let fields = event.as_object_mut().unwrap();
        for (k, v) in [
            ("id", Value::from(id)),
            ("type", kind.into()),
            ("created", created.into()),
            ("api_version", self.api_version.clone().into()),
        ] {
            assert!(fields.contains_key(k), "events have {k}");
            fields.insert(k.to_owned(), v);
        }
        fields.insert("data".to_owned(), serde_json::json!({ "object": object }));
        event
    }

    /// An event whose `data` also carries `previous_attributes` (Stripe's
    /// `*.updated` and `payment_method.detached`).
    pub fn event_with_previous(
        &self,
        id: &str,
        kind: &str,
        created: i64,
        object: Value,
        previous: Value,
    ) -> Value {
        let mut event = self.event(id, kind, created, object);
        event["data"]["previous_attributes"] = previous;
        event
    }
}
