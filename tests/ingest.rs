//! `ingest` at its HTTP boundary, through the real handler, against DynamoDB
//! Local: signatures, every Stripe fixture, bad input, duplicates, order.

mod ingest_harness;
mod support;

use ingest_harness::*;

use lambda_http::Request;

use pastdue_shared::config::IngestSettings;
use pastdue_shared::domain::{Account, AccountId};
use pastdue_shared::processors::Processors;
use pastdue_shared::processors::stripe::signature::signature_header;
use pastdue_shared::processors::verify::hmac_sha256;
use serde_json::{Value, json};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(support::repo_root().join(format!("events/stripe/{name}.json"))).unwrap()
}

async fn stripe(deps: &Deps, name: &str) -> (u16, Value) {
    post(deps, stripe_request(&fixture(name), STRIPE_SECRET, NOW)).await
}

const CUSTOMER: &str = "cus_Whitfield01";

#[tokio::test]
async fn every_stripe_fixture_is_handled_end_to_end() {
    let d = deps("ingest-fixtures").await;
    // Stripe's customer names its default card (none yet), and becomes an
    // account.
    assert_eq!(stripe(&d, "customer.created").await.1["outcome"], "applied");
    let shown = show(&d, CUSTOMER).await;
    assert_eq!(
        (
            shown["name"].as_str(),
            shown["contacts"][0]["email"].as_str()
        ),
        (Some("Whitfield Hosting"), Some("dana@whitfield.example"))
    );
    let (status, early) = stripe(&d, "charge.dispute.created").await;
    assert_eq!(
        (status, early["outcome"].as_str()),
        (503, Some("retry")),
        "no payment links the charge yet"
    );

    assert_eq!(
        stripe(&d, "invoice.finalized").await,
        (
            200,
            json!({"outcome": "applied", "events": ["stripe:evt_1QhZ3mLkdIwHu7ix0a1b2c3d:0"]})
        )
    );
    let shown = show(&d, CUSTOMER).await;
    assert_eq!(
        shown["name"], "Whitfield Hosting",
        "the invoice's customer is the account"
    );
    assert_eq!(shown["contacts"][0]["email"], "dana@whitfield.example");
    assert_eq!(shown["invoices"][0]["amount"], "120.00");

    assert_eq!(
        stripe(&d, "invoice.payment_failed").await.1["outcome"],
        "applied"
    );
    // The payment is the invoice payment; invoice.paid and
    // invoice.payment_succeeded only restate the invoice.
    assert_eq!(
        stripe(&d, "invoice_payment.paid").await,
        (
            200,
            json!({"outcome": "applied", "events": ["stripe:evt_1QhZ0a7c3e19b2d4f5a6:0"]})
        )
    );
    for name in ["invoice.paid", "invoice.payment_succeeded"] {
        assert_eq!(
            stripe(&d, name).await.1["outcome"],
            "duplicate",
            "{name}: the same payment, counted once"
        );
    }
    assert_eq!(show(&d, CUSTOMER).await["invoices"][0]["paid"], "120.00");
    assert_eq!(
        stripe(&d, "customer.source.expiring").await.1["outcome"],
        "applied"
    );
    // The PaymentMethods way: a card saved and made the default (02/2026),
    // whose notice the daily run sends from 30 days before February ends.
    for name in ["payment_method.attached", "customer.updated"] {
        assert_eq!(stripe(&d, name).await.1["outcome"], "applied", "{name}");
    }
    assert_eq!(show(&d, CUSTOMER).await["card_notice_from"], "2026-01-29");

    // An inquiry withdraws no funds: the account stays as it is, staff are
    // alerted once however often Stripe delivers it.
    let mut inquiry: Value = serde_json::from_slice(&fixture("charge.dispute.created")).unwrap();
    inquiry["id"] = "evt_inquiry01".into();
    inquiry["data"]["object"]["status"] = "warning_needs_response".into();
    let inquiry = serde_json::to_vec(&inquiry).unwrap();
    let before = show(&d, CUSTOMER).await;
    for expected in ["ignored", "duplicate"] {
        let (status, body) = post(&d, stripe_request(&inquiry, STRIPE_SECRET, NOW)).await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some(expected)),
            "{body}"
        );
    }
    assert_eq!(show(&d, CUSTOMER).await, before);
    let alerts = d.bus.alerts.lock().unwrap().clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        (alerts[0].action.as_str(), alerts[0].account.as_str()),
        ("dispute_alert", CUSTOMER)
    );
    assert!(alerts[0].recipients.is_empty(), "staff only");

    assert_eq!(
        stripe(&d, "charge.dispute.created").await.1["outcome"],
        "applied",
        "now the payment links it"
    );
    assert_eq!(show(&d, CUSTOMER).await["invoices"][0]["in_dispute"], true);
    assert_eq!(
        stripe(&d, "charge.dispute.closed").await.1["outcome"],
        "applied"
    );
    let after_lost = show(&d, CUSTOMER).await;
    assert_eq!(
        (
            after_lost["invoices"][0]["in_dispute"].as_bool(),
            after_lost["invoices"][0]["owed"].as_str()
        ),
        (Some(false), Some("120.00"))
    );
    // 30.00 credited after payment and refunded: the credit restates the
    // invoice, the refund counts from refund.created, and charge.refunded
    // (which lists no refunds) adds nothing.
    assert_eq!(stripe(&d, "invoice.updated").await.1["outcome"], "applied");
    assert_eq!(show(&d, CUSTOMER).await["invoices"][0]["amount"], "90.00");
    assert_eq!(stripe(&d, "refund.created").await.1["outcome"], "applied");
    let (status, refunded) = stripe(&d, "charge.refunded").await;
    assert_eq!(
        (status, refunded["outcome"].as_str()),
        (200, Some("ignored")),
        "{refunded}"
    );
    assert_eq!(
        stripe(&d, "refund.created").await.1["outcome"],
        "duplicate",
        "a refund counts once"
    );
    assert_eq!(stripe(&d, "invoice.voided").await.1["outcome"], "applied");
    assert_eq!(
        stripe(&d, "invoice.marked_uncollectible").await.1["outcome"],
        "duplicate",
        "already void"
    );
    assert_eq!(show(&d, CUSTOMER).await["invoices"][0]["status"], "void");

    let timeline = d
        .store
        .timeline(&AccountId::parse(CUSTOMER).unwrap())
        .await
        .unwrap();
    let summaries: Vec<&str> = timeline.iter().map(|t| t.summary.as_str()).collect();
    for needle in [
        "payment_failed_notice",
        "card_expiring_notice",
        "dispute_alert",
    ] {
        assert!(
            summaries.iter().any(|s| s.starts_with(needle)),
            "{needle} in {summaries:#?}"
        );
    }
    // A redelivery of a handled delivery is a duplicate and changes nothing.
    let before = show(&d, CUSTOMER).await;
    assert_eq!(
        stripe(&d, "invoice.finalized").await.1["outcome"],
        "duplicate"
    );
    assert_eq!(show(&d, CUSTOMER).await, before);
}

/// `stripe listen --forward-to …/stripe` with `stripe trigger
/// invoice.payment_failed`: every delivery the trigger causes, in the
/// current API version, with the headers the CLI forwards (Stripe's own:
/// a `v0` test-mode signature beside `v1`, JSON with a charset).
#[tokio::test]
async fn what_the_stripe_cli_forwards_for_a_trigger_is_accepted() {
    let d = deps("ingest-stripe-cli").await;
    let path = support::repo_root().join("events/stripe-cli/trigger-invoice.payment_failed.json");
    let deliveries: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut outcomes = Vec::new();
    for delivery in &deliveries {
        let body = serde_json::to_vec(delivery).unwrap();
        let v1 = signature_header(STRIPE_SECRET, NOW, &body);
        let v0 = signature_header("whsec_test_mode_key", NOW, &body);
        let v0 = v0.rsplit_once("v1=").unwrap().1;
        let req = request(
            "POST",
            "/stripe",
            &[
                ("stripe-signature", format!("{v1},v0={v0}")),
                ("content-type", "application/json; charset=utf-8".into()),
                (
                    "user-agent",
                    "Stripe/1.0 (+https://stripe.com/docs/webhooks)".into(),
                ),
            ],
            body,
        );
        let (status, answer) = post(&d, req).await;
        assert_eq!(status, 200, "{}: {answer}", delivery["type"]);
        outcomes.push((
            delivery["type"].as_str().unwrap().to_owned(),
            answer["outcome"].as_str().unwrap().to_owned(),
        ));
    }
    let applied: Vec<&str> = outcomes
        .iter()
        .filter(|(_, o)| o == "applied")
        .map(|(t, _)| t.as_str())
        .collect();
    assert_eq!(
        applied,
        [
            "customer.created",
            "payment_method.attached",
            "invoice.finalized",
            "invoice.payment_failed"
        ],
        "{outcomes:?}"
    );
    assert!(
        outcomes.iter().all(|(t, o)| o == "applied"
            || o == "ignored"
            || (t == "invoice.updated" && o == "duplicate")),
        "{outcomes:?}: an invoice.updated that changes nothing is no news"
    );
    // The CLI's customer has no email: the account exists, named by its id,
    // and the invoice is due the day it was finalized (charged automatically).
    let shown = show(&d, "cus_TCliTrigger01").await;
    assert_eq!(shown["name"], "cus_TCliTrigger01");
    assert_eq!(shown["contacts"], json!([]));
    assert_eq!(
        (
            shown["invoices"][0]["outstanding"].as_str(),
            shown["invoices"][0]["due"].as_str()
        ),
        (Some("20.00"), Some("2026-11-18"))
    );
}

#[tokio::test]
async fn forged_stale_and_malformed_deliveries_are_refused_and_change_nothing() {
    let d = deps("ingest-bad").await;
    let body = fixture("invoice.finalized");
    let cases: Vec<(Request, u16)> = vec![
        (stripe_request(&body, "whsec_wrong", NOW), 401),
        (stripe_request(&body, STRIPE_SECRET, NOW - 301), 401),
        (request("POST", "/stripe", &[], body.clone()), 401),
        (
            request(
                "POST",
                "/stripe",
                &[("stripe-signature", "t=abc,v1=zz".into())],
                body.clone(),
            ),
            401,
        ),
        (stripe_request(b"not json at all", STRIPE_SECRET, NOW), 400),
        (
            stripe_request(
                br#"{"id": "evt_x", "type": "invoice.finalized"}"#,
                STRIPE_SECRET,
                NOW,
            ),
            400,
        ),
        (
            stripe_request(&vec![b' '; 256 * 1024 + 1], STRIPE_SECRET, NOW),
            413,
        ),
        (request("GET", "/stripe", &[], Vec::new()), 405),
        (request("POST", "/paypal", &[], body.clone()), 404),
    ];
    for (n, (req, want)) in cases.into_iter().enumerate() {
        let (status, reply) = post(&d, req).await;
        assert_eq!(status, want, "case {n}: {reply}");
        assert!(reply["error"].is_string(), "case {n}: a clear error");
    }
    let mut not_minor = serde_json::from_slice::<Value>(&body).unwrap();
    not_minor["data"]["object"]["amount_due"] = json!("120.00");
    assert_eq!(
        post(
            &d,
            stripe_request(not_minor.to_string().as_bytes(), STRIPE_SECRET, NOW)
        )
        .await
        .0,
        400
    );
    assert!(
        d.store
            .load(&AccountId::parse(CUSTOMER).unwrap())
            .await
            .unwrap()
            .is_none(),
        "nothing was written"
    );
    assert_eq!(
        post(&d, stripe_request(&body, OLD_STRIPE_SECRET, NOW))
            .await
            .0,
        200,
        "the previous secret still works during rotation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_deliveries_of_one_event_apply_it_once() {
    let d = deps("ingest-concurrent").await;
    let body = fixture("invoice.finalized");
    let replies = futures::future::join_all(
        (0..100).map(|_| post(&d, stripe_request(&body, STRIPE_SECRET, NOW))),
    )
    .await;
    let applied = replies
        .iter()
        .filter(|(s, r)| *s == 200 && r["outcome"] == "applied")
        .count();
    let duplicate = replies
        .iter()
        .filter(|(s, r)| *s == 200 && r["outcome"] == "duplicate")
        .count();
    assert_eq!(
        (applied, duplicate),
        (1, 99),
        "{:?}",
        replies.iter().find(|(s, _)| *s != 200)
    );
    let timeline = d
        .store
        .timeline(&AccountId::parse(CUSTOMER).unwrap())
        .await
        .unwrap();
    assert_eq!(
        timeline
            .iter()
            .filter(|t| t.summary.starts_with("invoice_issued"))
            .count(),
        1
    );
}

fn standard_request(delivery: &str, event: &Value) -> Request {
    let body = event.to_string();
    let key = base64_decode(STANDARD_SECRET.trim_start_matches("whsec_"));
    let sig = base64_encode(&hmac_sha256(
        &key,
        &[
            delivery.as_bytes(),
            b".",
            NOW.to_string().as_bytes(),
            b".",
            body.as_bytes(),
        ],
    ));
    request(
        "POST",
        "/standard",
        &[
            ("webhook-id", delivery.to_owned()),
            ("webhook-timestamp", NOW.to_string()),
            ("webhook-signature", format!("v1,{sig}")),
        ],
        body.into_bytes(),
    )
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn thirty_events() -> Vec<Value> {
    let a = "acct_std";
    let mut v = Vec::new();
    for i in 0..6 {
        v.push(json!({"id": format!("inv{i}"), "at": format!("2026-0{}-01T10:00:00Z", 1 + i % 5), "account": a, "type": "invoice_issued", "invoice": format!("in_{i}"), "amount": "100.00", "currency": "EUR", "due": format!("2026-0{}-15", 1 + i % 5)}));
    }
    for i in 0..6 {
        v.push(json!({"id": format!("pay{i}"), "at": "2026-02-10T10:00:00Z", "account": a, "type": "payment_succeeded", "invoice": format!("in_{i}"), "amount": "60.00", "currency": "EUR", "payment": format!("pi_{}", i % 4)}));
    }
    v.push(json!({"id": "dp_open", "at": "2026-03-01T10:00:00Z", "account": a, "type": "dispute_opened", "invoice": "in_1", "dispute": "dp_1", "amount": "60.00", "currency": "EUR"}));
    v.push(json!({"id": "dp_close", "at": "2026-03-20T10:00:00Z", "account": a, "type": "dispute_closed", "dispute": "dp_1", "outcome": "won"}));
    v.push(json!({"id": "refund", "at": "2026-03-05T10:00:00Z", "account": a, "type": "payment_refunded", "invoice": "in_0", "amount": "10.00", "currency": "EUR", "refund": "re_1"}));
    v.push(json!({"id": "void", "at": "2026-03-06T10:00:00Z", "account": a, "type": "invoice_voided", "invoice": "in_5"}));
    v.push(json!({"id": "hold", "at": "2026-03-07T10:00:00Z", "account": a, "type": "hold_placed", "until": "2026-07-01", "reason": "promised"}));
    for i in 0..5 {
        v.push(json!({"id": format!("fail{i}"), "at": format!("2026-02-0{}T10:00:00Z", 1 + i), "account": a, "type": "payment_failed", "invoice": "in_2", "amount": "100.00", "currency": "EUR", "reason": "declined"}));
    }
    let repeats: Vec<Value> = v.iter().take(30 - v.len()).cloned().collect();
    v.extend(repeats);
    assert_eq!(v.len(), 30);
    v
}

#[tokio::test]
async fn standard_webhooks_apply_canonical_events_and_order_does_not_matter() {
    let mut shown = Vec::new();
    for round in 0..5u64 {
        let d = deps(&format!("ingest-order{round}")).await;
        let account = Account::from_json(
            &json!({"id": "acct_std", "name": "Standard Customer", "contacts": []}),
        )
        .unwrap();
        d.accounts.upsert_account(&account).await.unwrap();
        let mut events: Vec<(usize, Value)> = thirty_events().into_iter().enumerate().collect();
        fastrand::Rng::with_seed(round + 7).shuffle(&mut events);
        for (n, e) in &events {
            let (status, reply) = post(&d, standard_request(&format!("msg_{n}"), e)).await;
            assert_eq!(status, 200, "{e}: {reply}");
        }
        shown.push(show(&d, "acct_std").await);
    }
    for other in &shown[1..] {
        assert_eq!(&shown[0], other);
    }
    let d = deps("ingest-standard").await;
    let event = json!({"id": "e1", "at": "2026-01-01T10:00:00Z", "account": "nobody", "type": "hold_released"});
    let (status, reply) = post(&d, standard_request("msg_x", &event)).await;
    assert_eq!(status, 400, "an unknown account: {reply}");
    assert!(reply["error"].as_str().unwrap().contains("not known"));
    let (status, _) = post(
        &d,
        standard_request("msg_y", &json!({"id": "e2", "type": "no_such_type"})),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn webhook_secrets_are_read_by_reference_from_ssm_at_init() {
    let config = support::sdk_config().await;
    support::local_endpoint("AWS_ENDPOINT_URL_SSM");
    let ssm = aws_sdk_ssm::Client::new(&config);
    let name = format!("/pastdue/test/stripe-{}", std::process::id());
    ssm.put_parameter()
        .name(&name)
        .value(format!("{STRIPE_SECRET},{OLD_STRIPE_SECRET}"))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let vars = |pairs: &[(&str, &str)]| {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k: &str| map.get(k).cloned()
    };
    let settings = IngestSettings::load(vars(&[("STRIPE_WEBHOOK_SECRET_PARAM", &name)]), &config)
        .await
        .unwrap();
    let processors = Processors::from_settings(&settings).unwrap();
    assert!(
        processors
            .find("/standard")
            .is_some_and(|r| r.processor().is_none()),
        "no secret, no endpoint"
    );
    let mut d = deps("ingest-ssm").await;
    d.processors = processors;
    // Both secrets of the rotation verify; a third does not.
    let body = fixture("invoice.finalized");
    for (secret, status) in [
        (OLD_STRIPE_SECRET, 200),
        (STRIPE_SECRET, 200),
        ("whsec_other", 401),
    ] {
        assert_eq!(
            post(&d, stripe_request(&body, secret, NOW)).await.0,
            status,
            "{secret}"
        );
    }

    let missing = IngestSettings::load(
        vars(&[("STRIPE_WEBHOOK_SECRET_PARAM", "/pastdue/test/absent")]),
        &config,
    )
    .await
    .expect_err("a missing parameter stops init");
    let said = missing.to_string();
    assert!(
        said.contains("STRIPE_WEBHOOK_SECRET_PARAM") && said.contains("/pastdue/test/absent"),
        "{said}"
    );
    assert!(!said.contains(STRIPE_SECRET));
}

/// Stripe's "mark uncollectible" over the webhook: the invoice is written
/// off, not voided and not paid; the customer still owes it.
#[tokio::test]
async fn a_stripe_write_off_keeps_the_invoice_owed_until_paid() {
    let d = deps("ingest-write-off").await;
    assert_eq!(
        stripe(&d, "invoice.finalized").await.1["outcome"],
        "applied"
    );
    assert_eq!(
        stripe(&d, "invoice.marked_uncollectible").await.1["outcome"],
        "applied"
    );
    let shown = show(&d, CUSTOMER).await;
    let invoice = &shown["invoices"][0];
    assert_eq!(invoice["status"], "written_off", "{shown}");
    assert_eq!(invoice["owed"], "120.00", "still owed: {shown}");
    assert_eq!(shown["status"], "active");
    // Paid afterwards: counted as usual, from the invoice payment.
    assert_eq!(
        stripe(&d, "invoice_payment.paid").await.1["outcome"],
        "applied"
    );
    assert_eq!(stripe(&d, "invoice.paid").await.1["outcome"], "duplicate");
    assert_eq!(show(&d, CUSTOMER).await["invoices"][0]["owed"], "0.00");
}
