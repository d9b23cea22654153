//! GoCardless at `ingest`'s HTTP boundary, against DynamoDB Local and the
//! GoCardless API served on loopback (`dev/gocardless_api.py`): signed
//! batches, each event applied once by its own id, payments read from the
//! API, the same standing as the same story told by Stripe, bad input.

mod gocardless_story;
mod ingest_harness;
mod support;

use gocardless_story::*;
use ingest_harness::*;
use serde_json::json;

#[tokio::test]
async fn a_payment_that_fails_then_is_collected_ends_as_the_same_story_through_stripe() {
    // Stripe: the invoice, its failed attempt, its payment.
    let stripe = deps("gc-story-stripe").await;
    tell_stripe(&stripe, &STRIPE_UNPAID).await;
    let stripe_unpaid = standing(&show(&stripe, STRIPE_CUSTOMER).await);

    // GoCardless: the same invoice as a payment, created then failed, each
    // event delivered twice and out of order, in batches.
    let gc = gocardless_deps("gc-story").await;
    let story = Story::new();
    story.seed();
    let [created, failed, confirmed] = [
        story.event("payments", "created", json!({})),
        story.event("payments", "failed", failure(false)),
        story.event("payments", "confirmed", json!({})),
    ];
    for body in [
        batch(&[failed.clone(), created.clone()]),
        batch(std::slice::from_ref(&created)),
        batch(std::slice::from_ref(&failed)),
    ] {
        let (status, answer) = post(&gc, gocardless_request(&body, SECRET)).await;
        assert_eq!(status, 200, "{answer}");
    }
    let account = story.account();
    assert_eq!(standing(&show(&gc, &account).await), stripe_unpaid);

    tell_stripe(&stripe, &STRIPE_PAYMENT).await;
    let (status, answer) = post(
        &gc,
        gocardless_request(&batch(&[confirmed.clone(), failed, confirmed]), SECRET),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // Taken a few at a time: which of the two alike is applied is a race.
    let mut outcomes: Vec<&str> = answer["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    outcomes.sort_unstable();
    assert_eq!(outcomes, ["applied", "duplicate", "duplicate"], "{answer}");
    let paid = standing(&show(&gc, &account).await);
    assert_eq!(paid, standing(&show(&stripe, STRIPE_CUSTOMER).await));
    assert_eq!(paid["status"], "active");
    assert_eq!(paid["invoices"][0]["owed"], "0.00", "{paid}");
    // The failure asked the customer to act once, as Stripe's did.
    assert_eq!(notices(&gc, &account, "payment_failed_notice").await, 1);
    assert_eq!(
        notices(&stripe, STRIPE_CUSTOMER, "payment_failed_notice").await,
        1
    );
    // The payment was read from the API once, then from the cache.
    let reads = api_requests(&format!("/payments/{}", story.payment));
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert!(reads.iter().all(|r| r["token_ok"] == true));
}

#[tokio::test]
async fn a_failure_gocardless_retries_by_itself_asks_nothing_of_the_customer() {
    let gc = gocardless_deps("gc-retrying").await;
    let story = Story::new();
    story.seed();
    let created = story.event("payments", "created", json!({}));
    let failed = story.event("payments", "failed", failure(true));
    let (status, answer) = post(&gc, gocardless_request(&batch(&[created, failed]), SECRET)).await;
    assert_eq!(status, 200, "{answer}");
    let account = story.account();
    let shown = show(&gc, &account).await;
    assert_eq!(shown["invoices"][0]["owed"], "120.00", "{shown}");
    assert_eq!(notices(&gc, &account, "payment_failed_notice").await, 0);
    // The retry is collected: paid.
    let confirmed = story.event("payments", "confirmed", json!({}));
    post(&gc, gocardless_request(&batch(&[confirmed]), SECRET)).await;
    assert_eq!(show(&gc, &account).await["invoices"][0]["owed"], "0.00");
}

#[tokio::test]
async fn a_batch_answers_200_only_when_every_event_is_in_and_a_retry_applies_only_what_is_missing()
{
    let gc = gocardless_deps("gc-partial").await;
    let first = Story::new();
    let second = Story::new();
    first.seed();
    // The second payment's API answers 503 until GoCardless's retry.
    second.seed();
    api_fail(503, 20, &format!("/payments/{}", second.payment));
    let body = batch(&[
        first.event("payments", "created", json!({})),
        second.event("payments", "created", json!({})),
    ]);
    let (status, answer) = post(&gc, gocardless_request(&body, SECRET)).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["outcome"], "retry");
    assert_eq!(answer["events"][0]["outcome"], "applied", "{answer}");
    assert_eq!(answer["events"][1]["outcome"], "retry", "{answer}");
    assert_eq!(
        show(&gc, &first.account()).await["invoices"][0]["owed"],
        "120.00"
    );
    assert!(!account_exists(&gc, &second.account()).await);

    api_reset_failures(&format!("/payments/{}", second.payment));
    let (status, answer) = post(&gc, gocardless_request(&body, SECRET)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["events"][0]["outcome"], "duplicate", "{answer}");
    assert_eq!(answer["events"][1]["outcome"], "applied", "{answer}");
    assert_eq!(
        show(&gc, &second.account()).await["invoices"][0]["owed"],
        "120.00"
    );
}

#[tokio::test]
async fn a_refused_api_token_keeps_the_delivery_for_a_retry_instead_of_dropping_it() {
    let revoked = gocardless_deps_with("gc-token", api_with("sandbox_revoked_token")).await;
    let story = Story::new();
    story.seed();
    // An ignored event beside it does not make the batch "taken".
    let body = batch(&[
        story.event("payments", "created", json!({})),
        story.event("payments", "paid_out", json!({})),
    ]);
    let (status, answer) = post(&revoked, gocardless_request(&body, SECRET)).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["events"][0]["outcome"], "retry", "{answer}");
    assert!(!answer.to_string().contains("revoked_token"), "{answer}");
    assert!(!account_exists(&revoked, &story.account()).await);
    // The token put right, GoCardless's retry is taken.
    let fixed = Deps {
        objects: Some(api()),
        ..revoked
    };
    let (status, answer) = post(&fixed, gocardless_request(&body, SECRET)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["events"][0]["outcome"], "applied", "{answer}");
}

#[tokio::test]
async fn a_stopped_mandate_is_told_once_and_the_customer_joins_the_stripe_account_by_email() {
    let gc = gocardless_deps("gc-mandate").await;
    // The customer already pays by Stripe.
    post(
        &gc,
        stripe_request(&stripe_fixture("invoice.finalized"), STRIPE_SECRET, NOW),
    )
    .await;
    let story = Story::new().with_email("dana@whitfield.example");
    story.seed();
    for action in ["cancelled", "expired"] {
        let stopped = story.mandate_event(action);
        let (status, answer) = post(&gc, gocardless_request(&batch(&[stopped]), SECRET)).await;
        assert_eq!(status, 200, "{answer}");
    }
    // One account: Stripe's, by the contact's address; one notice for the mandate.
    assert!(!account_exists(&gc, &story.account()).await);
    assert_eq!(
        notices(&gc, STRIPE_CUSTOMER, "direct_debit_stopped_notice").await,
        1
    );
    // And the payment's invoice lands there too, beside Stripe's.
    let created = story.event("payments", "created", json!({}));
    post(&gc, gocardless_request(&batch(&[created]), SECRET)).await;
    let shown = show(&gc, STRIPE_CUSTOMER).await;
    assert_eq!(shown["invoices"].as_array().unwrap().len(), 2, "{shown}");
}

#[tokio::test]
async fn a_payment_whose_metadata_names_a_known_invoice_pays_that_invoice() {
    let gc = gocardless_deps("gc-named-invoice").await;
    post(
        &gc,
        stripe_request(&stripe_fixture("invoice.finalized"), STRIPE_SECRET, NOW),
    )
    .await;
    let story = Story::new().with_metadata(json!({"invoice": STRIPE_INVOICE}));
    story.seed();
    let body = batch(&[
        story.event("payments", "created", json!({})),
        story.event("payments", "confirmed", json!({})),
    ]);
    let (status, answer) = post(&gc, gocardless_request(&body, SECRET)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["events"][0]["outcome"], "ignored", "{answer}");
    let shown = show(&gc, STRIPE_CUSTOMER).await;
    let invoices = shown["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 1, "{shown}");
    assert_eq!(invoices[0]["owed"], "0.00", "{shown}");
}

#[tokio::test]
async fn forged_malformed_oversized_and_misrouted_deliveries_are_refused_and_change_nothing() {
    let gc = gocardless_deps("gc-bad").await;
    let story = Story::new();
    story.seed();
    let body = batch(&[story.event("payments", "created", json!({}))]);
    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    let signed = |b: &[u8], secret: &str| gocardless_request(b, secret);
    for (what, request, status) in [
        ("another secret", signed(&body, "another_secret"), 401),
        (
            "a tampered body",
            {
                let mut r = signed(&body, SECRET);
                *r.body_mut() = lambda_http::Body::Binary(tampered.clone());
                r
            },
            401,
        ),
        (
            "no signature",
            request("POST", "/gocardless", &[], body.clone()),
            401,
        ),
        (
            "a signature that is not hex",
            request(
                "POST",
                "/gocardless",
                &[("webhook-signature", "zz".repeat(32))],
                body.clone(),
            ),
            401,
        ),
        ("not JSON", signed(b"{not json", SECRET), 400),
        ("no events", signed(br#"{"events": []}"#, SECRET), 400),
        (
            "not an event batch",
            signed(br#"{"id": "EV1"}"#, SECRET),
            400,
        ),
        ("a GET", request("GET", "/gocardless", &[], vec![]), 405),
        (
            "another path",
            request("POST", "/gocardless/events", &[], body.clone()),
            404,
        ),
        (
            "an oversized body",
            signed(&vec![b' '; 256 * 1024 + 1], SECRET),
            413,
        ),
    ] {
        let (got, answer) = post(&gc, request).await;
        assert_eq!(got, status, "{what}: {answer}");
        assert_eq!(answer["outcome"], "rejected", "{what}: {answer}");
    }
    assert!(!account_exists(&gc, &story.account()).await);
    assert!(api_requests(&format!("/payments/{}", story.payment)).is_empty());
    // One malformed event does not hold up the batch; it is reported.
    let mut broken = story.event("payments", "created", json!({}));
    broken["created_at"] = json!("yesterday");
    let good = story.event("payments", "created", json!({}));
    let (status, answer) = post(&gc, gocardless_request(&batch(&[broken, good]), SECRET)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["events"][0]["outcome"], "rejected", "{answer}");
    assert_eq!(answer["events"][1]["outcome"], "applied", "{answer}");
}
