//! The aging report's cost for 100,000 accounts, 5% of them overdue, on
//! DynamoDB Local: the time `services::aging::report` takes to read the due
//! index (every open invoice, with what is owed), the last 30 days' issued
//! listings and the accounts' names from the status index, and how many
//! index items that is.
//!
//! The table is filled directly with the items a commit writes for such
//! accounts (an invoice entry in the due index, the account in the status
//! index, the invoice's issued listing), 25 to a BatchWriteItem, so the
//! bench measures the report and not a day of webhooks. Not criterion:
//! filling the table takes minutes. `PASTDUE_BENCH_ACCOUNTS` changes the
//! count, `PASTDUE_BENCH_RUNS` the runs (3); the median and range go to
//! stderr.
//!
//! Needs the local stack: `make stack && eval "$(make env)"`, then
//! `cargo bench -p pastdue-tests --bench aging`.

mod fill;
#[path = "../support.rs"]
mod support;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration as Days, Utc};
use pastdue_shared::adapters::dynamodb::{DynamoDueIndex, DynamoStore, keys};
use pastdue_shared::domain::{AccountId, Currency, Policy};
use pastdue_shared::services::aging;

type Item = std::collections::HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// Account `n`'s three items: its status entry, its invoice in the due
/// index (every twentieth overdue, by up to 120 days), its issued listing.
fn items(n: usize, now: DateTime<Utc>) -> [Item; 3] {
    let id = AccountId::parse(&format!("cus_bench{n:06}")).unwrap();
    let usd = Currency::parse("USD").unwrap();
    let today = now.date_naive();
    let days = i64::try_from(n % 120).unwrap_or(0);
    let due = if n.is_multiple_of(20) {
        today - Days::days(days + 1)
    } else {
        today + Days::days(days % 28 + 1)
    };
    let issued = due - Days::days(14);
    let pk = keys::account_pk(&id);
    let state = Item::from([
        (keys::PK.into(), s(pk.clone())),
        (keys::SK.into(), s(keys::STATE_SK)),
        (keys::GSI2_PK.into(), s(keys::status_pk("active"))),
        (keys::GSI2_SK.into(), s(id.as_str())),
        (keys::NAME.into(), s(format!("Customer {n}"))),
    ]);
    let invoice = Item::from([
        (keys::PK.into(), s(pk.clone())),
        (keys::SK.into(), s("INV#in_1")),
        (
            keys::GSI1_PK.into(),
            s(keys::due_shard_pk(keys::due_shard(&id))),
        ),
        (
            keys::GSI1_SK.into(),
            s(keys::owed_sort_key(due, &id, "in_1", "120.00", usd)),
        ),
        (keys::TZ_ATTRIBUTE.into(), s("UTC")),
    ]);
    let listing = Item::from([
        (keys::PK.into(), s(pk)),
        (keys::SK.into(), s(format!("ATTN#issued#{issued}#in_1"))),
        (
            keys::GSI2_PK.into(),
            s(keys::issued_pk(issued, keys::due_shard(&id))),
        ),
        (
            keys::GSI2_SK.into(),
            s(keys::issued_sort_key(usd, "120.00", &id, "in_1")),
        ),
    ]);
    [state, invoice, listing]
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::main]
async fn main() {
    let accounts = support::bench_setting("PASTDUE_BENCH_ACCOUNTS", 100_000);
    let runs = support::bench_setting("PASTDUE_BENCH_RUNS", 3).max(1);
    let (client, table) = support::fresh_table("bench-aging").await;
    let now = Utc::now();
    let filled = Instant::now();
    fill::put_all(
        &client,
        table.as_str(),
        (0..accounts).flat_map(|n| items(n, now)),
        8,
    )
    .await;
    eprintln!(
        "filled {accounts} accounts ({} items) in {:.0?}",
        accounts * 3,
        filled.elapsed()
    );

    let store = DynamoStore::new(client.clone(), table.clone(), Policy::default());
    let due = DynamoDueIndex::new(client, table);
    let mut times = Vec::new();
    let mut report = None;
    for _ in 0..runs {
        let start = Instant::now();
        report = Some(
            aging::report(&due, &store, &Policy::default(), now)
                .await
                .unwrap(),
        );
        times.push(start.elapsed());
    }
    let report = report.unwrap();
    let usd = &report.currencies[0];
    let overdue: usize = usd.buckets[1..].iter().map(|b| b.accounts.len()).sum();
    assert_eq!(overdue, accounts.div_ceil(20), "5% overdue");
    let (lo, hi) = (times.iter().min().unwrap(), times.iter().max().unwrap());
    eprintln!(
        "aging report over {accounts} accounts ({overdue} overdue; {accounts} due-index entries, {accounts} names, 30 days of issued listings): median {:.2?} (range {lo:.2?} to {hi:.2?}, {runs} runs); USD {} owed, DSO {}",
        median(times.clone()),
        usd.total,
        usd.dso.as_deref().unwrap_or("-"),
    );
}
