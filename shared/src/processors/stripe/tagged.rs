//! A Stripe object read in the same pass as the event around it.
//!
//! An event names its type last (`"type"` follows `"data"`), but every
//! Stripe object names its own kind near its start (`"id"`, then
//! `"object": "invoice"`). [`Read`] reads keys until that tag, then hands
//! the rest of the same map to the typed reader of that kind, replaying the
//! few entries it passed on the way. The body is visited once; an object of
//! a kind pastdue does not read is skipped unread.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::value::{CowStrDeserializer, MapAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::objects::{
    Charge, Customer, Dispute, ExpiringCard, Invoice, InvoicePayment, PaymentMethod, Refund,
};

/// An object as its own `object` tag says to read it.
#[derive(Debug)]
pub enum Read<'a> {
    /// Boxed: an invoice is several times the size of any other object
    /// read, and the read object is moved a few times on its way to the
    /// mapping; one allocation costs less than copying it each time.
    Invoice(Box<Invoice<'a>>),
    InvoicePayment(InvoicePayment<'a>),
    Refund(Refund<'a>),
    Charge(Charge<'a>),
    Dispute(Dispute<'a>),
    /// A legacy card or source.
    ExpiringCard(ExpiringCard<'a>),
    PaymentMethod(PaymentMethod<'a>),
    Customer(Customer<'a>),
    /// A kind pastdue does not read, by its tag.
    Other(Cow<'a, str>),
    /// No `object` tag: its entries, to read as the event's type says.
    Untagged(Vec<(Cow<'a, str>, &'a RawValue)>),
}

impl<'a> Read<'a> {
    /// Reads the rest of an object whose tag is `tag`.
    fn by_tag<'de: 'a, D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        Ok(match tag {
            "invoice" => Self::Invoice(Box::new(Invoice::deserialize(d)?)),
            "invoice_payment" => Self::InvoicePayment(InvoicePayment::deserialize(d)?),
            "refund" => Self::Refund(Refund::deserialize(d)?),
            "charge" => Self::Charge(Charge::deserialize(d)?),
            "dispute" => Self::Dispute(Dispute::deserialize(d)?),
            "card" | "source" => Self::ExpiringCard(ExpiringCard::deserialize(d)?),
            "payment_method" => Self::PaymentMethod(PaymentMethod::deserialize(d)?),
            "customer" => Self::Customer(Customer::deserialize(d)?),
            other => {
                IgnoredAny::deserialize(d)?;
                Self::Other(Cow::Owned(other.to_owned()))
            }
        })
    }

    /// The tag this object was read as.
    pub fn tag(&self) -> &str {
        match self {
            Self::Invoice(_) => "invoice",
            Self::InvoicePayment(_) => "invoice_payment",
            Self::Refund(_) => "refund",
            Self::Charge(_) => "charge",
            Self::Dispute(_) => "dispute",
            Self::ExpiringCard(_) => "card",
            Self::PaymentMethod(_) => "payment_method",
            Self::Customer(_) => "customer",
            Self::Other(tag) => tag,
            Self::Untagged(_) => "untagged object",
        }
    }

    /// An untagged object read as `tag`; any other as it is.
    pub fn as_kind(self, tag: &str) -> Result<Self, serde_json::Error> {
        match self {
            Self::Untagged(entries) => {
                let replay = Replay {
                    entries: entries.into_iter(),
                    value: None,
                    rest: None::<Done>,
                };
                Self::by_tag(tag, MapAccessDeserializer::new(replay))
            }
            read => Ok(read),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Read<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ReadVisitor(std::marker::PhantomData))
    }
}

struct ReadVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ReadVisitor<'a> {
    type Value = Read<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Stripe object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Read<'a>, A::Error> {
        let mut passed: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "object" {
                let tag: Cow<'de, str> = map.next_value()?;
                let replay = Replay {
                    entries: passed.into_iter(),
                    value: None,
                    rest: Some(map),
                };
                return Read::by_tag(&tag, MapAccessDeserializer::new(replay));
            }
            passed.push((key, map.next_value()?));
        }
        Ok(Read::Untagged(passed))
    }
}

/// A map read as: the entries passed before the tag, then the rest.
struct Replay<'de, A> {
    entries: std::vec::IntoIter<(Cow<'de, str>, &'de RawValue)>,
    /// The value of the passed entry whose key was just read.
    value: Option<&'de RawValue>,
    rest: Option<A>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if let Some((key, value)) = self.entries.next() {
            self.value = Some(value);
            return seed
                .deserialize(CowStrDeserializer::<A::Error>::new(key))
                .map(Some);
        }
        match &mut self.rest {
            Some(rest) => rest.next_key_seed(seed),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match (self.value.take(), &mut self.rest) {
            (Some(raw), _) => seed.deserialize(raw).map_err(de::Error::custom),
            (None, Some(rest)) => rest.next_value_seed(seed),
            (None, None) => Err(de::Error::custom("a value with no key")),
        }
    }
}

/// The rest of a map that has none.
struct Done;

impl<'de> MapAccess<'de> for Done {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        _: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("a value with no key"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::processors::stripe::mapping::StripeDelivery;
    use crate::processors::{Delivery, Mapped};

    fn event(kind: &str, object: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": "evt_1", "object": "event", "api_version": "2026-11-18.endive",
            "created": 1_767_000_000, "data": {"object": object}, "type": kind
        }))
        .unwrap()
    }

    fn invoice(fields: &[(&str, Value)]) -> serde_json::Map<String, Value> {
        let mut o = serde_json::Map::new();
        for (k, v) in fields {
            o.insert((*k).to_owned(), v.clone());
        }
        o
    }

    fn mapped(body: &[u8]) -> Result<Mapped, String> {
        let delivery = StripeDelivery::read(body).map_err(|e| e.to_string())?;
        delivery.map(None).map_err(|e| e.to_string())
    }

    fn base() -> Vec<(&'static str, Value)> {
        vec![
            ("id", json!("in_1")),
            ("customer", json!("cus_1")),
            ("currency", json!("usd")),
            ("status", json!("open")),
            ("amount_due", json!(12_000)),
            ("due_date", json!(1_768_000_000)),
        ]
    }

    #[test]
    fn the_tag_anywhere_or_nowhere_reads_the_same_invoice() {
        let tag_first = {
            let mut f = vec![("object", json!("invoice"))];
            f.extend(base());
            invoice(&f)
        };
        let tag_last = {
            let mut f = base();
            f.push(("object", json!("invoice")));
            invoice(&f)
        };
        let untagged = invoice(&base());
        let expected = mapped(&event("invoice.finalized", tag_first.into())).unwrap();
        assert!(matches!(expected, Mapped::Events { .. }), "{expected:?}");
        for object in [tag_last, untagged] {
            assert_eq!(
                mapped(&event("invoice.finalized", object.into())).unwrap(),
                expected
            );
        }
    }

    #[test]
    fn an_object_that_does_not_read_fails_only_for_a_type_pastdue_acts_on() {
        // Stripe's upcoming invoice has no id: fine for a type pastdue
        // ignores, an error naming the field for one it reads.
        let mut f = vec![("object", json!("invoice"))];
        f.extend(base().into_iter().filter(|(k, _)| *k != "id"));
        let upcoming = invoice(&f);
        assert!(matches!(
            mapped(&event("invoice.upcoming", upcoming.clone().into())),
            Ok(Mapped::Ignored { .. })
        ));
        let error = mapped(&event("invoice.finalized", upcoming.into())).unwrap_err();
        assert!(error.contains("missing field `id`"), "{error}");
    }

    #[test]
    fn an_object_of_another_kind_than_the_type_sends_is_an_error() {
        let charge = json!({"id": "ch_1", "object": "charge", "payment_intent": null});
        let error = mapped(&event("invoice.finalized", charge.clone())).unwrap_err();
        assert!(
            error.contains("invoice.finalized carries `invoice` objects, not `charge`"),
            "{error}"
        );
        // Kinds pastdue never reads are skipped, whatever they hold.
        let other = json!({"id": "sub_1", "object": "subscription", "items": {"data": [1, "x", {"a": [null]}]}});
        assert!(matches!(
            mapped(&event("customer.subscription.updated", other)),
            Ok(Mapped::Ignored { .. })
        ));
    }
}

#[cfg(test)]
mod one_pass {
    use serde_json::{Value, json};

    use super::Read;
    use crate::processors::stripe::event::{Body, StripeEvent};

    /// Stripe's published objects read in the envelope's pass: none falls
    /// back to a second read.
    #[test]
    fn every_published_object_reads_in_one_pass() {
        let fixture: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/stripe/dahlia.json"))
                .unwrap();
        for (kind, tag) in [
            ("invoice.paid", "invoice"),
            ("invoice_payment.paid", "invoice_payment"),
            ("refund.created", "refund"),
            ("charge.refunded", "charge"),
            ("charge.dispute.created", "dispute"),
            ("customer.source.expiring", "card"),
            ("payment_method.attached", "payment_method"),
            ("customer.updated", "customer"),
        ] {
            let object = &fixture["objects"][if tag == "card" { "card" } else { tag }];
            let body = serde_json::to_vec(&json!({
                "id": "evt_1", "object": "event", "api_version": "2026-07-29.dahlia",
                "created": 1_767_000_000, "data": {"object": object}, "type": kind
            }))
            .unwrap();
            let (_, read) = StripeEvent::parse(&body).unwrap();
            match read {
                Body::Read(read) => assert_eq!(read.tag(), tag, "{kind}"),
                Body::Raw(_) => {
                    let e = serde_json::from_slice::<
                        crate::processors::stripe::event::Envelope<'_, Read<'_>>,
                    >(&body)
                    .unwrap_err();
                    panic!("{kind}: read twice: {e}");
                }
            }
        }
    }
}
