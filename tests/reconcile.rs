//! Reconciliation's backfill end to end on the local stack: Stripe's events
//! listed by the loopback Stripe API (`dev/stripe_api.py`), taken through
//! the webhook's own path into DynamoDB Local, the checkpoint kept there.
//! A month of events the webhook partly missed is backfilled exactly once;
//! what the webhook brought is a no-op; a run cut short goes on, and one
//! that dies in the middle of a page is taken up with nothing counted twice.

mod ingest_harness;
#[allow(dead_code)] // this target uses part of it
mod stripe_shapes;
mod support;

use std::time::Duration;

use ingest_harness::*;
use pastdue_shared::ports::reconcile::{
    DeliverError, Delivered, ReconcileCheckpoints, TakeDelivery,
};
use pastdue_shared::services::reconcile::{Settings, run};
use serde_json::Value;
use stripe_shapes::Family;

const DAY: i64 = 86_400;

/// A month of one customer's invoices, one every three days, each paid a
/// day later (an invoice payment and the invoice restated as paid), as
/// endive sends them. Oldest first.
fn month(f: &Family, customer: &str) -> Vec<Value> {
    let mut events = Vec::new();
    for n in 0..10_i64 {
        let at = NOW - 30 * DAY + n * 3 * DAY;
        let invoice_id = format!("in_{customer}{n}");
        let invoice = |set: &[(&str, Value)]| {
            let mut fields: Vec<(&str, Value)> = vec![
                ("id", invoice_id.clone().into()),
                ("customer", format!("cus_{customer}").into()),
                ("customer_email", "dana@whitfield.example".into()),
                ("customer_name", "Dana Whitfield".into()),
                ("currency", "usd".into()),
                ("amount_due", 5_000.into()),
                ("amount_remaining", 5_000.into()),
                ("status", "open".into()),
                ("due_date", (at + 2 * DAY).into()),
                ("status_transitions.finalized_at", at.into()),
            ];
            fields.extend(set.iter().cloned());
            f.object("invoice", &fields)
        };
        events.push(f.event(
            &format!("evt_{customer}{n}a"),
            "invoice.finalized",
            at,
            invoice(&[]),
        ));
        let payment = f.object(
            "invoice_payment",
            &[
                ("id", format!("inpay_{customer}{n}").into()),
                ("invoice", invoice_id.clone().into()),
                ("amount_paid", 5_000.into()),
                ("currency", "usd".into()),
                ("payment.type", "payment_intent".into()),
                ("payment.payment_intent", format!("pi_{customer}{n}").into()),
                ("status", "paid".into()),
            ],
        );
        events.push(f.event(
            &format!("evt_{customer}{n}b"),
            "invoice_payment.paid",
            at + DAY,
            payment,
        ));
        events.push(f.event(
            &format!("evt_{customer}{n}c"),
            "invoice.paid",
            at + DAY,
            invoice(&[
                ("status", "paid".into()),
                ("amount_paid", 5_000.into()),
                ("amount_remaining", 0.into()),
            ]),
        ));
    }
    events
}

/// Stripe's log of `events` on the loopback API, under a key of its own.
fn stripe_listing(
    label: &str,
    events: &[Value],
) -> pastdue_shared::adapters::stripe_api::StripeEvents {
    let key = format!("rk_test_{label}{}", fastrand::u32(..));
    support::stripe_api_set(&key, "events", &Value::from(events.to_vec()));
    support::stripe_events(
        &key,
        &["invoice.finalized", "invoice_payment.paid", "invoice.paid"],
    )
}

/// Every invoice of `customer`'s month is paid, each payment counted once.
fn assert_each_paid_once(shown: &Value, customer: &str) {
    let mut got = owed(shown);
    got.sort();
    let all_paid: Vec<String> = (0..10)
        .map(|n| format!("in_{customer}{n} \"0.00\""))
        .collect();
    assert_eq!(got, all_paid, "{shown}");
    assert!(
        shown["invoices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["paid"] == "50.00"),
        "each payment counted once: {shown}"
    );
}

fn owed(shown: &Value) -> Vec<String> {
    shown["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{} {}", i["id"].as_str().unwrap(), i["outstanding"]))
        .collect()
}

#[tokio::test]
async fn a_month_the_webhook_partly_missed_is_backfilled_once_and_a_cut_run_goes_on() {
    let f = Family::load("endive", "dahlia");
    let d = deps("reconcile-month").await;
    let customer = format!("Rec{}", fastrand::u32(..));
    let events = month(&f, &customer);
    // The webhook brought only the first third.
    for e in &events[..10] {
        let (status, answer) = post(
            &d,
            stripe_request(&serde_json::to_vec(e).unwrap(), STRIPE_SECRET, NOW),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }
    let log = stripe_listing("reconcile", &events);
    let take = from_api(&d, NOW);
    let settings = Settings::default();
    // A run with no time left stops before its first page, and saves the
    // pass it began: the next run takes it up.
    let cut = run(&log, &take, &d.store, "stripe", &settings, NOW, || {
        Duration::from_secs(1)
    })
    .await
    .unwrap();
    assert_eq!((cut.pages, cut.finished), (0, false));
    let report = run(&log, &take, &d.store, "stripe", &settings, NOW, || {
        Duration::from_secs(900)
    })
    .await
    .unwrap();
    assert!(report.finished, "{report:?}");
    assert_eq!(report.taken, 30, "{report:?}");
    let shown = show(&d, &format!("cus_{customer}")).await;
    assert_each_paid_once(&shown, &customer);

    // The timeline says which came by webhook and which by reconciliation.
    let timeline = d
        .store
        .timeline(&pastdue_shared::domain::AccountId::parse(&format!("cus_{customer}")).unwrap())
        .await
        .unwrap();
    let via: Vec<(&str, bool)> = timeline
        .iter()
        .filter(|e| e.kind == "event" && e.summary.contains("(applied"))
        .map(|e| {
            (
                e.detail["event"]["id"].as_str().unwrap(),
                e.summary.ends_with("via reconciliation)"),
            )
        })
        .collect();
    let by_webhook = |id: &str| {
        events[..10]
            .iter()
            .any(|e| id.starts_with(&format!("stripe:{}:", e["id"].as_str().unwrap())))
    };
    assert!(via.len() >= 20, "{via:?}");
    assert!(
        via.iter()
            .all(|(id, reconciled)| *reconciled != by_webhook(id)),
        "{via:?}"
    );

    // The webhook's retries of what it missed are now duplicates.
    for e in &events[10..] {
        let (_, answer) = post(
            &d,
            stripe_request(&serde_json::to_vec(e).unwrap(), STRIPE_SECRET, NOW),
        )
        .await;
        assert_eq!(answer["outcome"], "duplicate", "{answer}");
    }
    // A second run reads only the overlap and takes nothing new.
    let (checkpoint, _) = ReconcileCheckpoints::load(&d.store, "stripe")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((checkpoint.through, checkpoint.pass), (NOW, None));
    let again = run(
        &log,
        &take,
        &d.store,
        "stripe",
        &settings,
        NOW + 3_600,
        || Duration::from_secs(900),
    )
    .await
    .unwrap();
    assert_eq!(again.taken, 0, "{again:?}");
    assert_eq!(show(&d, &format!("cus_{customer}")).await, shown);
}

/// The real delivery path, until the process dies after `left` deliveries.
struct DiesAfter<'a, T> {
    take: &'a T,
    left: std::sync::atomic::AtomicUsize,
}

impl<T: TakeDelivery> TakeDelivery for DiesAfter<'_, T> {
    async fn take(&self, body: &[u8]) -> Result<Delivered, DeliverError> {
        use std::sync::atomic::Ordering;
        if self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_err()
        {
            return Err(DeliverError("the process died".into()));
        }
        self.take.take(body).await
    }
}

#[tokio::test]
async fn a_run_that_dies_in_the_middle_of_a_page_is_taken_up_and_nothing_counts_twice() {
    let f = Family::load("endive", "dahlia");
    let d = deps("reconcile-midpage").await;
    let customer = format!("Mid{}", fastrand::u32(..));
    let events = month(&f, &customer);
    let log = stripe_listing("midpage", &events);
    let take = from_api(&d, NOW);
    let settings = Settings::default();
    // One page of 30 events; the run dies after taking 13 of them.
    let dying = DiesAfter {
        take: &take,
        left: 13.into(),
    };
    let died = run(&log, &dying, &d.store, "stripe", &settings, NOW, || {
        Duration::from_secs(900)
    })
    .await;
    assert!(died.is_err(), "{died:?}");
    let saved = ReconcileCheckpoints::load(&d.store, "stripe")
        .await
        .unwrap();
    assert!(
        saved
            .as_ref()
            .is_none_or(|(c, _)| c.pass.as_ref().is_some_and(|p| p.after.is_none())),
        "the page it died in is not behind it: {saved:?}"
    );
    // The next run takes the whole page again: the 13 are duplicates.
    let report = run(&log, &take, &d.store, "stripe", &settings, NOW, || {
        Duration::from_secs(900)
    })
    .await
    .unwrap();
    assert!(report.finished, "{report:?}");
    assert_each_paid_once(&show(&d, &format!("cus_{customer}")).await, &customer);
}
