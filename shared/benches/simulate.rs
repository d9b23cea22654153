//! `simulate` at scale: 1,000 accounts, 100,000 events, 180 days.
//! Run: `cargo bench -p pastdue-shared --bench simulate`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pastdue_shared::domain::Policy;
use pastdue_shared::domain::simulate::{Scenario, simulate};
use serde_json::{Value, json};

const ACCOUNTS: usize = 1_000;
const EVENTS_PER_ACCOUNT: usize = 100;
const DAYS: i64 = 180;

/// A small deterministic generator (no dependency, same scenario every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn day(d: i64) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default() + chrono::Duration::days(d)
}

/// Monthly invoices, payments (on time, late, partial, never), failures,
/// disputes, holds and duplicate deliveries, spread over 180 days.
fn scenario() -> Scenario {
    let zones = [
        "UTC",
        "America/New_York",
        "Europe/Berlin",
        "Asia/Kolkata",
        "Australia/Sydney",
    ];
    let mut rng = Lcg(42);
    let mut accounts = Vec::with_capacity(ACCOUNTS);
    let mut events: Vec<Value> = Vec::with_capacity(ACCOUNTS * EVENTS_PER_ACCOUNT);
    for a in 0..ACCOUNTS {
        let id = format!("acct_{a:04}");
        accounts.push(json!({"id": id, "name": format!("Customer {a}"), "timezone": zones[a % zones.len()], "exempt": a % 50 == 0,
            "contacts": [{"name": "Billing", "email": format!("billing{a}@example.com"), "roles": ["billing"]},
                         {"name": "Owner", "email": format!("owner{a}@example.com"), "roles": ["primary", "escalation"]}]}));
        let mut mine: Vec<Value> = Vec::with_capacity(EVENTS_PER_ACCOUNT);
        let mut n = 0;
        let mut push = |mine: &mut Vec<Value>, mut e: Value, d: i64, h: u64| {
            e["id"] = json!(format!("{id}_e{n}"));
            e["account"] = json!(id);
            e["at"] = json!(format!("{}T{h:02}:00:00Z", day(d)));
            n += 1;
            mine.push(e);
        };
        for month in 0..6i64 {
            let issued = month * 30;
            let inv = format!("in_{a}_{month}");
            let amount = 50 + rng.next(900);
            push(
                &mut mine,
                json!({"type": "invoice_issued", "invoice": inv, "amount": format!("{amount}.00"), "currency": "USD", "due": day(issued + 14).to_string()}),
                issued,
                8,
            );
            match rng.next(10) {
                0..=5 => push(
                    &mut mine,
                    json!({"type": "payment_succeeded", "invoice": inv, "amount": format!("{amount}.00"), "currency": "USD", "payment": format!("pi_{a}_{month}")}),
                    issued + rng.next(14) as i64,
                    rng.next(24),
                ),
                6 | 7 => push(
                    &mut mine,
                    json!({"type": "payment_succeeded", "invoice": inv, "amount": format!("{amount}.00"), "currency": "USD", "payment": format!("pi_{a}_{month}")}),
                    issued + 14 + rng.next(40) as i64,
                    rng.next(24),
                ),
                8 => push(
                    &mut mine,
                    json!({"type": "payment_succeeded", "invoice": inv, "amount": format!("{}.00", amount / 2), "currency": "USD", "payment": format!("pi_{a}_{month}")}),
                    issued + 20,
                    12,
                ),
                _ => {}
            }
            if rng.next(8) == 0 {
                push(
                    &mut mine,
                    json!({"type": "dispute_opened", "invoice": inv, "dispute": format!("dp_{a}_{month}"), "amount": "20.00", "currency": "USD"}),
                    issued + 25,
                    10,
                );
                push(
                    &mut mine,
                    json!({"type": "dispute_closed", "dispute": format!("dp_{a}_{month}"), "outcome": if rng.next(2) == 0 { "won" } else { "lost" }}),
                    issued + 40,
                    10,
                );
            }
        }
        while mine.len() < EVENTS_PER_ACCOUNT {
            let d = rng.next(DAYS as u64) as i64;
            match rng.next(4) {
                // Processors retry: the same delivery again.
                0 | 1 => {
                    let again = mine[rng.next(mine.len() as u64) as usize].clone();
                    mine.push(again);
                }
                2 => push(
                    &mut mine,
                    json!({"type": "payment_failed", "invoice": format!("in_{a}_{}", rng.next(6)), "amount": "10.00", "currency": "USD", "reason": "card_declined"}),
                    d,
                    rng.next(24),
                ),
                _ => push(
                    &mut mine,
                    json!({"type": "hold_placed", "until": day(d + rng.next(10) as i64).to_string(), "reason": "promise"}),
                    d,
                    rng.next(24),
                ),
            }
        }
        events.extend(mine);
    }
    let text = json!({"from": day(0).to_string(), "to": day(DAYS - 1).to_string(), "accounts": accounts, "events": events}).to_string();
    match Scenario::from_json_str(&text) {
        Ok(s) => s,
        Err(e) => panic!("generated scenario is invalid: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let scenario = scenario();
    assert_eq!(scenario.events.len(), ACCOUNTS * EVENTS_PER_ACCOUNT);
    let policy = Policy::default();
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    group.bench_function("1000 accounts, 100000 events, 180 days", |b| {
        b.iter(|| simulate(black_box(&scenario), black_box(&policy)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
