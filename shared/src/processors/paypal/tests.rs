//! PayPal: verification against a key and certificate made here, and every
//! fixture in `events/paypal/` mapped to the canonical events it means.

use std::path::PathBuf;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use lambda_http::http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::PaypalProcessor;
use super::mapping::PaypalDelivery;
use super::signature::{self, SigningCertificate};
use crate::domain::{AccountId, EmailAddress, Event, InvoiceId};
use crate::processors::verify::VerifyError;
use crate::processors::{AccountHints, Delivery, FromSecret, MapError, Mapped, Processor};

// ---- a signer ---------------------------------------------------------------

const WEBHOOK: &str = "8PT597110X687430LKGECATA";
const ROTATED: &str = "1JE4291016473214C";
/// 2025-03-10T14:02:07Z.
const NOW: i64 = 1_741_615_327;
const TIME: &str = "2025-03-10T14:02:07Z";
const TRANSMISSION: &str = "69cd13f0-d67a-11e5-baa3-778b53f4ae55";
const CERT_URL: &str =
    "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270";

struct Signer {
    key: RsaKeyPair,
    pem: String,
}

/// A fresh RSA key and a self-signed certificate for it, valid between
/// the two dates.
fn signer(not_before: (i32, u8, u8), not_after: (i32, u8, u8)) -> Signer {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["messageverificationcerts.paypal.com".into()]).unwrap();
    params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let cert = params.self_signed(&pair).unwrap();
    Signer {
        key: RsaKeyPair::from_pkcs8(&pair.serialize_der()).unwrap(),
        pem: cert.pem(),
    }
}

fn valid_signer() -> Signer {
    signer((2025, 1, 1), (2026, 1, 1))
}

impl Signer {
    fn sign(&self, message: &str) -> String {
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut sig,
            )
            .unwrap();
        base64::engine::general_purpose::STANDARD.encode(sig)
    }

    /// The headers PayPal sends for `body`, signed for `webhook` at `time`.
    fn headers(&self, webhook: &str, time: &str, body: &[u8]) -> HeaderMap {
        let message = signature::signed_message(TRANSMISSION, time, webhook, body);
        let mut h = HeaderMap::new();
        let mut put = |k: &'static str, v: &str| {
            h.insert(k, HeaderValue::from_str(v).unwrap());
        };
        put(signature::TRANSMISSION_ID, TRANSMISSION);
        put(signature::TRANSMISSION_TIME, time);
        put(signature::TRANSMISSION_SIG, &self.sign(&message));
        put(signature::CERT_URL, CERT_URL);
        put(signature::AUTH_ALGO, "SHA256withRSA");
        h
    }
}

fn processor() -> PaypalProcessor {
    PaypalProcessor::from_secret(&format!("{WEBHOOK}, {ROTATED}"), 300).unwrap()
}

const BODY: &[u8] =
    br#"{"id":"WH-58D329510W468432D-8HN650336L201105X","event_type":"PAYMENT.CAPTURE.COMPLETED"}"#;

// ---- verification -----------------------------------------------------------

#[test]
fn the_signed_message_is_ids_time_and_the_bodys_crc32() {
    // CRC-32 (IEEE) of "123456789" is the check value 0xCBF43926.
    assert_eq!(signature::body_crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(
        signature::signed_message("t-1", TIME, "WH1", b"123456789"),
        format!("t-1|{TIME}|WH1|3421780262")
    );
}

#[test]
fn a_good_signature_verifies_under_either_configured_webhook_id() {
    let s = valid_signer();
    let p = processor();
    let headers = s.headers(WEBHOOK, TIME, BODY);
    assert_eq!(
        p.verify_certified(&headers, BODY, NOW, s.pem.as_bytes()),
        Ok(())
    );
    let rotated = s.headers(ROTATED, TIME, BODY);
    assert_eq!(
        p.verify_certified(&rotated, BODY, NOW, s.pem.as_bytes()),
        Ok(())
    );
    // An id not configured does not.
    let other = s.headers("SOMEONEELSE", TIME, BODY);
    assert_eq!(
        p.verify_certified(&other, BODY, NOW, s.pem.as_bytes()),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        p.certificate_url(&headers, NOW),
        Ok(Some(CERT_URL.to_owned()))
    );
    // A stale delivery is refused before any certificate is fetched.
    assert!(matches!(
        p.certificate_url(&headers, NOW + 3600),
        Err(VerifyError::Stale { .. })
    ));
}

#[test]
fn without_a_certificate_nothing_verifies() {
    let s = valid_signer();
    let headers = s.headers(WEBHOOK, TIME, BODY);
    assert_eq!(
        processor().verify(&headers, BODY, NOW),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn tampering_is_refused() {
    let s = valid_signer();
    let p = processor();
    let pem = s.pem.as_bytes();
    let good = s.headers(WEBHOOK, TIME, BODY);

    let mut body = BODY.to_vec();
    body[10] ^= 1;
    assert_eq!(
        p.verify_certified(&good, &body, NOW, pem),
        Err(VerifyError::BadSignature)
    );

    let mut id = good.clone();
    id.insert(
        signature::TRANSMISSION_ID,
        HeaderValue::from_static("another-id"),
    );
    assert_eq!(
        p.verify_certified(&id, BODY, NOW, pem),
        Err(VerifyError::BadSignature)
    );

    let mut time = good.clone();
    time.insert(
        signature::TRANSMISSION_TIME,
        HeaderValue::from_static("2025-03-10T14:02:08Z"),
    );
    assert_eq!(
        p.verify_certified(&time, BODY, NOW, pem),
        Err(VerifyError::BadSignature)
    );

    let mut sig = good.clone();
    let other = s.sign("something else");
    sig.insert(
        signature::TRANSMISSION_SIG,
        HeaderValue::from_str(&other).unwrap(),
    );
    assert_eq!(
        p.verify_certified(&sig, BODY, NOW, pem),
        Err(VerifyError::BadSignature)
    );

    let mut not_base64 = good.clone();
    not_base64.insert(signature::TRANSMISSION_SIG, HeaderValue::from_static("%%%"));
    assert_eq!(
        p.verify_certified(&not_base64, BODY, NOW, pem),
        Err(VerifyError::MalformedHeader(signature::TRANSMISSION_SIG))
    );

    let mut algo = good.clone();
    algo.insert(
        signature::AUTH_ALGO,
        HeaderValue::from_static("SHA1withRSA"),
    );
    assert_eq!(
        p.verify_certified(&algo, BODY, NOW, pem),
        Err(VerifyError::MalformedHeader(signature::AUTH_ALGO))
    );

    let mut bad_time = good.clone();
    bad_time.insert(
        signature::TRANSMISSION_TIME,
        HeaderValue::from_static("yesterday"),
    );
    assert_eq!(
        p.verify_certified(&bad_time, BODY, NOW, pem),
        Err(VerifyError::MalformedHeader(signature::TRANSMISSION_TIME))
    );

    let mut relative = good.clone();
    relative.insert(
        signature::CERT_URL,
        HeaderValue::from_static("/certs/CERT-1"),
    );
    assert_eq!(
        p.certificate_url(&relative, NOW),
        Err(VerifyError::MalformedHeader(signature::CERT_URL))
    );
}

#[test]
fn every_header_is_required() {
    let s = valid_signer();
    let p = processor();
    for name in [
        signature::TRANSMISSION_ID,
        signature::TRANSMISSION_TIME,
        signature::TRANSMISSION_SIG,
        signature::CERT_URL,
        signature::AUTH_ALGO,
    ] {
        let mut h = s.headers(WEBHOOK, TIME, BODY);
        h.remove(name);
        assert_eq!(
            p.verify_certified(&h, BODY, NOW, s.pem.as_bytes()),
            Err(VerifyError::MissingHeader(name)),
            "{name}"
        );
    }
}

#[test]
fn a_stale_transmission_is_refused() {
    let s = valid_signer();
    let p = processor();
    let h = s.headers(WEBHOOK, TIME, BODY);
    let pem = s.pem.as_bytes();
    assert_eq!(p.verify_certified(&h, BODY, NOW + 300, pem), Ok(()));
    assert_eq!(p.verify_certified(&h, BODY, NOW - 300, pem), Ok(()));
    for now in [NOW + 301, NOW - 301] {
        assert_eq!(
            p.verify_certified(&h, BODY, now, pem),
            Err(VerifyError::Stale { tolerance: 300 })
        );
    }
}

#[test]
fn certificates_outside_their_validity_or_not_certificates_are_refused() {
    let p = processor();
    let expired = signer((2023, 1, 1), (2024, 1, 1));
    let h = expired.headers(WEBHOOK, TIME, BODY);
    assert_eq!(
        p.verify_certified(&h, BODY, NOW, expired.pem.as_bytes()),
        Err(VerifyError::Certificate("expired".into()))
    );
    let future = signer((2026, 1, 1), (2027, 1, 1));
    let h = future.headers(WEBHOOK, TIME, BODY);
    assert_eq!(
        p.verify_certified(&h, BODY, NOW, future.pem.as_bytes()),
        Err(VerifyError::Certificate("not valid yet".into()))
    );

    let s = valid_signer();
    let h = s.headers(WEBHOOK, TIME, BODY);
    for junk in [
        &b""[..],
        b"not a certificate",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ] {
        assert!(
            matches!(
                p.verify_certified(&h, BODY, NOW, junk),
                Err(VerifyError::Certificate(_))
            ),
            "{}",
            String::from_utf8_lossy(junk)
        );
    }

    // A valid certificate whose key did not sign.
    let stranger = valid_signer();
    assert_eq!(
        p.verify_certified(&h, BODY, NOW, stranger.pem.as_bytes()),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn the_certificate_is_read_for_its_validity_and_key() {
    let s = valid_signer();
    let cert = SigningCertificate::from_pem(s.pem.as_bytes()).unwrap();
    assert_eq!(cert.not_before, 1_735_689_600);
    assert_eq!(cert.not_after, 1_767_225_600);
    assert_eq!(cert.rsa_public_key, s.key.public_key().as_ref());
}

#[test]
fn errors_and_debug_output_never_show_the_webhook_id() {
    let p = processor();
    let debug = format!("{p:?}");
    assert!(
        !debug.contains(WEBHOOK) && !debug.contains(ROTATED),
        "{debug}"
    );
    let err = PaypalProcessor::from_secret("bad id|x", 300).unwrap_err();
    assert!(!err.contains("bad id"), "{err}");
    assert!(PaypalProcessor::from_secret(" , ", 300).is_err());
}

// ---- mapping ----------------------------------------------------------------

fn fixture(name: &str) -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../events/paypal/{name}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn map(body: &[u8], link: Option<(&str, &str)>) -> Result<Mapped, MapError> {
    let delivery = PaypalDelivery::read(body)?;
    let link = link.map(|(a, i)| (AccountId::parse(a).unwrap(), InvoiceId::parse(i).unwrap()));
    delivery.map(link)
}

fn json_of(events: &[Event]) -> Vec<Value> {
    events.iter().map(Event::to_json).collect()
}

const ACCOUNT: &str = "paypal:ada.lovelace@acme.example";
const INVOICE: &str = "paypal:INV2-Z56S-5LLA-Q52L-CPZ5";
const LINK: (&str, &str) = ("acme-co", INVOICE);

fn issued(id: &str, at: &str) -> Value {
    json!({
        "id": id, "at": at, "account": ACCOUNT, "type": "invoice_issued",
        "invoice": INVOICE, "amount": "120.00", "currency": "USD", "due": "2025-03-31",
        "number": "0042", "pay_url": "https://www.paypal.com/invoice/p/#Z56S5LLAQ52LCPZ5",
    })
}

fn linked(name: &str) -> (Vec<Value>, crate::domain::Account, AccountHints) {
    match map(&fixture(name), None).unwrap() {
        Mapped::Linked {
            events,
            account,
            hints,
        } => (json_of(&events), account, hints),
        other => panic!("{name}: {other:?}"),
    }
}

fn on_link(name: &str) -> Vec<Value> {
    match map(&fixture(name), Some(LINK)).unwrap() {
        Mapped::Events {
            events,
            account: None,
        } => json_of(&events),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn an_updated_invoice_is_issued_to_its_first_recipient() {
    let (events, account, hints) = linked("INVOICING.INVOICE.UPDATED");
    assert_eq!(
        events,
        vec![issued(
            "paypal:WH-7E484915859563401-03846870AX698884E",
            "2025-03-03T09:15:10.357Z"
        )]
    );
    assert_eq!(account.id.as_str(), ACCOUNT);
    assert_eq!(account.name, "Acme Co");
    assert_eq!(account.contacts.len(), 1);
    let contact = &account.contacts[0];
    assert_eq!(contact.name, "Ada Lovelace");
    assert_eq!(contact.email.as_str(), "Ada.Lovelace@acme.example");
    assert_eq!(
        contact.roles,
        [crate::domain::Role::Billing, crate::domain::Role::Primary].into()
    );
    assert_eq!(
        hints,
        AccountHints {
            customer: ACCOUNT.into(),
            named: Some(AccountId::parse("acme-co").unwrap()),
            emails: vec![EmailAddress::parse("Ada.Lovelace@Acme.example").unwrap()],
        }
    );
}

#[test]
fn a_draft_is_not_owed_yet_but_a_sent_invoice_created_is() {
    let body = fixture("INVOICING.INVOICE.CREATED");
    assert!(matches!(map(&body, None), Ok(Mapped::Ignored { .. })));
    let sent = String::from_utf8(body)
        .unwrap()
        .replace("\"DRAFT\"", "\"SENT\"");
    match map(sent.as_bytes(), None).unwrap() {
        Mapped::Linked { events, .. } => assert_eq!(
            json_of(&events),
            vec![issued(
                "paypal:WH-1KN88282901968003-82E75604WM969463F",
                "2025-03-01T08:00:01.123Z"
            )]
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_paid_invoice_lists_its_payments() {
    let (events, _, _) = linked("INVOICING.INVOICE.PAID");
    let wh = "paypal:WH-45011818H7513372C-92K93122RK854913A";
    let at = "2025-03-11T10:00:08.656Z";
    assert_eq!(
        events,
        vec![
            issued(wh, at),
            json!({"id": format!("{wh}:1"), "at": at, "account": ACCOUNT, "type": "payment_succeeded",
                   "invoice": INVOICE, "amount": "100.00", "currency": "USD",
                   "payment": "paypal:8E2904407M872241P"}),
            json!({"id": format!("{wh}:2"), "at": at, "account": ACCOUNT, "type": "payment_succeeded",
                   "invoice": INVOICE, "amount": "20.00", "currency": "USD",
                   "payment": "paypal:EXTR-86F38350LX4353815"}),
        ]
    );
}

#[test]
fn a_cancelled_invoice_is_voided_and_a_refunded_one_refunded() {
    let (events, _, _) = linked("INVOICING.INVOICE.CANCELLED");
    let wh = "paypal:WH-4M1994083W792541C-1JF12205NY372445E";
    let at = "2025-03-05T12:00:15.508Z";
    assert_eq!(
        events,
        vec![
            issued(wh, at),
            json!({"id": format!("{wh}:1"), "at": at, "account": ACCOUNT,
                   "type": "invoice_voided", "invoice": INVOICE}),
        ]
    );
    let (events, _, _) = linked("INVOICING.INVOICE.REFUNDED");
    let wh = "paypal:WH-7XS20205PU358935W-8LE288564C9744152";
    let at = "2025-03-12T16:00:45.680Z";
    assert_eq!(
        events,
        vec![
            issued(wh, at),
            json!({"id": format!("{wh}:1"), "at": at, "account": ACCOUNT, "type": "payment_refunded",
                   "invoice": INVOICE, "amount": "25.00", "currency": "USD",
                   "refund": "paypal:17155493DW2108105"}),
        ]
    );
}

#[test]
fn captures_map_onto_their_link() {
    let one = |name: &str, rest: Value| {
        let body = fixture(name);
        let envelope: Value = serde_json::from_slice(&body).unwrap();
        let mut expected = json!({
            "id": format!("paypal:{}", envelope["id"].as_str().unwrap()),
            "at": envelope["create_time"], "account": "acme-co", "invoice": INVOICE,
            "currency": "USD",
        });
        for (k, v) in rest.as_object().unwrap() {
            expected[k] = v.clone();
        }
        assert_eq!(on_link(name), vec![expected], "{name}");
    };
    one(
        "PAYMENT.CAPTURE.COMPLETED",
        json!({"type": "payment_succeeded", "amount": "120.00", "payment": "paypal:27M47624FP291604U"}),
    );
    one(
        "PAYMENT.CAPTURE.DENIED",
        json!({"type": "payment_failed", "amount": "120.00",
               "reason": "PayPal denied the payment (PENDING_REVIEW)"}),
    );
    one(
        "PAYMENT.CAPTURE.REFUNDED",
        json!({"type": "payment_refunded", "amount": "30.00", "refund": "paypal:1Y107995YT783435V"}),
    );
    // Counted by the dispute that took the money back, not twice.
    assert!(matches!(
        map(&fixture("PAYMENT.CAPTURE.REVERSED"), Some(LINK)),
        Ok(Mapped::Ignored { .. })
    ));
}

#[test]
fn captures_name_the_links_they_need_and_wait_for_their_invoice() {
    let keys = |name: &str| PaypalDelivery::read(&fixture(name)).unwrap().links_needed();
    let invoice_key = format!("invoice:{INVOICE}");
    assert_eq!(
        keys("PAYMENT.CAPTURE.COMPLETED"),
        vec!["paypal:27M47624FP291604U".to_owned(), invoice_key.clone()]
    );
    // A refund names its capture through its `up` link.
    assert_eq!(
        keys("PAYMENT.CAPTURE.REFUNDED"),
        vec!["paypal:27M47624FP291604U".to_owned(), invoice_key.clone()]
    );
    assert_eq!(
        keys("CUSTOMER.DISPUTE.CREATED"),
        vec!["paypal:27M47624FP291604U".to_owned()]
    );
    assert_eq!(
        keys("BILLING.SUBSCRIPTION.PAYMENT.FAILED"),
        vec![
            invoice_key.clone(),
            "invoice:paypal:I-BW452GLLEP1G".to_owned()
        ]
    );
    // An invoice asks for its own: it stays on the account it was issued to.
    assert_eq!(keys("INVOICING.INVOICE.PAID"), vec![invoice_key]);
    match map(&fixture("INVOICING.INVOICE.UPDATED"), Some(LINK)).unwrap() {
        Mapped::Events { events, account } => {
            assert_eq!(account, None);
            assert!(events.iter().all(|e| e.account.as_str() == LINK.0));
        }
        other => panic!("{other:?}"),
    }

    match map(&fixture("PAYMENT.CAPTURE.COMPLETED"), None).unwrap() {
        Mapped::WaitingForLink { ids } => assert_eq!(ids, keys("PAYMENT.CAPTURE.COMPLETED")),
        other => panic!("{other:?}"),
    }
    // A checkout's own invoice number will never arrive as a PayPal
    // invoice: not waited for.
    let checkout = String::from_utf8(fixture("PAYMENT.CAPTURE.COMPLETED"))
        .unwrap()
        .replace("INV2-Z56S-5LLA-Q52L-CPZ5", "ORDER-1187");
    assert!(matches!(
        map(checkout.as_bytes(), None),
        Ok(Mapped::Ignored { .. })
    ));
    // A capture for no invoice at all is not pastdue's.
    let mut no_invoice: Value =
        serde_json::from_slice(&fixture("PAYMENT.CAPTURE.COMPLETED")).unwrap();
    no_invoice["resource"]
        .as_object_mut()
        .unwrap()
        .remove("invoice_id");
    let body = serde_json::to_vec(&no_invoice).unwrap();
    match map(&body, None).unwrap() {
        Mapped::Ignored { reason } => assert!(reason.contains("no invoice"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_subscription_payment_is_failed_on_its_invoice() {
    assert_eq!(
        on_link("BILLING.SUBSCRIPTION.PAYMENT.FAILED"),
        vec![json!({
            "id": "paypal:WH-9HW24526DC0936025-6M7851380F2745303",
            "at": "2025-03-01T00:05:20.821Z", "account": "acme-co", "type": "payment_failed",
            "invoice": INVOICE, "amount": "120.00", "currency": "USD",
            "reason": "PayPal subscription payment failed (PAYER_ACCOUNT_LOCKED_OR_CLOSED)",
            "will_retry": true,
        })]
    );
    assert!(matches!(
        map(&fixture("BILLING.SUBSCRIPTION.PAYMENT.FAILED"), None),
        Ok(Mapped::Ignored { .. })
    ));
}

#[test]
fn disputes_open_and_close() {
    assert_eq!(
        on_link("CUSTOMER.DISPUTE.CREATED"),
        vec![json!({
            "id": "paypal:WH-4M0448861G563140B-9EX36365822141321",
            "at": "2025-03-15T10:00:33Z", "account": "acme-co", "type": "dispute_opened",
            "invoice": INVOICE, "dispute": "paypal:PP-D-27803", "amount": "120.00",
            "currency": "USD", "evidence_due": "2025-03-25",
        })]
    );
    assert_eq!(
        on_link("CUSTOMER.DISPUTE.RESOLVED"),
        vec![json!({
            "id": "paypal:WH-8MB2839A2L436523D-5VX65817D1245432R",
            "at": "2025-04-02T10:00:21Z", "account": "acme-co", "type": "dispute_closed",
            "dispute": "paypal:PP-D-27803", "outcome": "won",
        })]
    );
    assert!(matches!(
        map(&fixture("CUSTOMER.DISPUTE.CREATED"), None),
        Ok(Mapped::WaitingForLink { .. })
    ));
    let resolved = String::from_utf8(fixture("CUSTOMER.DISPUTE.RESOLVED")).unwrap();
    for (code, outcome) in [
        ("RESOLVED_BUYER_FAVOUR", "lost"),
        ("RESOLVED_WITH_PAYOUT", "won"),
        // Settled by a refund, which its own event counts.
        ("ACCEPTED", "won"),
        ("REFUNDED", "won"),
        ("CANCELED_BY_BUYER", "won"),
        ("DENIED", "won"),
    ] {
        let body = resolved.replace("RESOLVED_SELLER_FAVOUR", code);
        match map(body.as_bytes(), Some(LINK)).unwrap() {
            Mapped::Events { events, .. } => {
                assert_eq!(events[0].to_json()["outcome"], outcome, "{code}");
            }
            other => panic!("{code}: {other:?}"),
        }
    }
    let unknown = resolved.replace("RESOLVED_SELLER_FAVOUR", "SPLIT_THE_DIFFERENCE");
    match map(unknown.as_bytes(), Some(LINK)) {
        Err(MapError::Field { error, .. }) => {
            assert_eq!(error.field, "resource.dispute_outcome.outcome_code");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_types_are_ignored() {
    assert!(matches!(
        map(&fixture("CUSTOMER.DISPUTE.UPDATED"), Some(LINK)),
        Ok(Mapped::Ignored { .. })
    ));
    let body = br#"{"id":"WH-1","create_time":"2025-03-01T00:00:00Z","event_type":"CHECKOUT.ORDER.APPROVED","resource":{"id":"5O190127TN364715T"}}"#;
    match map(body, None).unwrap() {
        Mapped::Ignored { reason } => assert!(reason.contains("CHECKOUT.ORDER.APPROVED")),
        other => panic!("{other:?}"),
    }
}

fn field_error(body: &[u8], link: Option<(&str, &str)>) -> String {
    match map(body, link) {
        Err(MapError::Field {
            processor, error, ..
        }) => {
            assert_eq!(processor, "paypal");
            error.field
        }
        other => panic!("{other:?}"),
    }
}

/// The fixture with `edit` applied to its JSON.
fn edited(name: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&fixture(name)).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

/// A body, the link it is mapped with, and the field its error names.
type Case = (Vec<u8>, Option<(&'static str, &'static str)>, &'static str);

#[test]
fn malformed_fields_are_named() {
    let cases: Vec<Case> = vec![
        (
            edited("INVOICING.INVOICE.UPDATED", |v| {
                v["resource"]["invoice"]["amount"]["value"] = json!("12.345");
            }),
            None,
            "resource.invoice.amount.value",
        ),
        (
            edited("INVOICING.INVOICE.UPDATED", |v| {
                v["resource"]["invoice"]["amount"]["currency_code"] = json!("usd");
            }),
            None,
            "resource.invoice.amount.currency_code",
        ),
        (
            edited("INVOICING.INVOICE.UPDATED", |v| {
                v["resource"]["invoice"]["detail"]["payment_term"]["due_date"] =
                    json!("31/03/2025");
            }),
            None,
            "resource.invoice.detail.payment_term.due_date",
        ),
        (
            edited("INVOICING.INVOICE.UPDATED", |v| {
                v["resource"]["invoice"]["primary_recipients"] = json!([]);
            }),
            None,
            "resource.invoice.primary_recipients[0].billing_info.email_address",
        ),
        (
            edited("INVOICING.INVOICE.UPDATED", |v| {
                v["resource"]["invoice"]["detail"]["reference"] = json!("pastdue:has space");
            }),
            None,
            "resource.invoice.detail.reference",
        ),
        (
            edited("INVOICING.INVOICE.UPDATED", |v| {
                v["resource"]["invoice"]["detail"]["metadata"]["recipient_view_url"] =
                    json!("http://www.paypal.com/invoice/p/#X");
            }),
            None,
            "resource.invoice.detail.metadata.recipient_view_url",
        ),
        (
            edited("INVOICING.INVOICE.PAID", |v| {
                v["resource"]["invoice"]["payments"]["transactions"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("amount");
            }),
            None,
            "resource.invoice.payments.transactions[1].amount",
        ),
        (
            edited("INVOICING.INVOICE.UPDATED", |v| {
                v["resource"]["invoice"]["id"] = json!(42);
            }),
            None,
            "resource.invoice",
        ),
        (
            edited("INVOICING.INVOICE.UPDATED", |v| {
                v["create_time"] = json!("March 3rd");
            }),
            None,
            "create_time",
        ),
        (
            edited("PAYMENT.CAPTURE.COMPLETED", |v| {
                v["resource"].as_object_mut().unwrap().remove("amount");
            }),
            Some(LINK),
            "resource.amount",
        ),
        (
            edited("PAYMENT.CAPTURE.COMPLETED", |v| {
                v["resource"]["amount"]["value"] = json!("-1.00");
            }),
            Some(LINK),
            "resource.amount.value",
        ),
        (
            edited("BILLING.SUBSCRIPTION.PAYMENT.FAILED", |v| {
                v["resource"]["billing_info"]
                    .as_object_mut()
                    .unwrap()
                    .remove("last_failed_payment");
            }),
            Some(LINK),
            "resource.billing_info.last_failed_payment",
        ),
        (
            edited("CUSTOMER.DISPUTE.CREATED", |v| {
                v["resource"]["seller_response_due_date"] = json!("soon");
            }),
            Some(LINK),
            "resource.seller_response_due_date",
        ),
        (
            edited("CUSTOMER.DISPUTE.RESOLVED", |v| {
                v["resource"]
                    .as_object_mut()
                    .unwrap()
                    .remove("dispute_outcome");
            }),
            Some(LINK),
            "resource.dispute_outcome.outcome_code",
        ),
        (
            edited("CUSTOMER.DISPUTE.CREATED", |v| {
                v.as_object_mut().unwrap().remove("resource");
            }),
            Some(LINK),
            "resource",
        ),
    ];
    for (n, (body, link, field)) in cases.into_iter().enumerate() {
        assert_eq!(field_error(&body, link), field, "case {n}");
    }
}

#[test]
fn what_is_not_an_event_says_so() {
    assert!(matches!(map(b"not json", None), Err(MapError::NotJson(_))));
    assert!(matches!(map(b"[1,2]", None), Err(MapError::NotAnEvent(_))));
    assert!(matches!(
        map(br#"{"id":"WH-1"}"#, None),
        Err(MapError::NotAnEvent(_))
    ));
    assert!(matches!(
        map(br#"{"id":"","event_type":"X"}"#, None),
        Err(MapError::NotAnEvent(_))
    ));
}

const FIXTURES: [&str; 13] = [
    "BILLING.SUBSCRIPTION.PAYMENT.FAILED",
    "CUSTOMER.DISPUTE.CREATED",
    "CUSTOMER.DISPUTE.RESOLVED",
    "CUSTOMER.DISPUTE.UPDATED",
    "INVOICING.INVOICE.CANCELLED",
    "INVOICING.INVOICE.CREATED",
    "INVOICING.INVOICE.PAID",
    "INVOICING.INVOICE.REFUNDED",
    "INVOICING.INVOICE.UPDATED",
    "PAYMENT.CAPTURE.COMPLETED",
    "PAYMENT.CAPTURE.DENIED",
    "PAYMENT.CAPTURE.REFUNDED",
    "PAYMENT.CAPTURE.REVERSED",
];

#[test]
fn every_fixture_is_one_of_the_listed_types_and_reads_back() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/paypal");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".json")
                .to_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, FIXTURES);
    for name in FIXTURES {
        let body = fixture(name);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["event_type"], name);
        for link in [None, Some(LINK)] {
            if let Ok(Mapped::Events { events, .. } | Mapped::Linked { events, .. }) =
                map(&body, link)
            {
                for e in events {
                    assert_eq!(Event::from_json(&e.to_json()).unwrap(), e, "{name}");
                }
            }
        }
    }
}

#[test]
fn truncated_fixtures_and_random_bytes_never_panic() {
    for name in FIXTURES {
        let body = fixture(name);
        for end in (0..body.len()).step_by(7) {
            let cut = &body[..end];
            if let Ok(d) = PaypalDelivery::read(cut) {
                let _ = d.links_needed();
                let _ = d.map(None);
                let _ = d.map(Some((
                    AccountId::parse("a").unwrap(),
                    InvoiceId::parse("i").unwrap(),
                )));
            }
        }
    }
    let mut rng = fastrand::Rng::with_seed(7);
    let s = valid_signer();
    let p = processor();
    for _ in 0..500 {
        let len = rng.usize(0..200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        let _ = map(&bytes, Some(LINK));
        let mut h = s.headers(WEBHOOK, TIME, BODY);
        if let Ok(v) = HeaderValue::from_bytes(&bytes) {
            h.insert(signature::TRANSMISSION_SIG, v);
        }
        assert!(p.verify_certified(&h, &bytes, NOW, &bytes).is_err());
    }
}
