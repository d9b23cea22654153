use std::path::Path;
use std::sync::Arc;

use lambda_http::http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::mapping::MetadataKeys;
use super::resources::{MANDATES, PAYMENTS, compose};
use super::signature::{GocardlessVerifier, SIGNATURE_HEADER, signature_header};
use super::{GocardlessProcessor, read_deliveries};
use crate::domain::{AccountId, EmailAddress, InvoiceId, Phone, Role, invoice_link_key};
use crate::processors::verify::{VerifyError, WebhookVerifier};
use crate::processors::{
    AccountHints, Delivery, FromSecret, MapError, Mapped, ObjectRef, Objects, Processor,
};

const PM: &str = "PM01J8Z4K2Q7RX";
const MD: &str = "MD01J8Z3W5N0PA";
const CU: &str = "CU01J8Z3V7T2KD";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/gocardless")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

fn signed(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(SIGNATURE_HEADER, HeaderValue::from_str(value).unwrap());
    h
}

fn processor() -> GocardlessProcessor {
    GocardlessProcessor::from_secret("secret", 300).unwrap()
}

// ---- signatures ----

#[test]
fn the_client_librarys_vector_verifies() {
    // gocardless-pro-python tests/webhooks_test.py: its fixture, key and
    // signature.
    let body = fixture("webhook_client_library_sample.json");
    let v = GocardlessVerifier::new("ED7D658C-D8EB-4941-948B-3973214F2D49", 300).unwrap();
    let h = signed("2693754819d3e32d7e8fcb13c729631f316c6de8dc1cf634d6527f1c07276e7e");
    assert_eq!(v.verify(&h, &body, 0), Ok(()), "GoCardless signs no time");
    assert_eq!(v.verify(&h, &body, i64::MAX), Ok(()));
    assert_eq!(
        signature_header("ED7D658C-D8EB-4941-948B-3973214F2D49", &body),
        "2693754819d3e32d7e8fcb13c729631f316c6de8dc1cf634d6527f1c07276e7e"
    );
    let upper = signed("2693754819D3E32D7E8FCB13C729631F316C6DE8DC1CF634D6527F1C07276E7E");
    assert_eq!(v.verify(&upper, &body, 0), Ok(()));
}

#[test]
fn any_secret_of_a_rotation_verifies() {
    let body = fixture("webhook_payment_confirmed.json");
    let v = GocardlessVerifier::new(" old_secret , new_secret ", 300).unwrap();
    for secret in ["old_secret", "new_secret"] {
        let h = signed(&signature_header(secret, &body));
        assert_eq!(v.verify(&h, &body, 1_767_279_600), Ok(()), "{secret}");
    }
    let h = signed(&signature_header("other_secret", &body));
    assert_eq!(v.verify(&h, &body, 0), Err(VerifyError::BadSignature));
    assert!(GocardlessVerifier::new(" , ", 300).is_err());
}

#[test]
fn tampered_missing_and_malformed_signatures_are_refused() {
    let body = fixture("webhook_payment_confirmed.json");
    let p = processor();
    let good = signature_header("secret", &body);
    assert_eq!(p.verify(&signed(&good), &body, 0), Ok(()));
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'4').unwrap();
    tampered[at] = b'9';
    assert_eq!(
        p.verify(&signed(&good), &tampered, 0),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        p.verify(&HeaderMap::new(), &body, 0),
        Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
    );
    let not_hex = format!("zz{}", &good[2..]);
    let short = &good[..62];
    let long = format!("{good}00");
    for bad in [not_hex.as_str(), short, long.as_str(), "", "sha256=abc"] {
        assert_eq!(
            p.verify(&signed(bad), &body, 0),
            Err(VerifyError::MalformedHeader(SIGNATURE_HEADER)),
            "{bad:?}"
        );
    }
}

// ---- batches ----

#[test]
fn a_batch_reads_into_one_delivery_per_event() {
    let body = fixture("webhook_batch.json");
    let p = processor();
    let deliveries = p.read_batch(&HeaderMap::new(), &body).unwrap();
    let seen: Vec<_> = deliveries.iter().map(|d| (d.id(), d.kind())).collect();
    assert_eq!(
        seen,
        [
            ("EV01J8Z4K3A1B2", Some("payments.created")),
            ("EV01J8Z4K3A9C1", Some("subscriptions.payment_created")),
            ("EV01J8Z4K3B0D2", Some("mandates.active")),
            ("EV01J8Z4K3C1E3", Some("payouts.paid")),
        ]
    );
    assert_eq!(
        deliveries[0].objects_needed(),
        [ObjectRef {
            kind: PAYMENTS,
            id: PM.into()
        }]
    );
    for d in &deliveries[1..] {
        assert!(d.objects_needed().is_empty(), "{:?}", d.kind());
        assert!(
            matches!(d.map(None), Ok(Mapped::Ignored { .. })),
            "{:?}",
            d.kind()
        );
    }
    // The client library's sample, too.
    let sample = fixture("webhook_client_library_sample.json");
    let ids: Vec<_> = p
        .read_batch(&HeaderMap::new(), &sample)
        .unwrap()
        .iter()
        .map(|d| d.id().to_owned())
        .collect();
    assert_eq!(ids, ["EV00BD05S5VM2T", "EV00BD05TB8K63"]);
}

#[test]
fn read_takes_a_batch_of_exactly_one() {
    let p = processor();
    let one = fixture("webhook_payment_failed.json");
    assert_eq!(
        p.read(&HeaderMap::new(), &one).unwrap().id(),
        "EV01J8ZD1K2L3M"
    );
    let many = fixture("webhook_batch.json");
    let Err(MapError::NotAnEvent(e)) = p.read(&HeaderMap::new(), &many) else {
        panic!("a batch of four was read as one");
    };
    assert!(e.reason.contains("4 events"), "{e}");
}

#[test]
fn empty_missing_and_unreadable_batches_are_refused() {
    let p = processor();
    let h = HeaderMap::new();
    for body in [
        &br#"{"events": []}"#[..],
        br#"{}"#,
        br#"{"events": null}"#,
        br#"{"events": {"id": "EV1"}}"#,
        br#"{"events": [{"action": "created"}]}"#,
        br#"{"events": [{"id": "", "action": "created"}]}"#,
        br#"[1, 2]"#,
    ] {
        assert!(
            matches!(p.read_batch(&h, body), Err(MapError::NotAnEvent(_))),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    for body in [&b"not json"[..], b"{\"events\": [", b"\xff\xfe"] {
        assert!(
            matches!(p.read_batch(&h, body), Err(MapError::NotJson(_))),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn one_malformed_event_is_that_events_error_only() {
    let body = json!({"events": [
        {"id": "EV1", "created_at": "2026-03-04T09:02:11.204Z", "resource_type": "payments", "action": "confirmed", "links": {"payment": PM}},
        {"id": "EV2", "created_at": 17, "resource_type": "payments", "action": "confirmed"},
        {"id": "EV3", "created_at": "yesterday", "resource_type": "payments", "action": "confirmed", "links": {"payment": PM}},
        {"id": "EV4", "created_at": "2026-03-04T09:02:11.204Z", "resource_type": "payments", "action": "confirmed", "links": {}},
    ]})
    .to_string();
    let deliveries = processor()
        .read_batch(&HeaderMap::new(), body.as_bytes())
        .unwrap();
    assert_eq!(deliveries.len(), 4);
    let objects = payment_objects(json!({}));
    assert!(matches!(
        deliveries[0].map_with(None, &objects),
        Ok(Mapped::Linked { .. })
    ));
    let field = |n: usize| match deliveries[n].map_with(None, &objects) {
        Err(MapError::Field {
            processor,
            id,
            error,
            ..
        }) => {
            assert_eq!(processor, "gocardless");
            assert_eq!(id, format!("EV{}", n + 1));
            error.field
        }
        other => panic!("EV{}: {other:?}", n + 1),
    };
    assert_eq!(field(1), "event");
    assert_eq!(field(2), "created_at");
    assert_eq!(field(3), "links.payment");
    assert_eq!(deliveries[1].kind(), None);
}

// ---- mapping ----

/// The composed body the API adapter hands over for a payment, its
/// payment's metadata replaced by `metadata`.
fn payment_body(metadata: Value) -> Vec<u8> {
    let mut payment = json_fixture("payment.json");
    payment["payments"]["metadata"] = metadata;
    let payment = serde_json::to_vec(&payment).unwrap();
    compose(&[
        (PAYMENTS, &payment),
        (MANDATES, &fixture("mandate.json")),
        ("customers", &fixture("customer.json")),
    ])
    .unwrap()
}

fn payment_objects(metadata: Value) -> Objects {
    let mut objects = Objects::default();
    objects.insert(
        ObjectRef {
            kind: PAYMENTS,
            id: PM.into(),
        },
        Some(payment_body(metadata)),
    );
    objects
}

fn mandate_objects() -> Objects {
    let mut objects = Objects::default();
    let body = compose(&[
        (MANDATES, &fixture("mandate.json")),
        ("customers", &fixture("customer.json")),
    ])
    .unwrap();
    objects.insert(
        ObjectRef {
            kind: MANDATES,
            id: MD.into(),
        },
        Some(body),
    );
    objects
}

fn one(name: &str) -> (Vec<u8>, Arc<MetadataKeys>) {
    (fixture(name), Arc::new(MetadataKeys::default()))
}

/// Maps the single event of a fixture with `objects` and `link`.
fn map_fixture(name: &str, objects: &Objects, link: Option<(&str, &str)>) -> Mapped {
    let (body, keys) = one(name);
    let deliveries = read_deliveries(&body, keys).unwrap();
    assert_eq!(deliveries.len(), 1);
    let link = link.map(|(a, i)| (AccountId::parse(a).unwrap(), InvoiceId::parse(i).unwrap()));
    deliveries[0]
        .map_with(link, objects)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn linked_events(mapped: &Mapped) -> Vec<Value> {
    match mapped {
        Mapped::Linked { events, .. } | Mapped::Events { events, .. } => {
            events.iter().map(|e| e.to_json()).collect()
        }
        other => panic!("{other:?}"),
    }
}

fn base(id: &str, at: &str, kind: &str) -> Value {
    json!({"id": id, "at": at, "account": format!("gocardless:{CU}"), "type": kind})
}

fn with(mut v: Value, fields: Value) -> Value {
    for (k, f) in fields.as_object().unwrap() {
        v[k] = f.clone();
    }
    v
}

#[test]
fn every_payment_fixture_maps_to_its_canonical_events() {
    let objects = payment_objects(json!({}));
    let own = format!("gocardless:{PM}");
    let cases = [
        (
            "webhook_payment_created.json",
            vec![with(
                base(
                    "gocardless:EV01J8Z4K3A1B2",
                    "2026-02-20T09:14:03.512Z",
                    "invoice_issued",
                ),
                json!({"invoice": own, "amount": "45.00", "currency": "GBP", "due": "2026-03-02", "number": "WINEBOX001"}),
            )],
        ),
        (
            "webhook_payment_confirmed.json",
            vec![with(
                base(
                    "gocardless:EV01J8ZC5D6E7F",
                    "2026-03-04T09:02:11.204Z",
                    "payment_succeeded",
                ),
                json!({"invoice": own, "amount": "45.00", "currency": "GBP", "payment": own}),
            )],
        ),
        (
            "webhook_payment_failed_retrying.json",
            vec![with(
                base(
                    "gocardless:EV01J8ZC8G9H0J",
                    "2026-03-04T09:02:12.881Z",
                    "payment_failed",
                ),
                json!({"invoice": own, "amount": "45.00", "currency": "GBP", "will_retry": true,
                       "reason": "insufficient_funds: The customer's account had insufficient funds to make this payment."}),
            )],
        ),
        (
            "webhook_payment_failed.json",
            vec![with(
                base(
                    "gocardless:EV01J8ZD1K2L3M",
                    "2026-03-04T09:02:13.090Z",
                    "payment_failed",
                ),
                json!({"invoice": own, "amount": "45.00", "currency": "GBP",
                       "reason": "insufficient_funds: The customer's account had insufficient funds to make this payment."}),
            )],
        ),
        (
            "webhook_payment_charged_back.json",
            vec![
                with(
                    base(
                        "gocardless:EV01J90A4N5P6Q",
                        "2026-04-15T10:30:45Z",
                        "dispute_opened",
                    ),
                    json!({"invoice": own, "dispute": own, "amount": "45.00", "currency": "GBP"}),
                ),
                with(
                    base(
                        "gocardless:EV01J90A4N5P6Q:1",
                        "2026-04-15T10:30:45Z",
                        "dispute_closed",
                    ),
                    json!({"dispute": own, "outcome": "lost"}),
                ),
            ],
        ),
        (
            "webhook_payment_chargeback_cancelled.json",
            vec![with(
                base(
                    "gocardless:EV01J90F7R8S9T",
                    "2026-04-22T08:11:02.310Z",
                    "payment_succeeded",
                ),
                json!({"invoice": own, "amount": "45.00", "currency": "GBP", "payment": format!("{own}:chargeback_cancelled")}),
            )],
        ),
        (
            "webhook_payment_late_failure_settled.json",
            vec![with(
                base(
                    "gocardless:EV01J90K0U1V2W",
                    "2026-03-12T07:45:19.644Z",
                    "payment_refunded",
                ),
                json!({"invoice": own, "amount": "45.00", "currency": "GBP", "refund": format!("{own}:late_failure")}),
            )],
        ),
        (
            "webhook_payment_cancelled.json",
            vec![with(
                base(
                    "gocardless:EV01J8Z6X3Y4Z5",
                    "2026-02-21T16:20:00Z",
                    "invoice_voided",
                ),
                json!({"invoice": own}),
            )],
        ),
    ];
    for (name, expected) in cases {
        let mapped = map_fixture(name, &objects, None);
        assert_eq!(linked_events(&mapped), expected, "{name}");
        let Mapped::Linked { account, hints, .. } = &mapped else {
            panic!("{name}: {mapped:?}");
        };
        assert_eq!(account.id.as_str(), format!("gocardless:{CU}"));
        assert_eq!(
            *hints,
            AccountHints {
                customer: format!("gocardless:{CU}"),
                named: None,
                emails: vec![EmailAddress::parse("frank.osborne@example.com").unwrap()],
            }
        );
        // Every event reads back as itself.
        for e in linked_events(&mapped) {
            assert_eq!(
                crate::domain::Event::from_json(&e).unwrap().to_json(),
                e,
                "{name}"
            );
        }
    }
}

#[test]
fn the_customer_becomes_an_account_named_by_its_company() {
    let mapped = map_fixture(
        "webhook_payment_confirmed.json",
        &payment_objects(json!({})),
        None,
    );
    let Mapped::Linked { account, .. } = mapped else {
        panic!("{mapped:?}");
    };
    assert_eq!(account.name, "Hamilton Trading Ltd.");
    assert_eq!(account.contacts.len(), 1);
    let contact = &account.contacts[0];
    assert_eq!(contact.name, "Frank Osborne");
    assert_eq!(contact.email.as_str(), "frank.osborne@example.com");
    assert_eq!(contact.roles, [Role::Billing, Role::Primary].into());
    assert_eq!(contact.phone, Some(Phone::parse("+442079460958").unwrap()));
}

#[test]
fn a_customer_without_company_phone_or_email_still_maps() {
    let mut customer = json_fixture("customer.json");
    customer["customers"]["company_name"] = Value::Null;
    customer["customers"]["phone_number"] = json!("020 7946 0958");
    let body = compose(&[
        (MANDATES, &fixture("mandate.json")),
        ("customers", &serde_json::to_vec(&customer).unwrap()),
    ])
    .unwrap();
    let mut objects = Objects::default();
    objects.insert(
        ObjectRef {
            kind: MANDATES,
            id: MD.into(),
        },
        Some(body),
    );
    let Mapped::Linked { account, .. } =
        map_fixture("webhook_mandate_cancelled.json", &objects, None)
    else {
        panic!()
    };
    assert_eq!(account.name, "Frank Osborne");
    assert_eq!(account.contacts[0].phone, None, "not E.164: left for staff");

    for field in ["given_name", "family_name", "email"] {
        customer["customers"][field] = Value::Null;
    }
    let body = compose(&[
        (MANDATES, &fixture("mandate.json")),
        ("customers", &serde_json::to_vec(&customer).unwrap()),
    ])
    .unwrap();
    objects.insert(
        ObjectRef {
            kind: MANDATES,
            id: MD.into(),
        },
        Some(body),
    );
    let Mapped::Linked { account, hints, .. } =
        map_fixture("webhook_mandate_cancelled.json", &objects, None)
    else {
        panic!()
    };
    assert_eq!(account.name, format!("gocardless:{CU}"));
    assert!(account.contacts.is_empty());
    assert!(hints.emails.is_empty());
}

#[test]
fn a_cancelled_mandate_stops_the_direct_debit() {
    let mapped = map_fixture("webhook_mandate_cancelled.json", &mandate_objects(), None);
    assert_eq!(
        linked_events(&mapped),
        [with(
            base(
                "gocardless:EV01J91B6C7D8E",
                "2026-05-06T06:03:27.118Z",
                "direct_debit_stopped"
            ),
            json!({"mandate": format!("gocardless:{MD}"),
                   "reason": "bank_account_closed: The customer's bank account was closed."}),
        )]
    );
    let (body, keys) = one("webhook_mandate_cancelled.json");
    let d = &read_deliveries(&body, keys).unwrap()[0];
    assert_eq!(
        d.objects_needed(),
        [ObjectRef {
            kind: MANDATES,
            id: MD.into()
        }]
    );
    assert!(d.links_needed_with(&mandate_objects()).is_empty());
}

#[test]
fn failed_and_expired_mandates_stop_it_and_others_are_ignored() {
    let body = |action: &str| {
        json!({"events": [{"id": "EV9", "created_at": "2026-05-06T06:03:27.118Z",
            "resource_type": "mandates", "action": action, "links": {"mandate": MD},
            "details": {"origin": "gocardless", "cause": format!("mandate_{action}")}}]})
        .to_string()
    };
    for action in ["failed", "expired", "cancelled"] {
        let body = body(action);
        let d = &processor()
            .read_batch(&HeaderMap::new(), body.as_bytes())
            .unwrap()[0];
        let events = linked_events(&d.map_with(None, &mandate_objects()).unwrap());
        assert_eq!(events[0]["type"], "direct_debit_stopped", "{action}");
        assert_eq!(events[0]["reason"], format!("mandate_{action}"));
    }
    for action in ["created", "active", "reinstated", "replaced", "transferred"] {
        let body = body(action);
        let d = &processor()
            .read_batch(&HeaderMap::new(), body.as_bytes())
            .unwrap()[0];
        assert!(d.objects_needed().is_empty(), "{action}");
        assert!(
            matches!(d.map(None), Ok(Mapped::Ignored { .. })),
            "{action}"
        );
    }
}

#[test]
fn actions_that_move_no_money_are_ignored_without_reading_the_payment() {
    for action in [
        "paid_out",
        "chargeback_settled",
        "resubmission_requested",
        "submitted",
        "customer_approval_granted",
        "surcharge_fee_debited",
        "something_new",
    ] {
        let body = json!({"events": [{"id": "EV9", "created_at": "2026-05-06T06:03:27.118Z",
            "resource_type": "payments", "action": action, "links": {"payment": PM}, "details": {}}]})
        .to_string();
        let d = &processor()
            .read_batch(&HeaderMap::new(), body.as_bytes())
            .unwrap()[0];
        assert!(d.objects_needed().is_empty(), "{action}");
        let Ok(Mapped::Ignored { reason }) = d.map(None) else {
            panic!("{action}");
        };
        assert!(!reason.is_empty());
    }
}

#[test]
fn a_payment_cancelled_because_the_mandate_stopped_is_still_owed() {
    let body = json!({"events": [{"id": "EV9", "created_at": "2026-05-06T06:03:27.118Z",
        "resource_type": "payments", "action": "cancelled", "links": {"payment": PM},
        "details": {"origin": "bank", "cause": "mandate_cancelled",
                    "description": "The mandate for this payment was cancelled."}}]})
    .to_string();
    let d = &processor()
        .read_batch(&HeaderMap::new(), body.as_bytes())
        .unwrap()[0];
    let Ok(Mapped::Ignored { reason }) = d.map_with(None, &payment_objects(json!({}))) else {
        panic!()
    };
    assert!(reason.contains("still owed"), "{reason}");
}

#[test]
fn customer_approval_denied_fails_the_payment_for_good() {
    let body = json!({"events": [{"id": "EV9", "created_at": "2026-05-06T06:03:27.118Z",
        "resource_type": "payments", "action": "customer_approval_denied", "links": {"payment": PM},
        "details": {"origin": "customer", "cause": "customer_approval_denied",
                    "description": "The customer denied approval for this payment", "will_attempt_retry": true}}]})
    .to_string();
    let d = &processor()
        .read_batch(&HeaderMap::new(), body.as_bytes())
        .unwrap()[0];
    let events = linked_events(&d.map_with(None, &payment_objects(json!({}))).unwrap());
    assert_eq!(events[0]["type"], "payment_failed");
    assert_eq!(events[0].get("will_retry"), None);
}

#[test]
fn a_payment_whose_metadata_names_an_invoice_pays_that_invoice() {
    let objects =
        payment_objects(json!({"invoice": "in_1Q2w3E", "pastdue_account": "acct_hamilton"}));
    let (body, keys) = one("webhook_payment_confirmed.json");
    let d = &read_deliveries(&body, keys).unwrap()[0];
    assert_eq!(
        d.links_needed_with(&objects),
        [invoice_link_key("in_1Q2w3E"), format!("gocardless:{PM}")]
    );
    assert!(
        d.links_needed_with(&payment_objects(json!({}))).is_empty(),
        "no invoice named"
    );
    assert!(
        d.links_needed_with(&Objects::default()).is_empty(),
        "nothing read"
    );

    let link = Some(("acct_hamilton", "in_1Q2w3E"));
    let mapped = map_fixture("webhook_payment_confirmed.json", &objects, link);
    assert_eq!(
        mapped,
        Mapped::Events {
            events: vec![
                crate::domain::Event::from_json(&json!({
                    "id": "gocardless:EV01J8ZC5D6E7F", "at": "2026-03-04T09:02:11.204Z",
                    "account": "acct_hamilton", "type": "payment_succeeded", "invoice": "in_1Q2w3E",
                    "amount": "45.00", "currency": "GBP", "payment": format!("gocardless:{PM}")
                }))
                .unwrap()
            ],
            account: None,
        }
    );
    // Its creation issues nothing: the invoice was issued where it was.
    let created = map_fixture("webhook_payment_created.json", &objects, link);
    let Mapped::Ignored { reason } = created else {
        panic!("{created:?}")
    };
    assert!(reason.contains("in_1Q2w3E"), "{reason}");
    // Its failure and chargeback land on the linked invoice.
    let failed = map_fixture("webhook_payment_failed.json", &objects, link);
    assert_eq!(linked_events(&failed)[0]["invoice"], "in_1Q2w3E");
    assert_eq!(linked_events(&failed)[0]["account"], "acct_hamilton");
    let charged = map_fixture("webhook_payment_charged_back.json", &objects, link);
    assert_eq!(linked_events(&charged)[0]["invoice"], "in_1Q2w3E");
    // Cancelling a payment of a linked invoice voids nothing.
    let cancelled = map_fixture("webhook_payment_cancelled.json", &objects, link);
    assert!(matches!(cancelled, Mapped::Ignored { .. }), "{cancelled:?}");

    // Unlinked (the named invoice is unknown), it is its own invoice, and
    // the account it names is a hint.
    let mapped = map_fixture("webhook_payment_created.json", &objects, None);
    let Mapped::Linked { events, hints, .. } = mapped else {
        panic!()
    };
    assert_eq!(events[0].to_json()["invoice"], format!("gocardless:{PM}"));
    assert_eq!(
        hints.named,
        Some(AccountId::parse("acct_hamilton").unwrap())
    );
}

#[test]
fn the_customers_named_account_comes_first_and_bad_names_are_no_hint() {
    let mut customer = json_fixture("customer.json");
    customer["customers"]["metadata"] = json!({"pastdue_account": "acct_from_customer"});
    let mut payment = json_fixture("payment.json");
    payment["payments"]["metadata"] = json!({"pastdue_account": "acct_from_payment"});
    let compose_with = |customer: &Value| {
        compose(&[
            (PAYMENTS, &serde_json::to_vec(&payment).unwrap()),
            (MANDATES, &fixture("mandate.json")),
            ("customers", &serde_json::to_vec(customer).unwrap()),
        ])
        .unwrap()
    };
    let mut objects = Objects::default();
    let key = ObjectRef {
        kind: PAYMENTS,
        id: PM.into(),
    };
    objects.insert(key.clone(), Some(compose_with(&customer)));
    let Mapped::Linked { hints, .. } =
        map_fixture("webhook_payment_confirmed.json", &objects, None)
    else {
        panic!()
    };
    assert_eq!(hints.named.unwrap().as_str(), "acct_from_customer");

    customer["customers"]["metadata"] = json!({"pastdue_account": "not an id#"});
    objects.insert(key, Some(compose_with(&customer)));
    let Mapped::Linked { hints, .. } =
        map_fixture("webhook_payment_confirmed.json", &objects, None)
    else {
        panic!()
    };
    assert_eq!(hints.named.unwrap().as_str(), "acct_from_payment");
}

#[test]
fn configured_metadata_keys_are_read() {
    let p = processor().with_keys(MetadataKeys {
        invoice: "erp_invoice".into(),
        account: "erp_customer".into(),
    });
    assert_eq!(p.keys().invoice, "erp_invoice");
    let body = fixture("webhook_payment_confirmed.json");
    let d = &p.read_batch(&HeaderMap::new(), &body).unwrap()[0];
    let objects = payment_objects(json!({"erp_invoice": "INV-7", "invoice": "ignored"}));
    assert_eq!(
        d.links_needed_with(&objects),
        [invoice_link_key("INV-7"), format!("gocardless:{PM}")]
    );
}

#[test]
fn an_object_not_read_or_not_found_is_an_error() {
    let (body, keys) = one("webhook_payment_confirmed.json");
    let d = &read_deliveries(&body, keys).unwrap()[0];
    let field = |objects: &Objects| match d.map_with(None, objects) {
        Err(MapError::Field { error, .. }) => error,
        other => panic!("{other:?}"),
    };
    let e = field(&Objects::default());
    assert_eq!(e.field, "links.payment");
    assert!(e.reason.contains("was not read"), "{e}");
    assert!(matches!(d.map(None), Err(MapError::Field { .. })));

    let mut objects = Objects::default();
    objects.insert(
        ObjectRef {
            kind: PAYMENTS,
            id: PM.into(),
        },
        None,
    );
    let e = field(&objects);
    assert!(e.reason.contains("has no payments"), "{e}");

    let mut mandates = Objects::default();
    mandates.insert(
        ObjectRef {
            kind: MANDATES,
            id: MD.into(),
        },
        None,
    );
    let (body, keys) = one("webhook_mandate_cancelled.json");
    let d = &read_deliveries(&body, keys).unwrap()[0];
    assert!(matches!(
        d.map_with(None, &mandates),
        Err(MapError::Field { .. })
    ));
}

#[test]
fn malformed_objects_name_their_field() {
    let (body, keys) = one("webhook_payment_confirmed.json");
    let d = &read_deliveries(&body, keys).unwrap()[0];
    let cases: [(&str, Value, &str); 7] = [
        ("amount", json!("45.00"), "payments"),
        ("amount", json!(-1), "payments.amount"),
        ("currency", json!("gbp"), "payments.currency"),
        ("currency", json!("XXZ"), "payments.currency"),
        ("charge_date", json!("2 March"), "payments.charge_date"),
        ("id", json!("PM_other"), "payments.id"),
        (
            "links",
            json!({"mandate": "MD_other"}),
            "payments.links.mandate",
        ),
    ];
    for (key, value, field) in cases {
        let mut payment = json_fixture("payment.json");
        payment["payments"][key] = value.clone();
        let composed = compose(&[
            (PAYMENTS, &serde_json::to_vec(&payment).unwrap()),
            (MANDATES, &fixture("mandate.json")),
            ("customers", &fixture("customer.json")),
        ])
        .unwrap();
        let mut objects = Objects::default();
        objects.insert(
            ObjectRef {
                kind: PAYMENTS,
                id: PM.into(),
            },
            Some(composed),
        );
        // `created` reads the charge date too.
        let (created, keys) = one("webhook_payment_created.json");
        let c = &read_deliveries(&created, keys).unwrap()[0];
        let result = if key == "charge_date" {
            c.map_with(None, &objects)
        } else {
            d.map_with(None, &objects)
        };
        match result {
            Err(MapError::Field { error, .. }) => {
                assert_eq!(error.field, field, "{key}={value}: {error}")
            }
            other => panic!("{key}={value}: {other:?}"),
        }
    }
    for broken in [&b"{}"[..], b"[]", b"not json", br#"{"payments": 1}"#] {
        let mut objects = Objects::default();
        objects.insert(
            ObjectRef {
                kind: PAYMENTS,
                id: PM.into(),
            },
            Some(broken.to_vec()),
        );
        assert!(
            matches!(d.map_with(None, &objects), Err(MapError::Field { .. })),
            "{}",
            String::from_utf8_lossy(broken)
        );
    }
}

#[tokio::test]
async fn configure_reads_the_metadata_keys_of_the_settings() {
    assert_eq!(processor().keys(), &MetadataKeys::default());
    assert_eq!(GocardlessProcessor::NAME, "gocardless");
    assert_eq!(GocardlessProcessor::PATH, "/gocardless");
    assert!(processor().verifier().is_some());
    let vars = |k: &str| match k {
        "INVOICE_METADATA_KEY" => Some("erp_invoice".to_owned()),
        "ACCOUNT_METADATA_KEY" => Some("erp_customer".to_owned()),
        _ => None,
    };
    let settings =
        crate::config::IngestSettings::load(vars, &aws_config::SdkConfig::builder().build())
            .await
            .unwrap();
    let configured = processor().configure(&settings).unwrap();
    assert_eq!(
        configured.keys(),
        &MetadataKeys {
            invoice: "erp_invoice".into(),
            account: "erp_customer".into(),
        }
    );
}

/// A small deterministic generator (xorshift), so the test needs no
/// crate.
fn random_bytes(seed: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 24) as u8
        })
        .collect()
}

#[test]
fn random_bytes_and_mutated_fixtures_never_panic() {
    let p = processor();
    let h = HeaderMap::new();
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let objects = payment_objects(json!({"invoice": "in_1"}));
    let exercise = |body: &[u8]| {
        let _ = p.verify(&signed("00"), body, 0);
        if let Ok(deliveries) = p.read_batch(&h, body) {
            for d in deliveries {
                let _ = (d.id(), d.kind(), d.objects_needed());
                let _ = d.links_needed_with(&objects);
                let _ = d.map_with(None, &objects);
                let _ = d.map(None);
            }
        }
        let _ = p.read(&h, body);
    };
    for n in 0..2_000 {
        let len = (n % 97) + 1;
        exercise(&random_bytes(&mut seed, len));
    }
    let names = [
        "webhook_batch.json",
        "webhook_payment_failed.json",
        "webhook_mandate_cancelled.json",
    ];
    for name in names {
        let body = fixture(name);
        for n in 0..body.len() {
            let mut mutated = body.clone();
            mutated[n] = random_bytes(&mut seed, 1)[0];
            exercise(&mutated);
            exercise(&body[..n]);
        }
    }
}
