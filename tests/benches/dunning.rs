//! One hourly `dunning` invocation against DynamoDB Local: accounts
//! evaluated per second and capacity per evaluated account, with 100,000
//! accounts of which 5% are overdue (`PASTDUE_BENCH_ACCOUNTS`,
//! `PASTDUE_BENCH_OVERDUE_PERCENT` change that). The current accounts are
//! in the table but never read: the cost follows the overdue accounts.
//!
//! Needs the local stack: `make stack && eval "$(make env)"`, then
//! `cargo bench -p pastdue-tests --bench dunning`.

mod fill;
#[path = "../support.rs"]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::StreamExt;
use pastdue_shared::adapters::dynamodb::{DynamoDueIndex, DynamoStore};
use pastdue_shared::domain::{Account, ActionMessage, Event, Policy};
use pastdue_shared::handlers::dunning::{self, Deadline, Dunning};
use pastdue_shared::ports::{PublishActions, PublishError};
use serde_json::json;

/// Counts what would go on the bus (the bus itself is not measured here).
struct CountingBus(std::sync::atomic::AtomicUsize);

impl PublishActions for CountingBus {
    async fn publish_actions(&self, messages: &[ActionMessage]) -> Result<(), PublishError> {
        self.0
            .fetch_add(messages.len(), std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

struct NoDeadline;

impl Deadline for NoDeadline {
    fn expired(&self) -> bool {
        false
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn account(id: &str) -> Account {
    Account::from_json(
        &json!({"id": id, "name": format!("Customer {id}"), "timezone": "UTC",
        "contacts": [{"name": "Pat", "email": "pat@example.com", "roles": ["billing"]}]}),
    )
    .unwrap()
}

fn event(v: serde_json::Value) -> Event {
    Event::from_json(&v).unwrap()
}

/// Overdue accounts go through the store (one invoice, due 2026-01-15).
async fn seed_overdue(store: &DynamoStore, n: usize) {
    futures::stream::iter(0..n)
        .for_each_concurrent(32, |i| async move {
            let id = format!("late_{i:06}");
            support::accounts(store).upsert_account(&account(&id)).await.unwrap();
            support::accounts(store)
                .apply(&event(json!({"id": format!("{id}-i"), "at": "2026-01-01T10:00:00Z", "account": id,
                    "type": "invoice_issued", "invoice": "in_1", "amount": "100.00", "currency": "USD", "due": "2026-01-15"})))
                .await
                .unwrap();
        })
        .await;
}

/// Current accounts (an invoice, paid) are copies of one account written
/// through the store, put in batches: they exist, they are never read.
async fn seed_current(
    client: &aws_sdk_dynamodb::Client,
    store: &DynamoStore,
    table: &str,
    n: usize,
) {
    let template = "paid_template";
    support::accounts(store)
        .upsert_account(&account(template))
        .await
        .unwrap();
    support::accounts(store)
        .apply(&event(json!({"id": "t-i", "at": "2026-01-01T10:00:00Z", "account": template,
            "type": "invoice_issued", "invoice": "in_1", "amount": "100.00", "currency": "USD", "due": "2026-01-15"})))
        .await
        .unwrap();
    support::accounts(store)
        .apply(&event(
            json!({"id": "t-p", "at": "2026-01-10T10:00:00Z", "account": template,
            "type": "payment_succeeded", "invoice": "in_1", "amount": "100.00", "currency": "USD"}),
        ))
        .await
        .unwrap();
    let items: Vec<HashMap<String, AttributeValue>> = store
        .export_items()
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i["PK"].as_s().is_ok_and(|pk| pk.ends_with(template)))
        .collect();
    let copies = (0..n).flat_map(|i| {
        let id = format!("paid_{i:06}");
        items
            .iter()
            .map(move |item| {
                item.iter()
                    .map(|(k, v)| {
                        let v = match v.as_s() {
                            Ok(s) => AttributeValue::S(s.replace(template, &id)),
                            Err(_) => v.clone(),
                        };
                        (k.clone(), v)
                    })
                    .collect::<HashMap<_, _>>()
            })
            .collect::<Vec<_>>()
    });
    fill::put_all(client, table, copies, 16).await;
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let total = env_number("PASTDUE_BENCH_ACCOUNTS", 100_000);
    let percent = env_number("PASTDUE_BENCH_OVERDUE_PERCENT", 5);
    let overdue = total * percent / 100;
    let (deps, capacity_before) = rt.block_on(async {
        let (client, table) = support::fresh_table("bench-dunning").await;
        let policy = Policy::default();
        let store = DynamoStore::new(client.clone(), table.clone(), policy.clone());
        let started = Instant::now();
        seed_overdue(&store, overdue).await;
        seed_current(&client, &store, table.as_str(), total - overdue).await;
        println!(
            "seeded {total} accounts ({overdue} overdue) in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        let before = (store.capacity().reads(), store.capacity().writes());
        (
            Dunning {
                due: DynamoDueIndex::new(client, table),
                runs: support::accounts(&store),
                store,
                bus: CountingBus(Default::default()),
                run_hour: policy.run_hour,
                shard_parallelism: 4,
                account_parallelism: 16,
            },
            before,
        )
    });

    // One sample per business day from 2026-01-16: every overdue account is
    // evaluated again on each new local date.
    let day = std::sync::atomic::AtomicI64::new(0);
    let evaluated = std::sync::atomic::AtomicUsize::new(0);
    let mut group = c.benchmark_group("dunning");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(1));
    group.bench_function(
        format!("hourly run, {total} accounts, {overdue} overdue"),
        |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let n = day.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let now: DateTime<Utc> =
                        "2026-01-16T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
                            + chrono::Duration::days(n);
                    let started = Instant::now();
                    let report = rt.block_on(dunning::run(&deps, now, &NoDeadline)).unwrap();
                    spent += started.elapsed();
                    assert!(report.complete && report.failed == 0, "{report:?}");
                    evaluated.fetch_add(report.evaluated, std::sync::atomic::Ordering::Relaxed);
                }
                spent
            });
        },
    );
    group.finish();
    let runs = day.load(std::sync::atomic::Ordering::Relaxed).max(1) as f64;
    let evaluated = evaluated.load(std::sync::atomic::Ordering::Relaxed).max(1) as f64;
    let reads = deps.store.capacity().reads() - capacity_before.0;
    let writes = deps.store.capacity().writes() - capacity_before.1;
    println!(
        "{runs} runs, {:.0} accounts evaluated per run; per evaluated account: {:.2} RCU read, {:.2} WCU reported, {} actions published in all",
        evaluated / runs,
        reads / evaluated,
        writes / evaluated,
        deps.bus.0.load(std::sync::atomic::Ordering::Relaxed)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
