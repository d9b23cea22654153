//! Dunning that does not depend on when an event arrives (spec §1, §4,
//! §5.2): late deliveries judged against the last run, identical re-issues,
//! write-offs, and a reinstate that says why.

mod generated;

use chrono::NaiveDate;
use generated::{at, cents};
use pastdue_shared::domain::engine::run_instant;
use pastdue_shared::domain::simulate::{Scenario, simulate};
use pastdue_shared::domain::{
    AccountState, Action, ActionMessage, ApplyOutcome, Cause, Event, Policy, Settled, Status,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const FROM: &str = "2026-01-01";

fn scenario(to: &str, events: &[Value]) -> Scenario {
    let text = json!({"from": FROM, "to": to, "accounts": [{"id": "acct_1", "name": "Acme", "timezone": "UTC", "exempt": false, "contacts": [
        {"name": "Dana", "email": "dana@acme.example", "roles": ["billing"]},
        {"name": "Kevin", "email": "kevin@acme.example", "roles": ["primary", "escalation"]}]}], "events": events})
    .to_string();
    Scenario::from_json_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn event(value: Value) -> Event {
    Event::from_json(&value).unwrap_or_else(|e| panic!("{e}"))
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The account after `events` and a run on every date up to `to`, as the
/// scheduled function would leave it.
fn ran_until(to: &str, events: &[Value]) -> AccountState {
    let sim = simulate(&scenario(to, events), &Policy::default());
    assert!(sim.rejected.is_empty(), "{:?}", sim.rejected);
    sim.states.into_iter().next().unwrap()
}

fn applied(state: &mut AccountState, value: Value) -> Vec<Action> {
    match state.apply(&event(value), &Policy::default()) {
        Ok(ApplyOutcome::Applied(actions)) => actions,
        other => panic!("not applied: {other:?}"),
    }
}

fn issued(id: &str, at: &str, amount: &str, due: &str) -> Value {
    json!({"id": id, "at": at, "account": "acct_1", "type": "invoice_issued", "invoice": "in_1", "amount": amount, "currency": "USD", "due": due})
}

fn unpaid() -> Value {
    issued("e1", "2026-01-01T15:00:00Z", "100.00", "2026-01-15")
}

/// Suspended on 2026-02-05 (the worked example), runs through 2026-02-09.
fn suspended() -> AccountState {
    let state = ran_until("2026-02-09", &[unpaid()]);
    assert_eq!(state.status, Status::Suspended);
    state
}

#[test]
fn a_payment_failure_delivered_weeks_late_does_not_reinstate_or_restart_the_ladder() {
    let mut state = suspended();
    let started = state.episode.as_ref().map(|e| e.started);
    // Failed on the due date; delivered after the suspension.
    let actions = applied(
        &mut state,
        json!({"id": "late_fail", "at": "2026-01-15T08:00:00Z", "account": "acct_1", "type": "payment_failed", "invoice": "in_1", "amount": "100.00", "currency": "USD", "reason": "declined"}),
    );
    let names: Vec<&str> = actions.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(names, ["payment_failed_notice"]);
    assert_eq!(
        actions[0].date,
        date("2026-02-09"),
        "judged on the last run"
    );
    assert_eq!(actions[0].dpd, 25);
    assert_eq!(state.status, Status::Suspended);
    assert_eq!(state.episode.as_ref().map(|e| e.started), started);
    // The ladder goes on where it was: nothing fires again before cancel.
    let next: Vec<Action> = (10..=28)
        .flat_map(|d| state.run(date(&format!("2026-02-{d:02}")), &Policy::default()))
        .collect();
    assert!(next.is_empty(), "{next:?}");
}

#[test]
fn a_late_payment_still_reinstates_on_the_day_it_is_applied() {
    let mut state = suspended();
    // Paid on 2026-02-03, before the suspension; delivered after it.
    let actions = applied(
        &mut state,
        json!({"id": "late_pay", "at": "2026-02-03T10:00:00Z", "account": "acct_1", "type": "payment_succeeded", "invoice": "in_1", "amount": "100.00", "currency": "USD", "payment": "pi_1"}),
    );
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].kind.as_str(), "reinstate");
    assert_eq!(actions[0].date, date("2026-02-09"));
    assert_eq!(actions[0].settled, Some(Settled::Paid));
    assert_eq!(state.status, Status::Active);
    assert!(state.episode.is_none());
}

#[test]
fn an_identical_invoice_issued_again_is_no_effect() {
    let mut state = ran_until("2026-01-20", &[unpaid()]);
    let again = issued(
        "e1_replayed",
        "2026-01-01T15:00:00Z",
        "100.00",
        "2026-01-15",
    );
    assert_eq!(
        state.apply(&event(again), &Policy::default()),
        Ok(ApplyOutcome::NoEffect)
    );
    // A reissue that changes the amount still counts.
    let changed = issued("e1_changed", "2026-01-02T15:00:00Z", "80.00", "2026-01-15");
    assert!(matches!(
        state.apply(&event(changed), &Policy::default()),
        Ok(ApplyOutcome::Applied(_))
    ));
    assert_eq!(state.invoices()[0].owed.to_string(), "80.00");
}

fn written_off(id: &str, at: &str) -> Value {
    json!({"id": id, "at": at, "account": "acct_1", "type": "invoice_written_off", "invoice": "in_1"})
}

#[test]
fn a_write_off_keeps_a_suspended_account_suspended_and_stops_the_chase() {
    let mut state = suspended();
    let actions = applied(&mut state, written_off("wo", "2026-02-09T12:00:00Z"));
    assert!(actions.is_empty(), "no reinstate, no thanks: {actions:?}");
    assert_eq!(state.status, Status::Suspended);
    assert!(
        state.episode.is_some(),
        "owed past due keeps the episode open"
    );
    assert_eq!(state.dpd(date("2026-03-10"), &Policy::default()), 0);
    // Not chased: no cancel at dpd 45, nothing at all.
    let later: Vec<Action> = (10..=31)
        .map(|d| date(&format!("2026-03-{d:02}")))
        .chain((1..=28).map(|d| date(&format!("2026-02-{d:02}"))))
        .flat_map(|d| state.run(d, &Policy::default()))
        .collect();
    assert!(later.is_empty(), "{later:?}");
    // Paying it later reinstates as usual, and says it was paid.
    let paid = applied(
        &mut state,
        json!({"id": "pay", "at": "2026-04-02T10:00:00Z", "account": "acct_1", "type": "payment_succeeded", "invoice": "in_1", "amount": "100.00", "currency": "USD"}),
    );
    assert_eq!(
        paid.iter()
            .map(|a| (a.kind.as_str(), a.settled))
            .collect::<Vec<_>>(),
        [("reinstate", Some(Settled::Paid))]
    );
    assert_eq!(state.status, Status::Active);
}

#[test]
fn a_written_off_invoice_takes_no_part_in_credit_and_is_never_overdue() {
    let events = [
        unpaid(),
        written_off("wo", "2026-01-10T12:00:00Z"),
        // Overpaid: 30.00 credit, which must not pay the written-off invoice
        // nor be used up by it.
        json!({"id": "e2", "at": "2026-01-02T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_2", "amount": "50.00", "currency": "USD", "due": "2026-01-20"}),
        json!({"id": "p2", "at": "2026-01-03T15:00:00Z", "account": "acct_1", "type": "payment_succeeded", "invoice": "in_2", "amount": "80.00", "currency": "USD"}),
        json!({"id": "e3", "at": "2026-01-04T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_3", "amount": "40.00", "currency": "USD", "due": "2026-01-25"}),
    ];
    let sim = simulate(&scenario("2026-03-31", &events), &Policy::default());
    let state = &sim.states[0];
    let owed: Vec<(String, String)> = state
        .invoices()
        .iter()
        .map(|i| (i.id.to_string(), i.owed.to_string()))
        .collect();
    assert_eq!(
        owed,
        [
            ("in_1".to_owned(), "100.00".to_owned()),
            ("in_2".to_owned(), "0".to_owned()),
            ("in_3".to_owned(), "10.00".to_owned()),
        ]
    );
    // Only in_3 is chased.
    assert!(
        sim.actions
            .iter()
            .all(|a| a.invoices.iter().all(|i| i.as_str() == "in_3")),
        "{:?}",
        sim.actions
    );
    assert_eq!(sim.actions[0].kind.as_str(), "reminder_1");
    assert_eq!(sim.actions[0].date, date("2026-01-26"));
}

/// The reinstate after `settle`, applied to the suspended worked example.
fn reinstated_by(settle: &[Value]) -> Action {
    let mut state = suspended();
    let mut actions = Vec::new();
    for e in settle {
        actions.extend(applied(&mut state, e.clone()));
    }
    let reinstate = actions
        .into_iter()
        .find(|a| a.kind.as_str() == "reinstate")
        .unwrap_or_else(|| panic!("no reinstate after {settle:?}"));
    let message = ActionMessage::new(&reinstate, &state, Cause::Run(reinstate.date), 1);
    let paid = reinstate.settled == Some(Settled::Paid);
    assert_eq!(
        message.reason.starts_with("paid"),
        paid,
        "{}",
        message.reason
    );
    assert_eq!(message.settled, reinstate.settled);
    reinstate
}

#[test]
fn a_reinstate_says_why_and_only_a_payment_is_called_one() {
    let at = "2026-02-09T12:00:00Z";
    let voided = reinstated_by(&[
        json!({"id": "v", "at": at, "account": "acct_1", "type": "invoice_voided", "invoice": "in_1"}),
    ]);
    assert_eq!(voided.settled, Some(Settled::Voided));
    let credited = reinstated_by(&[issued("re", at, "0.50", "2026-01-15")]);
    assert_eq!(credited.settled, Some(Settled::Credited));
    let disputed = reinstated_by(&[
        json!({"id": "do", "at": "2026-02-09T11:00:00Z", "account": "acct_1", "type": "dispute_opened", "invoice": "in_1", "dispute": "dp_1", "amount": "100.00", "currency": "USD"}),
    ]);
    assert_eq!(disputed.settled, Some(Settled::Disputed));
    let paid = reinstated_by(&[
        json!({"id": "p", "at": at, "account": "acct_1", "type": "payment_succeeded", "invoice": "in_1", "amount": "100.00", "currency": "USD"}),
    ]);
    assert_eq!(paid.settled, Some(Settled::Paid));
}

#[test]
fn a_won_dispute_reinstates_as_won_not_paid() {
    // in_1 overpaid by 100.00, which pays in_2 as credit, until the payment
    // is disputed: the credit is withdrawn and in_2 falls behind.
    let issue = |id: &str, inv: &str, due: &str| json!({"id": id, "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": inv, "amount": "100.00", "currency": "USD", "due": due});
    let events = [
        issue("i1", "in_1", "2026-01-20"),
        issue("i2", "in_2", "2026-01-15"),
        json!({"id": "p", "at": "2026-01-05T10:00:00Z", "account": "acct_1", "type": "payment_succeeded", "invoice": "in_1", "amount": "200.00", "currency": "USD", "payment": "pi_1"}),
        json!({"id": "do", "at": "2026-01-10T10:00:00Z", "account": "acct_1", "type": "dispute_opened", "invoice": "in_1", "dispute": "dp_1", "amount": "200.00", "currency": "USD"}),
    ];
    let mut state = ran_until("2026-02-09", &events);
    assert_eq!(state.status, Status::Suspended);
    let won = applied(
        &mut state,
        json!({"id": "dw", "at": "2026-02-09T11:00:00Z", "account": "acct_1", "type": "dispute_closed", "dispute": "dp_1", "outcome": "won"}),
    );
    assert_eq!(
        won.iter()
            .map(|a| (a.kind.as_str(), a.settled))
            .collect::<Vec<_>>(),
        [("reinstate", Some(Settled::DisputeWon))]
    );
}

// ---- properties: late events in any arrival order --------------------------

/// Late events: all dated before the last run (day 40), none arriving on
/// time. Payments are small, so most leave the account overdue.
fn late_event() -> impl Strategy<Value = Value> {
    let inv = (0..2u8).prop_map(|i| format!("in_{i}"));
    let when = (0..38u32, 0..24u32);
    prop_oneof![
        3 => (inv.clone(), when.clone()).prop_map(|(i, (d, h))| json!({"type": "payment_failed", "invoice": i, "amount": "10.00", "currency": "USD", "reason": "declined", "at": at(d, h)})),
        2 => (inv.clone(), 100..4_000u32, when.clone()).prop_map(|(i, c, (d, h))| json!({"type": "payment_succeeded", "invoice": i, "amount": cents(c), "currency": "USD", "at": at(d, h)})),
        1 => (inv.clone(), 100..2_000u32, when.clone()).prop_map(|(i, c, (d, h))| json!({"type": "payment_refunded", "invoice": i, "amount": cents(c), "currency": "USD", "at": at(d, h)})),
        1 => (0..2u8, when.clone()).prop_map(|(c, (d, h))| json!({"type": "card_expiring", "card": format!("card_{c}"), "exp_month": 3, "exp_year": 2026, "at": at(d, h)})),
        1 => (inv.clone(), when.clone()).prop_map(|(i, (d, h))| json!({"type": "invoice_written_off", "invoice": i, "at": at(d, h)})),
        // The same invoices issued again, as a replayed file would.
        1 => (inv, when).prop_map(|(i, (d, h))| json!({"type": "invoice_issued", "invoice": i, "amount": "100.00", "currency": "USD", "due": at(10, 0)[..10].to_string(), "at": at(d.min(5), h)})),
    ]
}

fn late_events() -> impl Strategy<Value = Vec<Value>> {
    proptest::collection::vec(late_event(), 1..12)
        .prop_map(|bodies| {
            bodies
                .into_iter()
                .enumerate()
                .map(|(n, mut e)| {
                    e["id"] = json!(format!("late_{n}"));
                    e["account"] = json!("acct_1");
                    e
                })
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

/// Two invoices of 100.00 due on day 10, unpaid: by day 40 the account is
/// suspended (final notice on day 24, suspended a week later), not yet
/// cancelled (dpd 45).
fn on_time() -> Vec<Value> {
    (0..2)
        .map(|i| json!({"id": format!("issue_{i}"), "at": at(0, 15), "account": "acct_1", "type": "invoice_issued", "invoice": format!("in_{i}"), "amount": "100.00", "currency": "USD", "due": at(10, 0)[..10].to_string()}))
        .collect()
}

fn last_run() -> NaiveDate {
    date(FROM) + chrono::Duration::days(40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever order late events arrive in, none is judged "in the past":
    /// every action they cause is dated on or after the last run, and until
    /// the account has caught up on that date its episode and status stand.
    #[test]
    fn late_events_in_any_order_are_judged_on_the_last_run(late in late_events()) {
        let policy = Policy::default();
        let mut state = ran_until(&last_run().to_string(), &on_time());
        prop_assert_eq!(state.status, Status::Suspended);
        let started = state.episode.as_ref().map(|e| e.started);
        // Once caught up, the episode has rightly ended; a later refund
        // makes a new one only at a run.
        let mut caught_up = false;
        for value in &late {
            let e = event(value.clone());
            prop_assert!(e.at < run_instant(last_run(), policy.run_hour, chrono_tz::UTC));
            let Ok(ApplyOutcome::Applied(actions)) = state.apply(&e, &policy) else { continue };
            for a in &actions {
                prop_assert!(a.date >= last_run(), "{} dated {}", a.kind.as_str(), a.date);
            }
            let behind = state.invoices().iter().any(|i| {
                i.owed >= policy.min_balance && !i.void && !i.in_dispute && i.effective_due < last_run()
                    || i.written_off && i.outstanding >= policy.min_balance
            });
            if !behind {
                caught_up = true;
            }
            if !caught_up {
                prop_assert!(actions.iter().all(|a| a.kind.as_str() != "reinstate"), "{:?}", actions);
                prop_assert_eq!(state.status, Status::Suspended);
                prop_assert_eq!(state.episode.as_ref().map(|e| e.started), started);
            }
        }
    }

    /// The same late events, whichever order they come in, leave the same
    /// money owed, the same written-off invoices and the same dpd.
    #[test]
    fn late_events_leave_the_same_account_in_any_order(late in late_events(), seed in any::<u64>()) {
        let policy = Policy::default();
        let apply_all = |events: &[Value]| {
            let mut state = ran_until(&last_run().to_string(), &on_time());
            for value in events {
                let _ = state.apply(&event(value.clone()), &policy);
            }
            let next = last_run().succ_opt().unwrap();
            let _ = state.run(next, &policy);
            let owed: Vec<String> = state.invoices().iter().map(|i| format!("{} {} {}", i.id, i.owed, i.written_off)).collect();
            (owed, state.dpd(next, &policy))
        };
        let mut shuffled = late.clone();
        let mut rng = seed;
        for i in (1..shuffled.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, usize::try_from(rng >> 33).unwrap() % (i + 1));
        }
        prop_assert_eq!(apply_all(&late), apply_all(&shuffled));
    }
}

#[test]
fn simulate_reads_and_applies_invoice_written_off() {
    let sim = simulate(
        &scenario(
            "2026-03-31",
            &[unpaid(), written_off("wo", "2026-01-20T12:00:00Z")],
        ),
        &Policy::default(),
    );
    let names: Vec<(&str, String)> = sim
        .actions
        .iter()
        .map(|a| (a.kind.as_str(), a.date.to_string()))
        .collect();
    assert_eq!(names, [("reminder_1", "2026-01-16".to_owned())]);
}
