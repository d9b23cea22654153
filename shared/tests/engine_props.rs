//! Properties of the engine over generated scenarios (spec §1, §5.1).

mod generated;

use generated::{at, cents};
use pastdue_shared::domain::engine::run_instant;
use pastdue_shared::domain::simulate::{Scenario, simulate};
use pastdue_shared::domain::{AccountState, Action, Policy};
use proptest::prelude::*;
use serde_json::{Value, json};

const FROM: &str = "2026-01-01";
const TO: &str = "2026-04-30";

/// One generated event body (without id), from a small vocabulary so that
/// ids collide and invoices are shared.
fn event() -> impl Strategy<Value = Value> {
    let inv = (0..3u8).prop_map(|i| format!("in_{i}"));
    let when = (0..110u32, 0..24u32);
    prop_oneof![
        3 => (inv.clone(), 1_000..60_000u32, 0..80u32, when.clone()).prop_map(|(i, c, due, (d, h))| json!({"type": "invoice_issued", "invoice": i, "amount": cents(c), "currency": "USD", "due": at(due, 0)[..10].to_string(), "at": at(d.min(due), h)})),
        4 => (inv.clone(), 100..60_000u32, proptest::option::of(0..4u8), when.clone()).prop_map(|(i, c, p, (d, h))| {
            let mut e = json!({"type": "payment_succeeded", "invoice": i, "amount": cents(c), "currency": "USD", "at": at(d, h)});
            if let Some(p) = p { e["payment"] = json!(format!("pi_{p}")); }
            e
        }),
        1 => (inv.clone(), 100..20_000u32, proptest::option::of(0..2u8), when.clone()).prop_map(|(i, c, r, (d, h))| {
            let mut e = json!({"type": "payment_refunded", "invoice": i, "amount": cents(c), "currency": "USD", "at": at(d, h)});
            if let Some(r) = r { e["refund"] = json!(format!("re_{r}")); }
            e
        }),
        1 => (inv.clone(), 0..2u8, 100..60_000u32, when.clone()).prop_map(|(i, dp, c, (d, h))| json!({"type": "dispute_opened", "invoice": i, "dispute": format!("dp_{dp}"), "amount": cents(c), "currency": "USD", "at": at(d, h)})),
        1 => (0..2u8, any::<bool>(), when.clone()).prop_map(|(dp, won, (d, h))| json!({"type": "dispute_closed", "dispute": format!("dp_{dp}"), "outcome": if won { "won" } else { "lost" }, "at": at(d, h)})),
        1 => (inv.clone(), when.clone()).prop_map(|(i, (d, h))| json!({"type": "invoice_voided", "invoice": i, "at": at(d, h)})),
        1 => (inv, when.clone()).prop_map(|(i, (d, h))| json!({"type": "payment_failed", "invoice": i, "amount": "10.00", "currency": "USD", "reason": "declined", "at": at(d, h)})),
        1 => (0..2u8, when.clone()).prop_map(|(c, (d, h))| json!({"type": "card_expiring", "card": format!("card_{c}"), "exp_month": 3, "exp_year": 2026, "at": at(d, h)})),
        1 => (0..30u32, when.clone()).prop_map(|(len, (d, h))| json!({"type": "hold_placed", "until": at(d + len, 0)[..10].to_string(), "reason": "promise", "at": at(d, h)})),
        1 => when.prop_map(|(d, h)| json!({"type": "hold_released", "at": at(d, h)})),
    ]
}

fn events() -> impl Strategy<Value = Vec<Value>> {
    proptest::collection::vec(event(), 1..24).prop_map(|bodies| {
        bodies
            .into_iter()
            .enumerate()
            .map(|(n, mut e)| {
                e["id"] = json!(format!("ev_{n}"));
                e["account"] = json!("acct_1");
                e
            })
            .collect()
    })
}

fn tz() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("UTC"),
        Just("America/New_York"),
        Just("Asia/Kolkata"),
        Just("Pacific/Auckland")
    ]
}

fn scenario(tz: &str, events: &[Value]) -> Scenario {
    let text = json!({"from": FROM, "to": TO, "accounts": [{"id": "acct_1", "name": "Acme", "timezone": tz, "exempt": false, "contacts": [
        {"name": "Dana", "email": "dana@acme.example", "roles": ["billing"]},
        {"name": "Kevin", "email": "kevin@acme.example", "roles": ["primary", "escalation"]}]}], "events": events})
    .to_string();
    Scenario::from_json_str(&text).unwrap()
}

fn actions(tz: &str, events: &[Value]) -> Vec<Value> {
    simulate(&scenario(tz, events), &Policy::default())
        .actions
        .iter()
        .map(Action::to_json)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn duplicating_any_subset_of_events_changes_nothing(tz in tz(), events in events(), picks in proptest::collection::vec(any::<proptest::sample::Index>(), 0..10)) {
        let mut with_dupes = events.clone();
        for p in &picks {
            with_dupes.push(events[p.index(events.len())].clone());
        }
        prop_assert_eq!(actions(tz, &events), actions(tz, &with_dupes));
    }

    #[test]
    fn running_the_same_date_twice_emits_nothing_new(tz in tz(), events in events()) {
        let policy = Policy::default();
        let sc = scenario(tz, &events);
        let mut order: Vec<_> = sc.events.iter().enumerate().collect();
        order.sort_by_key(|(i, e)| (e.at, *i));
        let mut state = AccountState::new(sc.accounts[0].clone());
        let mut pending = order.into_iter().peekable();
        let mut date = sc.from;
        let mut twice = Vec::new();
        while date <= sc.to {
            let run_at = run_instant(date, policy.run_hour, sc.accounts[0].timezone);
            while let Some((_, e)) = pending.next_if(|(_, e)| e.at < run_at) {
                if let Ok(pastdue_shared::domain::ApplyOutcome::Applied(mut done)) = state.apply(e, &policy) {
                    twice.append(&mut done);
                }
            }
            twice.extend(state.run(date, &policy));
            prop_assert!(state.run(date, &policy).is_empty(), "second run on {}", date);
            date = date.succ_opt().unwrap();
        }
        twice.retain(|a| (sc.from..=sc.to).contains(&a.date));
        let once: Vec<Value> = simulate(&sc, &policy).actions.iter().map(Action::to_json).collect();
        let twice: Vec<Value> = twice.iter().map(Action::to_json).collect();
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn splitting_a_payment_in_two_yields_the_same_actions(tz in tz(), events in events(), pick in any::<proptest::sample::Index>(), cut in 1..10_000u32) {
        // Payment ids unique, so the one split is not also a duplicate of another.
        let events: Vec<Value> = events.into_iter().enumerate().map(|(n, mut e)| {
            if e["type"] == "payment_succeeded" { e["payment"] = json!(format!("pi_u{n}")); }
            e
        }).collect();
        let payments: Vec<usize> = (0..events.len()).filter(|&i| events[i]["type"] == "payment_succeeded").collect();
        prop_assume!(!payments.is_empty());
        let i = payments[pick.index(payments.len())];
        let whole = rust_decimal::Decimal::from_str_exact(events[i]["amount"].as_str().unwrap()).unwrap();
        let first = rust_decimal::Decimal::new(i64::from(cut), 2);
        prop_assume!(first < whole);
        let mut split = events.clone();
        let mut a = events[i].clone();
        let mut b = events[i].clone();
        a["id"] = json!("split_a");
        a["payment"] = json!("pi_split_a");
        a["amount"] = json!(first.to_string());
        b["id"] = json!("split_b");
        b["payment"] = json!("pi_split_b");
        b["amount"] = json!((whole - first).to_string());
        split.remove(i);
        split.insert(i, b);
        split.insert(i, a);
        prop_assert_eq!(actions(tz, &events), actions(tz, &split));
    }
}
