//! One customer paying through Stripe, PayPal and GoCardless: deliveries
//! of all three interleaved, concurrent, duplicated and shuffled, against
//! DynamoDB Local and the loopback APIs. Ids are namespaced per processor,
//! every event applies once, and the customer is one account.

mod gocardless_story;
#[allow(dead_code)] // the parts of the harness this target uses
mod ingest_harness;
mod paypal_story;
mod support;

use futures::future::join_all;
use gocardless_story::{STRIPE_CUSTOMER, batch, gocardless_request, stripe_fixture};
use ingest_harness::*;
use lambda_http::Request;
use paypal_story::*;
use serde_json::json;

const EMAIL: &str = "dana@whitfield.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_processors_interleaved_and_repeated_settle_one_account_exactly_once() {
    let d = all_deps("processors-interleaved").await;
    // The customer is known from Stripe first.
    let (status, _) = post(
        &d,
        stripe_request(&stripe_fixture("invoice.finalized"), STRIPE_SECRET, NOW),
    )
    .await;
    assert_eq!(status, 200);

    let paypal = Story::new(EMAIL);
    let gocardless = gocardless_story::Story::new().with_email(EMAIL);
    gocardless.seed();
    let gc_events = [
        gocardless.event("payments", "created", json!({})),
        gocardless.event("payments", "confirmed", json!({})),
    ];
    let pp_events = [
        paypal.event("INVOICING.INVOICE.UPDATED"),
        paypal.event("PAYMENT.CAPTURE.COMPLETED"),
    ];
    // Every delivery twice, as processors send them, in a shuffled order.
    let mut deliveries: Vec<Box<dyn Fn() -> Request + Send + Sync>> = Vec::new();
    for _ in 0..2 {
        for name in ["invoice_payment.paid", "invoice.paid"] {
            deliveries.push(Box::new(move || {
                stripe_request(&stripe_fixture(name), STRIPE_SECRET, now())
            }));
        }
        for event in &pp_events {
            let body = bytes(event);
            deliveries.push(Box::new(move || paypal_request(&body, &Signing::default())));
        }
        for event in &gc_events {
            let body = batch(std::slice::from_ref(event));
            deliveries.push(Box::new(move || {
                gocardless_request(&body, gocardless_story::SECRET)
            }));
        }
        // And once as one batch of both.
        let body = batch(&gc_events);
        deliveries.push(Box::new(move || {
            gocardless_request(&body, gocardless_story::SECRET)
        }));
    }
    fastrand::shuffle(&mut deliveries);

    // All at once; what is answered "retry" (a capture before its
    // invoice) is sent again, as the processor would.
    let mut pending: Vec<usize> = (0..deliveries.len()).collect();
    for _ in 0..5 {
        let answers = join_all(pending.iter().map(|&i| post_now(&d, deliveries[i]()))).await;
        pending = pending
            .into_iter()
            .zip(answers)
            .filter(|(_, (status, answer))| {
                assert!(
                    *status == 200 || answer["outcome"] == "retry",
                    "{status}: {answer}"
                );
                *status != 200
            })
            .map(|(i, _)| i)
            .collect();
        if pending.is_empty() {
            break;
        }
    }
    assert!(
        pending.is_empty(),
        "{} deliveries never taken",
        pending.len()
    );

    let shown = show(&d, STRIPE_CUSTOMER).await;
    let invoices = shown["invoices"].as_array().unwrap();
    let mut ids: Vec<&str> = invoices.iter().map(|i| i["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            format!("gocardless:{}", gocardless.payment),
            "in_1QhZ3lLkdIwHu7ixWhf01".to_owned(),
            format!("paypal:{}", paypal.invoice),
        ],
        "{shown}"
    );
    for invoice in invoices {
        assert_eq!(invoice["owed"], "0.00", "paid once, not twice: {shown}");
        assert_eq!(invoice["paid"], invoice["amount"], "{shown}");
    }
    assert_eq!(shown["status"], "active");
    for other in [paypal.account(), gocardless.account()] {
        assert!(
            !gocardless_story::account_exists(&d, &other).await,
            "{other}"
        );
    }
}
