//! Reconciliation's backfill of 10,000 Stripe events against the local
//! stack, in events per second: one whole first pass into a fresh table
//! (every event applied), and a rerun over the same 30 days on the table the
//! last first pass filled, under a checkpoint of its own (every event
//! already taken: the duplicates path).
//!
//! The events are endive deliveries built from Stripe's published objects
//! (`stripe_shapes`): invoices of 1,000 customers spread over the 30 days
//! Stripe keeps, each finalized and, a day later, its payment paid and the
//! invoice restated as paid. The loopback Stripe API (`dev/stripe_api.py`)
//! lists them under a key of the bench's own, 100 a page, newest first; they
//! go through the webhook's own path (`FromApi`) into DynamoDB Local, one
//! event at a time as `services::reconcile::run` takes them.
//!
//! Not criterion: a first pass takes over a minute here, and criterion's
//! ten samples at the least (eleven runs with its warm-up) would take a
//! quarter of an hour. The bench times `PASTDUE_BENCH_RUNS` runs of each
//! (3 by default) and prints the median, the range and events per second on
//! stderr; `PASTDUE_BENCH_EVENTS` changes the count. Each first pass has a
//! table of its own, dropped when the next one is made.
//!
//! Needs the local stack: `make stack && eval "$(make env)"`, then
//! `cargo bench -p pastdue-tests --bench reconcile`.

#[allow(dead_code)] // this target uses part of it
#[path = "../ingest_harness.rs"]
mod ingest_harness;
#[allow(dead_code)] // this target uses part of it
#[path = "../stripe_shapes.rs"]
mod stripe_shapes;
#[path = "../support.rs"]
mod support;

use std::time::{Duration, Instant};

use ingest_harness::{Deps, NOW, deps};
use pastdue_shared::adapters::stripe_api::{ApiKey, Retries, StripeApi, StripeEvents};
use pastdue_shared::services::reconcile::{Report, Settings, run};
use serde_json::{Value, json};
use stripe_shapes::Family;

const DAY: i64 = 86_400;
const CUSTOMERS: usize = 1_000;
/// The table label: the bench drops only the tables it made.
const LABEL: &str = "bench-reconcile";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `kind` from the family's published object, with `fields` (a JSON
/// object; dotted names reach into nested objects) set.
fn shaped(f: &Family, kind: &str, fields: &Value) -> Value {
    let set: Vec<(&str, Value)> = fields
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    f.object(kind, &set)
}

/// Invoice `n`, finalized at `at`: `invoice.finalized`, then a day later
/// `invoice_payment.paid` and `invoice.paid`, oldest first.
fn invoice_events(f: &Family, n: usize, at: i64) -> [Value; 3] {
    let id = format!("in_bench{n:05}");
    let customer = format!("cus_bench{:04}", n % CUSTOMERS);
    let open = json!({
        "id": id, "customer": customer,
        "customer_email": format!("billing@{customer}.example"),
        "customer_name": format!("Customer {customer}"),
        "currency": "usd", "amount_due": 12_000, "amount_remaining": 12_000,
        "status": "open", "due_date": at + 14 * DAY,
        "status_transitions.finalized_at": at,
    });
    let mut paid = open.clone();
    for (k, v) in [
        ("status", json!("paid")),
        ("amount_paid", json!(12_000)),
        ("amount_remaining", json!(0)),
    ] {
        paid[k] = v;
    }
    let payment = json!({
        "id": format!("inpay_bench{n:05}"), "invoice": id, "amount_paid": 12_000,
        "currency": "usd", "status": "paid", "payment.type": "payment_intent",
        "payment.payment_intent": format!("pi_bench{n:05}"),
    });
    [
        f.event(
            &format!("evt_bench{n:05}f"),
            "invoice.finalized",
            at,
            shaped(f, "invoice", &open),
        ),
        f.event(
            &format!("evt_bench{n:05}p"),
            "invoice_payment.paid",
            at + DAY,
            shaped(f, "invoice_payment", &payment),
        ),
        f.event(
            &format!("evt_bench{n:05}i"),
            "invoice.paid",
            at + DAY,
            shaped(f, "invoice", &paid),
        ),
    ]
}

/// `count` events, oldest first, all within the 30 days before `NOW`
/// (the last payment a minute before it).
fn events(count: usize) -> Vec<Value> {
    let f = Family::load("endive", "dahlia");
    let invoices = count.div_ceil(3);
    let first = NOW - 30 * DAY + 60;
    let span = 29 * DAY - 120;
    (0..invoices)
        .flat_map(|n| invoice_events(&f, n, first + span * n as i64 / invoices as i64))
        .take(count)
        .collect()
}

/// One backfill run at `NOW` under `checkpoint`, with all the time it wants.
async fn backfill(log: &StripeEvents, d: &Deps, checkpoint: &str) -> Report {
    let take = ingest_harness::from_api(d, NOW);
    run(
        log,
        &take,
        &d.store,
        checkpoint,
        &Settings::default(),
        NOW,
        || Duration::from_secs(900),
    )
    .await
    .unwrap()
}

/// Drops this process's bench tables (DynamoDB Local keeps them in memory).
async fn drop_tables() {
    let client = aws_sdk_dynamodb::Client::new(&support::sdk_config().await);
    let mine = format!("t-{LABEL}-{}-", std::process::id());
    let mut names = client.list_tables().into_paginator().items().send();
    let mut found = Vec::new();
    while let Some(name) = names.next().await {
        let name = name.unwrap();
        if name.starts_with(&mine) {
            found.push(name);
        }
    }
    for name in found {
        client.delete_table().table_name(name).send().await.unwrap();
    }
}

/// Times `runs` runs of `one`, which returns what each run took, and says
/// so on stderr: the median, the range and events per second at the median.
fn report(what: &str, count: usize, runs: usize, one: impl FnMut(usize) -> Duration) {
    let mut times: Vec<Duration> = (0..runs).map(one).collect();
    times.sort();
    let median = times[runs / 2];
    eprintln!(
        "{what}: {count} events, median of {runs} runs {:.1} s ({:.1} to {:.1} s), {:.0} events per second",
        median.as_secs_f64(),
        times[0].as_secs_f64(),
        times[runs - 1].as_secs_f64(),
        count as f64 / median.as_secs_f64(),
    );
}

/// What DynamoDB Local reported for `d`'s table since `before`, per event.
fn per_event(what: &str, d: &Deps, before: (f64, f64), events: usize) {
    let capacity = d.store.capacity();
    eprintln!(
        "{what}: per event {:.2} RCU read, {:.2} WCU reported by DynamoDB Local",
        (capacity.reads() - before.0) / events as f64,
        (capacity.writes() - before.1) / events as f64,
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let count = env_number("PASTDUE_BENCH_EVENTS", 10_000);
    let runs = env_number("PASTDUE_BENCH_RUNS", 3).max(1);
    let key = format!("rk_test_bench{}", fastrand::u32(..));
    let started = Instant::now();
    for chunk in events(count).chunks(500) {
        support::stripe_api_set(&key, "events", &Value::from(chunk.to_vec()));
    }
    eprintln!(
        "seeded {count} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let log = StripeEvents {
        api: StripeApi::new(
            &support::local_endpoint("STRIPE_API_BASE"),
            ApiKey::parse(&key).unwrap(),
            Retries::default(),
        )
        .unwrap(),
        types: ["invoice.finalized", "invoice_payment.paid", "invoice.paid"]
            .map(String::from)
            .to_vec(),
    };

    // First pass: a fresh table each run, every event applied.
    let mut last = None;
    report("first pass", count, runs, |_| {
        let d = rt.block_on(async {
            drop_tables().await;
            deps(LABEL).await
        });
        let started = Instant::now();
        let done = rt.block_on(backfill(&log, &d, "stripe"));
        let took = started.elapsed();
        assert!(done.finished, "{done:?}");
        assert_eq!(done.taken as usize, count, "{done:?}");
        last = Some(d);
        took
    });
    let d = last.expect("a first pass ran");
    per_event("first pass", &d, (0.0, 0.0), count);

    // Rerun: the same 30 days again on the last table, each run under a new
    // checkpoint so that it reads the whole window; every event a duplicate.
    let before = (d.store.capacity().reads(), d.store.capacity().writes());
    report("rerun", count, runs, |n| {
        let started = Instant::now();
        let done = rt.block_on(backfill(&log, &d, &format!("stripe-rerun-{n}")));
        let took = started.elapsed();
        assert!(done.finished, "{done:?}");
        assert_eq!(done.taken as usize, count, "{done:?}");
        took
    });
    per_event("rerun", &d, before, count * runs);

    support::stripe_api_set(&key, "reset", &Value::Null);
    rt.block_on(drop_tables());
}
