use base64::Engine as _;
use lambda_http::http::{HeaderMap, HeaderValue};

use super::standard::signature::StandardVerifier;
use super::stripe::signature::{StripeVerifier, parse_signature_header, signature_header};
use super::verify::{VerifyError, WebhookVerifier, hmac_sha256};

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_standard_webhooks_vector_verifies() {
    let v = StandardVerifier::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", 300).unwrap();
    let body = br#"{"email":"test@example.com","username":"test_user"}"#;
    let h = headers(&[
        ("webhook-id", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"),
        ("webhook-timestamp", "1649367553"),
        (
            "webhook-signature",
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        ),
    ]);
    assert_eq!(v.verify(&h, body, 1_649_367_553), Ok(()));
    assert_eq!(
        v.verify(&h, body, 1_649_367_553 + 301),
        Err(VerifyError::Stale { tolerance: 300 })
    );
    assert_eq!(
        v.verify(&h, b"{}", 1_649_367_553),
        Err(VerifyError::BadSignature)
    );
    let other = headers(&[
        ("webhook-id", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"),
        ("webhook-timestamp", "1649367553"),
        (
            "webhook-signature",
            "v1,AAAA v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        ),
    ]);
    assert_eq!(
        v.verify(&other, body, 1_649_367_553),
        Ok(()),
        "any listed signature may match"
    );
}

#[test]
fn stripe_signatures_verify_with_any_secret_during_rotation() {
    let (old, new) = ("whsec_old_secret", "whsec_new_secret");
    let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    let t = 1_767_279_600_i64;
    let sig = |secret: &str| {
        hex(&hmac_sha256(
            secret.as_bytes(),
            &[t.to_string().as_bytes(), b".", body],
        ))
    };
    let both = StripeVerifier::new(&format!("{new}, {old}"), 300).unwrap();
    let only_new = StripeVerifier::new(new, 300).unwrap();
    let signed_old = headers(&[("stripe-signature", &format!("t={t},v1={}", sig(old)))]);
    assert_eq!(both.verify(&signed_old, body, t + 10), Ok(()));
    assert_eq!(
        only_new.verify(&signed_old, body, t + 10),
        Err(VerifyError::BadSignature)
    );
    let two = headers(&[(
        "stripe-signature",
        &format!("t={t},v1={},v1={},v0=ignored", "00".repeat(32), sig(new)),
    )]);
    assert_eq!(only_new.verify(&two, body, t), Ok(()));
    assert_eq!(
        only_new.verify(&two, body, t - 301),
        Err(VerifyError::Stale { tolerance: 300 })
    );
    assert_eq!(
        only_new.verify(&headers(&[]), body, t),
        Err(VerifyError::MissingHeader("stripe-signature"))
    );
}

/// A known answer computed with Python's `hmac` module, independently of
/// this crate: the header `stripe listen` forwards carries Stripe's `v1`
/// and a test-mode `v0` signed with another key, as live Stripe does.
#[test]
fn a_delivery_signed_as_stripe_and_its_cli_sign_it_verifies() {
    let secret = "whsec_8a1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tU";
    let body = br#"{"id":"evt_1QxCliTrigger","object":"event","type":"invoice.payment_failed"}"#;
    let t = 1_795_000_000;
    let v1 = "7fd8b4becdbb34d62e66572a41314ede4c47849c8966406e6eb9886965423adb";
    let v0 = "64faee0fd48551b4c98e82ce767cb0df42d3508e90dec2fbd8f4f7abbe20fa51";
    assert_eq!(signature_header(secret, t, body), format!("t={t},v1={v1}"));
    let forwarded = format!("t={t},v1={v1},v0={v0}");
    let verifier = StripeVerifier::new(secret, 300).unwrap();
    let h = headers(&[("stripe-signature", &forwarded)]);
    assert_eq!(verifier.verify(&h, body, t + 299), Ok(()));
    assert_eq!(
        verifier.verify(&h, &body[1..], t),
        Err(VerifyError::BadSignature)
    );
    // The v0 key is not the endpoint's secret: alone it is refused.
    let v0_only = format!("t={t},v1={v0}");
    assert_eq!(
        verifier.verify(&headers(&[("stripe-signature", &v0_only)]), body, t),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn stripe_signature_headers_are_parsed_strictly() {
    let ok = parse_signature_header("t=12,v1=ab,v1=cd,v0=ef").unwrap();
    assert_eq!((ok.timestamp, ok.v1), ("12", vec!["ab", "cd"]));
    for bad in [
        "",
        "t=12",
        "v1=ab",
        "t=,v1=ab",
        "t=1x,v1=ab",
        "t=1,t=2,v1=ab",
        "garbage",
        "t=1;v1=ab",
    ] {
        assert!(parse_signature_header(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn secrets_never_show_in_debug_output() {
    let v = StripeVerifier::new("whsec_very_secret", 300).unwrap();
    assert!(!format!("{v:?}").contains("very_secret"));
    let s = StandardVerifier::new(
        &format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(b"k3y")
        ),
        300,
    )
    .unwrap();
    assert!(!format!("{s:?}").contains("k3y"));
    assert!(StandardVerifier::new("whsec_***not base64***", 300).is_err());
}

mod stripe_mapping {
    use serde_json::Value;

    use crate::domain::{AccountId, EventKind, InvoiceId};
    use crate::processors::Mapped;
    use crate::processors::stripe::mapping::StripeDelivery;
    use crate::processors::{Delivery, MapError};

    fn fixture(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../events/stripe/{name}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn linked() -> Option<(AccountId, InvoiceId)> {
        Some((
            AccountId::parse("cus_Whitfield01").unwrap(),
            InvoiceId::parse("in_1QhZ3lLkdIwHu7ixWhf01").unwrap(),
        ))
    }

    fn map(body: &Value, link: Option<(AccountId, InvoiceId)>) -> Result<Mapped, MapError> {
        let bytes = serde_json::to_vec(body).unwrap();
        StripeDelivery::read(&bytes)?.map(link)
    }

    fn links(body: &Value) -> Vec<String> {
        let bytes = serde_json::to_vec(body).unwrap();
        StripeDelivery::read(&bytes).unwrap().links_needed()
    }

    fn events(name: &str, link: Option<(AccountId, InvoiceId)>) -> Vec<serde_json::Value> {
        let body = fixture(name);
        match map(&body, link).unwrap() {
            Mapped::Events { events, .. } => events.iter().map(|e| e.to_json()).collect(),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn invoices_map_with_exact_amounts_and_the_customer_as_a_new_account() {
        let body = fixture("invoice.finalized");
        let Mapped::Events {
            events: issued,
            account,
        } = map(&body, None).unwrap()
        else {
            panic!()
        };
        let e = issued[0].to_json();
        assert_eq!(e["type"], "invoice_issued");
        assert_eq!(
            (
                e["amount"].as_str(),
                e["currency"].as_str(),
                e["due"].as_str()
            ),
            (Some("120.00"), Some("USD"), Some("2026-01-15"))
        );
        assert_eq!(e["account"], "cus_Whitfield01");
        assert_eq!(e["id"], "stripe:evt_1QhZ3mLkdIwHu7ix0a1b2c3d:0");
        let account = account.unwrap();
        assert_eq!(account.name, "Whitfield Hosting");
        assert_eq!(account.contacts[0].email.as_str(), "dana@whitfield.example");
        assert_eq!(account.contacts[0].phone, None, "Stripe sent none");
        // The customer's phone, when it reads as E.164; else none.
        for (typed, kept) in [
            ("+1 555 010 0199", Some("+15550100199")),
            ("555-0199", None),
        ] {
            let mut with_phone = body.clone();
            with_phone["data"]["object"]["customer_phone"] = typed.into();
            let Mapped::Events {
                account: Some(account),
                ..
            } = map(&with_phone, None).unwrap()
            else {
                panic!()
            };
            assert_eq!(account.contacts[0].phone.as_ref().map(|p| p.as_str()), kept);
        }
        for name in [
            "invoice.voided",
            "invoice.marked_uncollectible",
            "invoice.payment_failed",
        ] {
            assert_eq!(
                events(name, None)[0],
                issued[0]
                    .to_json()
                    .as_object()
                    .map(|o| {
                        let mut o = o.clone();
                        o.insert("id".into(), events(name, None)[0]["id"].clone());
                        o.insert("at".into(), events(name, None)[0]["at"].clone());
                        serde_json::Value::Object(o)
                    })
                    .unwrap(),
                "{name} restates the invoice first"
            );
        }
        assert_eq!(events("invoice.voided", None)[1]["type"], "invoice_voided");
        assert_eq!(
            events("invoice.marked_uncollectible", None)[1]["type"],
            "invoice_written_off"
        );
        let failed = &events("invoice.payment_failed", None)[1];
        assert_eq!(
            (failed["type"].as_str(), failed["reason"].as_str()),
            (Some("payment_failed"), Some("payment attempt 2 failed"))
        );
        let card = &events("customer.source.expiring", None)[0];
        assert_eq!(
            (card["exp_month"].as_i64(), card["exp_year"].as_i64()),
            (Some(2), Some(2026))
        );
        // The PaymentMethods way: a card saved, then made the default.
        let saved = &events("payment_method.attached", None)[0];
        assert_eq!(
            (
                saved["type"].as_str(),
                saved["card"].as_str(),
                saved["exp_month"].as_i64(),
                saved["exp_year"].as_i64()
            ),
            (
                Some("card_saved"),
                Some("pm_1QhZ3lLkdIwHu7ixCard01"),
                Some(2),
                Some(2026)
            )
        );
        let default = &events("customer.updated", None)[0];
        assert_eq!(
            (default["type"].as_str(), default["card"].as_str()),
            (Some("default_card"), Some("pm_1QhZ3lLkdIwHu7ixCard01"))
        );
    }

    /// On endive (basil and later) the payment is `invoice_payment.paid`;
    /// `invoice.paid` and `invoice.payment_succeeded` only restate the
    /// invoice, so the payment counts once.
    #[test]
    fn the_payment_comes_once_from_invoice_payment_paid() {
        let body = fixture("invoice_payment.paid");
        assert_eq!(links(&body), ["invoice:in_1QhZ3lLkdIwHu7ixWhf01"]);
        assert!(
            matches!(map(&body, None).unwrap(), Mapped::WaitingForLink { .. }),
            "it waits for its invoice"
        );
        let paid = events("invoice_payment.paid", linked());
        assert_eq!(paid.len(), 1, "{paid:?}");
        assert_eq!(
            (
                paid[0]["type"].as_str(),
                paid[0]["amount"].as_str(),
                paid[0]["invoice"].as_str(),
                paid[0]["payment"].as_str()
            ),
            (
                Some("payment_succeeded"),
                Some("120.00"),
                Some("in_1QhZ3lLkdIwHu7ixWhf01"),
                Some("pi_3QhZ3lLkdIwHu7ix1AbCdEf")
            ),
            "the payment intent its disputes and refunds will name"
        );
        let issued = &events("invoice.finalized", None)[0];
        let mut ids = Vec::new();
        for name in ["invoice.paid", "invoice.payment_succeeded"] {
            let restated = events(name, None);
            assert_eq!(restated.len(), 1, "{name}: {restated:?}");
            assert_eq!(restated[0]["type"], "invoice_issued", "{name}");
            assert_eq!(
                (&restated[0]["amount"], &restated[0]["due"]),
                (&issued["amount"], &issued["due"]),
                "{name} restates the invoice"
            );
            ids.push(restated[0]["id"].clone());
        }
        assert_ne!(ids[0], ids[1]);
    }

    #[test]
    fn disputes_and_refunds_wait_for_their_payment_link() {
        for name in [
            "charge.dispute.created",
            "charge.dispute.closed",
            "refund.created",
            "charge.refunded",
        ] {
            let body = fixture(name);
            assert!(
                links(&body).contains(&"pi_3QhZ3lLkdIwHu7ix1AbCdEf".to_owned()),
                "{name}"
            );
            if name == "charge.refunded" {
                continue; // it names its payment, but lists no refunds (below)
            }
            assert!(
                matches!(map(&body, None).unwrap(), Mapped::WaitingForLink { .. }),
                "{name}"
            );
        }
        let opened = &events("charge.dispute.created", linked())[0];
        assert_eq!(
            (
                opened["type"].as_str(),
                opened["amount"].as_str(),
                opened["invoice"].as_str()
            ),
            (
                Some("dispute_opened"),
                Some("120.00"),
                Some("in_1QhZ3lLkdIwHu7ixWhf01")
            )
        );
        assert_eq!(
            events("charge.dispute.closed", linked())[0]["outcome"],
            "lost"
        );
        // Stripe lists no refunds on the charge (since 2022-11-15): each
        // refund counts from its refund.* event.
        for link in [None, linked()] {
            let Mapped::Ignored { reason } = map(&fixture("charge.refunded"), link).unwrap() else {
                panic!("charge.refunded lists no refunds");
            };
            assert!(reason.contains("refund.created"), "{reason}");
        }
        let refunds = events("refund.created", linked());
        assert_eq!(refunds.len(), 1, "succeeded: nothing given back");
        let refund = &refunds[0];
        assert_eq!(
            (
                refund["type"].as_str(),
                refund["amount"].as_str(),
                refund["refund"].as_str()
            ),
            (
                Some("payment_refunded"),
                Some("30.00"),
                Some("re_3QhZ3lLkdIwHu7ix0Ref01")
            )
        );
        // The credit note behind the refund lowers what the invoice asks.
        let credited = events("invoice.updated", None);
        assert_eq!(credited.len(), 1, "{credited:?}");
        assert_eq!(
            (credited[0]["type"].as_str(), credited[0]["amount"].as_str()),
            (Some("invoice_issued"), Some("90.00"))
        );
    }

    #[test]
    fn inquiries_alert_staff_other_types_are_ignored_and_bad_objects_are_errors() {
        let mut inquiry = fixture("charge.dispute.created");
        inquiry["data"]["object"]["status"] = "warning_needs_response".into();
        let Mapped::Alert(alert) = map(&inquiry, linked()).unwrap() else {
            panic!("an inquiry alerts staff");
        };
        assert_eq!(alert.action, "dispute_alert");
        assert!(alert.recipients.is_empty(), "staff only");
        assert!(
            alert.reason.contains("no funds withdrawn"),
            "{}",
            alert.reason
        );
        assert_eq!(alert.invoices.len(), 1);
        assert!(matches!(
            map(&inquiry, None).unwrap(),
            Mapped::WaitingForLink { .. }
        ));
        let mut deleted = fixture("customer.created");
        deleted["type"] = "customer.deleted".into();
        assert!(matches!(
            map(&deleted, None).unwrap(),
            Mapped::Ignored { .. }
        ));
        // Stripe's customer always has invoice settings: a new customer is
        // an account, and has no default card yet.
        let Mapped::Events {
            events: created,
            account,
        } = map(&fixture("customer.created"), None).unwrap()
        else {
            panic!("customer.created names the default card");
        };
        let account = account.unwrap();
        assert_eq!(
            (account.name.as_str(), account.contacts[0].email.as_str()),
            ("Whitfield Hosting", "dana@whitfield.example")
        );
        let default = created[0].to_json();
        assert_eq!(
            (default["type"].as_str(), &default["card"]),
            (Some("default_card"), &serde_json::Value::Null)
        );
        let mut bad = fixture("invoice.finalized");
        bad["data"]["object"]["currency"] = "zzz".into();
        let err = map(&bad, None).unwrap_err();
        assert!(err.to_string().contains("currency"), "{err}");
        assert!(matches!(
            map(&serde_json::json!({"id": "evt_1"}), None),
            Err(MapError::NotAnEvent(_))
        ));
        let EventKind::InvoiceIssued { .. } =
            crate::domain::Event::from_json(&events("invoice.finalized", None)[0])
                .unwrap()
                .kind
        else {
            panic!()
        };
    }
}
