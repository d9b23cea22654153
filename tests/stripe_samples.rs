//! The Stripe deliveries pastdue ships (the demo's, `events/demo/stripe.json`
//! and `stripe_lost.json`,
//! and the samples, `events/stripe/*.json`, both written by
//! `dev/stripe_deliveries.py`) are what Stripe sends on their API version:
//! each object has every field of its family's published object
//! (`shared/tests/fixtures/stripe/`) and, nested objects and lists included,
//! no field that object lacks; where the fixture has `null`, anything goes.
//! The envelope is the fixture's event with `data`. Never invent a field.
//!
//! `STRIPE_SAMPLES=a.json:dir cargo test -p pastdue-tests --test
//! stripe_samples` checks other files instead (an event or a list of events
//! each; every `*.json` in a folder), such as a delivery captured with
//! `stripe listen`.

#[allow(dead_code)] // this target uses part of it
mod stripe_shapes;
mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};
use stripe_shapes::{DECLARED_NOT_IN_FIXTURES, FAMILIES, Family};

/// One API version family: its event envelope and its objects by kind.
struct Shapes {
    api_version: String,
    event: Value,
    objects: BTreeMap<String, Value>,
}

fn families() -> Vec<Shapes> {
    FAMILIES
        .iter()
        .map(|&(name, objects_of)| {
            let family = Family::load(name, objects_of);
            let path = support::repo_root()
                .join(format!("shared/tests/fixtures/stripe/{objects_of}.json"));
            let file: Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let objects = file["objects"]
                .as_object()
                .unwrap()
                .keys()
                .filter(|kind| *kind != "event")
                .map(|kind| {
                    // Declared fields may hold anything: null, as in a fixture.
                    let declared: Vec<(&str, Value)> = DECLARED_NOT_IN_FIXTURES
                        .iter()
                        .filter(|(k, _)| k == kind)
                        .map(|&(_, path)| (path, Value::Null))
                        .collect();
                    (kind.clone(), family.object(kind, &declared))
                })
                .collect();
            Shapes {
                event: family.event("evt_shape", "shape", 0, Value::Null),
                api_version: family.api_version.clone(),
                objects,
            }
        })
        .collect()
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Adds to `problems` every key of `value` that `fixture` lacks (and, at
/// the top, every key of `fixture` that `value` lacks).
fn compare(path: &str, value: &Value, fixture: &Value, top: bool, problems: &mut Vec<String>) {
    match (value, fixture) {
        (_, Value::Null) | (Value::Null, _) => {}
        (Value::Object(fields), Value::Object(expected)) => {
            for (k, v) in fields {
                match expected.get(k) {
                    Some(f) => compare(&format!("{path}.{k}"), v, f, false, problems),
                    None => problems.push(format!("{path}.{k}: Stripe's object has no such field")),
                }
            }
            if top {
                for k in expected.keys().filter(|k| !fields.contains_key(*k)) {
                    problems.push(format!("{path}.{k}: missing; Stripe always sends it"));
                }
            }
        }
        (Value::Array(items), Value::Array(expected)) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("{path}[{i}]");
                if expected.is_empty() {
                    problems.push(format!("{at}: Stripe's fixture has no element here"));
                    continue;
                }
                // It must fit one of the fixture's elements.
                let tries: Vec<Vec<String>> = expected
                    .iter()
                    .map(|f| {
                        let mut found = Vec::new();
                        compare(&at, item, f, false, &mut found);
                        found
                    })
                    .collect();
                if !tries.iter().any(Vec::is_empty) {
                    problems.extend(tries.into_iter().next().unwrap_or_default());
                }
            }
        }
        (Value::Object(_) | Value::Array(_), _) => problems.push(format!(
            "{path}: {} where Stripe's object has {}",
            kind_of(value),
            kind_of(fixture)
        )),
        _ => {}
    }
}

/// What is wrong with one delivery; empty when it is what Stripe sends.
fn problems(families: &[Shapes], delivery: &Value) -> Vec<String> {
    let version = delivery["api_version"].as_str().unwrap_or_default();
    let Some(family) = families.iter().find(|f| f.api_version == version) else {
        return vec![format!(
            "api_version {:?} is not one pastdue supports",
            delivery["api_version"]
        )];
    };
    let mut out = Vec::new();
    let (Some(envelope), Some(expected)) = (delivery.as_object(), family.event.as_object()) else {
        return vec!["not an event object".into()];
    };
    for k in envelope.keys().filter(|k| !expected.contains_key(*k)) {
        out.push(format!("{k}: Stripe's events have no such field"));
    }
    for k in expected.keys().filter(|k| !envelope.contains_key(*k)) {
        out.push(format!("{k}: missing; Stripe's events always have it"));
    }
    let kind = delivery["type"].as_str().unwrap_or_default();
    let previous_allowed = kind.ends_with(".updated") || kind == "payment_method.detached";
    for k in delivery["data"]
        .as_object()
        .into_iter()
        .flat_map(|d| d.keys())
    {
        match k.as_str() {
            "object" => {}
            "previous_attributes" if previous_allowed => {}
            other => out.push(format!("data.{other}: Stripe sends none on {kind}")),
        }
    }
    let object = &delivery["data"]["object"];
    match object["object"].as_str() {
        None => out.push("data.object.object: missing".into()),
        Some(name) => match family.objects.get(name) {
            None => out.push(format!("data.object: Stripe sends no {name} on {version}")),
            Some(fixture) => compare("data.object", object, fixture, true, &mut out),
        },
    }
    out
}

/// The deliveries to check, each with where it came from.
fn deliveries() -> Vec<(String, Value)> {
    let root = support::repo_root();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut add = |path: PathBuf| {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path);
        }
    };
    match std::env::var("STRIPE_SAMPLES") {
        Ok(list) => list.split(':').map(PathBuf::from).for_each(&mut add),
        Err(_) => {
            add(root.join("events/demo/stripe.json"));
            add(root.join("events/demo/stripe_lost.json"));
            add(root.join("events/stripe"));
        }
    }
    let mut out = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", file.display()));
        let name = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        match value {
            Value::Array(items) => {
                assert!(!items.is_empty(), "{name}: no deliveries");
                for (i, d) in items.into_iter().enumerate() {
                    out.push((format!("{name}[{i}] {} {}", d["id"], d["type"]), d));
                }
            }
            d => out.push((format!("{name} {} {}", d["id"], d["type"]), d)),
        }
    }
    out
}

#[test]
fn every_delivery_we_ship_has_only_the_fields_stripe_sends() {
    let families = families();
    let deliveries = deliveries();
    assert!(!deliveries.is_empty(), "no deliveries to check");
    let mut wrong = Vec::new();
    for (name, delivery) in &deliveries {
        let found = problems(&families, delivery);
        if !found.is_empty() {
            wrong.push(format!("{name}:\n    {}", found.join("\n    ")));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} deliveries are not what Stripe sends \
         (dev/stripe_deliveries.py writes them from the fixtures):\n{}",
        wrong.len(),
        deliveries.len(),
        wrong.join("\n")
    );
}

/// The check itself: each change below is one Stripe would never make.
#[test]
fn an_invented_or_missing_field_is_caught() {
    let families = families();
    let sample = |name: &str| -> Value {
        let path = support::repo_root().join(format!("events/stripe/{name}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let paid = sample("invoice.paid");
    assert_eq!(problems(&families, &paid), Vec::<String>::new());
    type Change = fn(&mut Value);
    let changes: [(&str, &str, Change); 9] = [
        ("invoice.paid", "the invoice's payment before basil", |d| {
            d["data"]["object"]["payment_intent"] = "pi_1".into();
        }),
        ("invoice.paid", "a nested field", |d| {
            d["data"]["object"]["status_transitions"]["refunded_at"] = 1.into();
        }),
        ("invoice.paid", "a field of a list's element", |d| {
            d["data"]["object"]["lines"]["data"][0]["price"] = json!({"id": "price_1"});
        }),
        ("invoice.paid", "a field left out", |d| {
            d["data"]["object"].as_object_mut().unwrap().remove("total");
        }),
        ("invoice.paid", "an envelope field", |d| {
            d["account"] = "acct_1".into();
        }),
        (
            "invoice.paid",
            "previous attributes on a paid invoice",
            |d| {
                d["data"]["previous_attributes"] = json!({"status": "open"});
            },
        ),
        ("invoice.paid", "a version pastdue does not know", |d| {
            d["api_version"] = "2099-01-01.zinnia".into();
        }),
        ("charge.refunded", "a refund listed on the charge", |d| {
            d["data"]["object"]["refunds"]["data"] = json!([{"id": "re_1", "object": "refund"}]);
        }),
        ("invoice_payment.paid", "an id expanded to an object", |d| {
            d["data"]["object"]["invoice"] = json!({"id": "in_1", "object": "invoice"});
        }),
    ];
    for (name, what, change) in changes {
        let mut delivery = sample(name);
        assert_eq!(
            problems(&families, &delivery),
            Vec::<String>::new(),
            "{name}"
        );
        change(&mut delivery);
        assert!(!problems(&families, &delivery).is_empty(), "{name}: {what}");
    }
}
