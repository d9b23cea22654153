//! The dunning rules of `../shared/dunning-spec.md`, one test per rule,
//! through the same `simulate` the CLI and the functions use.

use pastdue_shared::domain::Policy;
use pastdue_shared::domain::simulate::{Scenario, simulate};
use serde_json::{Value, json};

const DANA: &str = "dana@whitfield.example";
const KEVIN: &str = "kevin@whitfield.example";
const ESME: &str = "esme@whitfield.example";

fn account(tz: &str, exempt: bool) -> Value {
    json!({"id": "acct_1", "name": "Whitfield Hosting", "timezone": tz, "exempt": exempt, "contacts": [
        {"name": "Dana Whitfield", "email": DANA, "roles": ["billing"]},
        {"name": "Kevin Ortiz", "email": KEVIN, "roles": ["primary"]},
        {"name": "Esme Ortiz", "email": ESME, "roles": ["escalation"]},
    ]})
}

fn invoice(id: &str, at: &str, inv: &str, amount: &str, due: &str) -> Value {
    json!({"id": id, "at": at, "account": "acct_1", "type": "invoice_issued", "invoice": inv, "amount": amount, "currency": "USD", "due": due})
}

fn pay(id: &str, at: &str, inv: &str, amount: &str, payment: Option<&str>) -> Value {
    let mut e = json!({"id": id, "at": at, "account": "acct_1", "type": "payment_succeeded", "invoice": inv, "amount": amount, "currency": "USD"});
    if let Some(p) = payment {
        e["payment"] = json!(p);
    }
    e
}

fn run_with(policy: &Policy, accounts: Value, events: Value, from: &str, to: &str) -> Vec<Value> {
    let text = json!({"from": from, "to": to, "accounts": accounts, "events": events}).to_string();
    let scenario = Scenario::from_json_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let sim = simulate(&scenario, policy);
    assert!(sim.rejected.is_empty(), "rejected: {:?}", sim.rejected);
    sim.actions.iter().map(|a| a.to_json()).collect()
}

fn run_in(accounts: Value, events: Value, from: &str, to: &str) -> Vec<Value> {
    run_with(&Policy::default(), accounts, events, from, to)
}

fn run(events: Value) -> Vec<Value> {
    run_in(
        json!([account("UTC", false)]),
        events,
        "2026-01-01",
        "2026-03-31",
    )
}

/// (date, action, dpd) of each action.
fn steps(actions: &[Value]) -> Vec<(String, String, i64)> {
    actions
        .iter()
        .map(|a| {
            (
                a["date"].as_str().unwrap().to_owned(),
                a["action"].as_str().unwrap().to_owned(),
                a["dpd"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn s(date: &str, action: &str, dpd: i64) -> (String, String, i64) {
    (date.to_owned(), action.to_owned(), dpd)
}

fn unpaid() -> Value {
    invoice("e1", "2026-01-01T15:00:00Z", "in_1", "100.00", "2026-01-15")
}

#[test]
fn the_worked_example() {
    let actions = run(json!([unpaid()]));
    assert_eq!(
        steps(&actions),
        [
            s("2026-01-16", "reminder_1", 1),
            s("2026-01-22", "reminder_2", 7),
            s("2026-01-29", "final_notice", 14),
            s("2026-02-05", "suspend", 21),
            s("2026-03-02", "cancel", 46),
        ]
    );
    assert_eq!(
        actions[0],
        json!({"date": "2026-01-16", "account": "acct_1", "action": "reminder_1", "dpd": 1, "invoices": ["in_1"], "to": [DANA]})
    );
    assert_eq!(actions[1]["to"], json!([DANA, KEVIN]));
    assert_eq!(actions[2]["suspend_on"], "2026-02-05");
    assert_eq!(actions[2]["to"], json!([DANA, ESME, KEVIN]));
    assert!(
        actions
            .iter()
            .all(|a| a["action"] == "final_notice" || a.get("suspend_on").is_none())
    );
}

#[test]
fn the_worked_example_paid_on_feb_10_is_reinstated_that_day() {
    let actions = run(json!([
        unpaid(),
        pay("e2", "2026-02-10T12:00:00Z", "in_1", "100.00", None)
    ]));
    assert_eq!(
        steps(&actions).last().unwrap(),
        &s("2026-02-10", "reinstate", 0)
    );
    assert_eq!(actions.last().unwrap()["to"], json!([DANA, KEVIN]));
    assert_eq!(actions.last().unwrap()["invoices"], json!(["in_1"]));
    assert_eq!(
        actions.len(),
        5,
        "nothing after the episode ended: {actions:#?}"
    );
}

fn sim(events: Value) -> pastdue_shared::domain::simulate::Simulation {
    let text = json!({"from": "2026-01-01", "to": "2026-03-31", "accounts": [account("UTC", false)], "events": events}).to_string();
    simulate(&Scenario::from_json_str(&text).unwrap(), &Policy::default())
}

fn owed(events: Value) -> Vec<(String, String)> {
    let sim = sim(events);
    sim.states[0]
        .invoices()
        .iter()
        .map(|i| (i.id.to_string(), i.owed.to_string()))
        .collect()
}

fn names(actions: &[Value]) -> Vec<&str> {
    actions
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect()
}

#[test]
fn a_repeated_event_id_has_no_further_effect() {
    let once = run(json!([
        unpaid(),
        pay("e2", "2026-02-10T12:00:00Z", "in_1", "60.00", None)
    ]));
    let twice = run(json!([
        unpaid(),
        pay("e2", "2026-02-10T12:00:00Z", "in_1", "60.00", None),
        pay("e2", "2026-02-10T12:00:00Z", "in_1", "60.00", None)
    ]));
    assert_eq!(once, twice);
    assert!(
        !names(&twice).contains(&"reinstate"),
        "60 + a duplicate 60 must not pay 100"
    );
}

#[test]
fn a_payment_id_counts_once_across_events() {
    let same = run(json!([
        unpaid(),
        pay("e2", "2026-02-10T12:00:00Z", "in_1", "60.00", Some("pi_1")),
        pay("e3", "2026-02-10T12:05:00Z", "in_1", "60.00", Some("pi_1"))
    ]));
    assert!(!names(&same).contains(&"reinstate"));
    let distinct = run(json!([
        unpaid(),
        pay("e2", "2026-02-10T12:00:00Z", "in_1", "60.00", Some("pi_1")),
        pay("e3", "2026-02-10T12:05:00Z", "in_1", "60.00", Some("pi_2"))
    ]));
    assert_eq!(
        steps(&distinct).last().unwrap(),
        &s("2026-02-10", "reinstate", 0)
    );
}

#[test]
fn a_refund_id_counts_once_across_events() {
    let refund = |id: &str, r: &str| json!({"id": id, "at": "2026-01-12T10:00:00Z", "account": "acct_1", "type": "payment_refunded", "invoice": "in_1", "amount": "30.00", "currency": "USD", "refund": r});
    let paid = pay("e2", "2026-01-10T10:00:00Z", "in_1", "100.00", None);
    assert_eq!(
        owed(json!([
            unpaid(),
            paid.clone(),
            refund("e3", "re_1"),
            refund("e4", "re_1")
        ])),
        [("in_1".into(), "30.00".into())]
    );
    assert_eq!(
        owed(json!([
            unpaid(),
            paid,
            refund("e3", "re_1"),
            refund("e4", "re_2")
        ])),
        [("in_1".into(), "60.00".into())]
    );
}

fn dispute_opened(id: &str, at: &str, dispute: &str) -> Value {
    json!({"id": id, "at": at, "account": "acct_1", "type": "dispute_opened", "invoice": "in_1", "dispute": dispute, "amount": "100.00", "currency": "USD"})
}

fn dispute_closed(id: &str, at: &str, dispute: &str, outcome: &str) -> Value {
    json!({"id": id, "at": at, "account": "acct_1", "type": "dispute_closed", "dispute": dispute, "outcome": outcome})
}

#[test]
fn a_dispute_id_counts_once_and_pauses_dunning_until_lost() {
    let paid = pay("e2", "2026-01-10T10:00:00Z", "in_1", "100.00", None);
    let events = json!([
        unpaid(),
        paid,
        dispute_opened("e3", "2026-01-20T10:00:00Z", "dp_1"),
        dispute_opened("e4", "2026-01-21T10:00:00Z", "dp_1"),
        dispute_closed("e5", "2026-02-16T10:00:00Z", "dp_1", "lost")
    ]);
    let actions = run(events.clone());
    // One alert; nothing while the bank decides; lost on Mon Feb 16 → due again from Feb 16.
    assert_eq!(
        steps(&actions),
        [
            s("2026-01-20", "dispute_alert", 0),
            s("2026-02-17", "reminder_1", 1),
            s("2026-02-23", "reminder_2", 7),
            s("2026-03-02", "final_notice", 14),
            s("2026-03-09", "suspend", 21)
        ]
    );
    assert_eq!(actions[0]["to"], json!([]), "staff only");
    assert_eq!(
        owed(events),
        [("in_1".into(), "100.00".into())],
        "withdrawn once, not twice"
    );

    let won = run(json!([
        unpaid(),
        pay("e2", "2026-01-10T10:00:00Z", "in_1", "100.00", None),
        dispute_opened("e3", "2026-01-20T10:00:00Z", "dp_1"),
        dispute_closed("e5", "2026-02-16T10:00:00Z", "dp_1", "won")
    ]));
    assert_eq!(
        names(&won),
        ["dispute_alert"],
        "won: funds reinstated, nothing owed"
    );
}

#[test]
fn a_disputed_invoice_is_not_dunned_while_in_dispute() {
    // Unpaid, then disputed mid-ladder (an unusual chargeback on a prior charge): dunning pauses.
    let actions = run(json!([
        unpaid(),
        dispute_opened("e3", "2026-01-23T10:00:00Z", "dp_1")
    ]));
    assert_eq!(
        names(&actions),
        ["reminder_1", "reminder_2", "dispute_alert"]
    );
}

#[test]
fn money_for_an_unknown_invoice_waits_for_it() {
    let early = run(json!([
        pay("e0", "2025-12-20T10:00:00Z", "in_1", "100.00", Some("pi_1")),
        unpaid()
    ]));
    assert!(early.is_empty(), "paid before it was issued: {early:#?}");
    let dispute_first = owed(json!([
        dispute_opened("e0", "2025-12-20T10:00:00Z", "dp_1"),
        pay("e1x", "2025-12-21T10:00:00Z", "in_1", "100.00", None),
        unpaid()
    ]));
    assert_eq!(
        dispute_first,
        [("in_1".into(), "100.00".into())],
        "payment and dispute both wait, then both apply"
    );
    let waiting = sim(json!([
        dispute_opened("e0", "2025-12-20T10:00:00Z", "dp_1"),
        unpaid()
    ]));
    assert!(
        waiting.states[0].invoices()[0].in_dispute,
        "the dispute found its invoice"
    );
    assert!(waiting.actions.is_empty(), "in dispute: not dunned");
}

#[test]
fn min_balance_ignores_dust() {
    let dust = run(json!([
        unpaid(),
        pay("e2", "2026-01-10T10:00:00Z", "in_1", "99.50", None)
    ]));
    assert!(
        dust.is_empty(),
        "0.50 left is below min_balance 1.00: {dust:#?}"
    );
    let one = run(json!([
        unpaid(),
        pay("e2", "2026-01-10T10:00:00Z", "in_1", "99.00", None)
    ]));
    assert_eq!(names(&one)[0], "reminder_1", "1.00 left is at min_balance");
}

#[test]
fn credit_pays_the_oldest_effective_due_first() {
    let events = json!([
        invoice(
            "e1",
            "2026-01-01T10:00:00Z",
            "in_old",
            "50.00",
            "2026-01-01"
        ),
        pay("e2", "2026-01-01T11:00:00Z", "in_old", "200.00", None),
        invoice("e3", "2026-01-01T12:00:00Z", "in_b", "100.00", "2026-01-20"),
        invoice("e4", "2026-01-01T12:00:00Z", "in_c", "100.00", "2026-01-15"),
        invoice("e5", "2026-01-01T12:00:00Z", "in_a", "100.00", "2026-01-10"),
    ]);
    assert_eq!(
        owed(events.clone()),
        [
            ("in_a".into(), "0.00".into()),
            ("in_b".into(), "100.00".into()),
            ("in_c".into(), "50.00".into()),
            ("in_old".into(), "0".into())
        ]
    );
    let actions = run(events);
    assert_eq!(
        steps(&actions)[0],
        s("2026-01-16", "reminder_1", 1),
        "in_c overdue from Jan 16 for its 50.00"
    );
    assert_eq!(actions[0]["invoices"], json!(["in_c"]));
}

#[test]
fn weekends_are_skipped_unless_the_policy_says_otherwise() {
    let fri = json!([invoice(
        "e1",
        "2026-01-01T10:00:00Z",
        "in_1",
        "100.00",
        "2026-01-16"
    )]);
    assert_eq!(
        steps(&run(fri.clone()))[0],
        s("2026-01-19", "reminder_1", 3),
        "Sat 17, Sun 18 pass"
    );
    let every_day = Policy {
        business_days_only: false,
        ..Policy::default()
    };
    let actions = run_with(
        &every_day,
        json!([account("UTC", false)]),
        fri,
        "2026-01-01",
        "2026-03-31",
    );
    assert_eq!(steps(&actions)[0], s("2026-01-17", "reminder_1", 1));
}

fn hold(id: &str, at: &str, until: &str) -> Value {
    json!({"id": id, "at": at, "account": "acct_1", "type": "hold_placed", "until": until, "reason": "will pay Friday"})
}

#[test]
fn a_hold_stops_the_ladder_until_it_expires() {
    let actions = run(json!([
        unpaid(),
        hold("e2", "2026-01-14T10:00:00Z", "2026-01-23")
    ]));
    // Nothing through Fri 23; Mon 26 is dpd 11: reminder_1 is skipped, reminder_2 fires.
    assert_eq!(
        steps(&actions)[..2],
        [
            s("2026-01-26", "reminder_2", 11),
            s("2026-01-29", "final_notice", 14)
        ]
    );
}

#[test]
fn a_released_hold_lets_the_ladder_resume_the_next_day() {
    let released = json!({"id": "e3", "at": "2026-01-20T14:00:00Z", "account": "acct_1", "type": "hold_released"});
    let actions = run(json!([
        unpaid(),
        hold("e2", "2026-01-14T10:00:00Z", "2026-01-31"),
        released
    ]));
    assert_eq!(steps(&actions)[0], s("2026-01-21", "reminder_1", 6));
}

#[test]
fn a_new_hold_replaces_the_previous_one() {
    let actions = run(json!([
        unpaid(),
        hold("e2", "2026-01-14T10:00:00Z", "2026-02-27"),
        hold("e3", "2026-01-15T10:00:00Z", "2026-01-18")
    ]));
    assert_eq!(steps(&actions)[0], s("2026-01-19", "reminder_1", 4));
}

#[test]
fn an_exempt_account_is_warned_but_never_cut_off() {
    let actions = run_in(
        json!([account("UTC", true)]),
        json!([unpaid()]),
        "2026-01-01",
        "2026-03-31",
    );
    assert_eq!(
        names(&actions),
        ["reminder_1", "reminder_2", "final_notice"]
    );
}

#[test]
fn reminders_due_late_are_skipped_and_never_sent_later() {
    // Issued on Tue Jan 20 already 15 days past due.
    let actions = run(json!([invoice(
        "e1",
        "2026-01-20T08:00:00Z",
        "in_1",
        "100.00",
        "2026-01-05"
    )]));
    assert_eq!(
        steps(&actions)[..2],
        [
            s("2026-01-20", "final_notice", 15),
            s("2026-01-27", "suspend", 22)
        ]
    );
    assert!(!names(&actions).iter().any(|n| n.starts_with("reminder")));
}

#[test]
fn no_suspension_without_a_final_notice_seven_days_earlier_whatever_the_dpd() {
    // Mon Jan 5, 35 days past due: final notice first, suspension a week later.
    let actions = run(json!([invoice(
        "e1",
        "2026-01-05T08:00:00Z",
        "in_1",
        "100.00",
        "2025-12-01"
    )]));
    assert_eq!(
        steps(&actions)[..3],
        [
            s("2026-01-05", "final_notice", 35),
            s("2026-01-12", "suspend", 42),
            s("2026-01-15", "cancel", 45)
        ]
    );
    assert_eq!(actions[0]["suspend_on"], "2026-01-12");
}

#[test]
fn cancel_only_after_a_suspension_on_an_earlier_day() {
    let mut policy = Policy::default();
    policy
        .steps
        .iter_mut()
        .filter(|s| s.name.as_str() == "cancel")
        .for_each(|s| s.dpd = 21);
    let actions = run_with(
        &policy,
        json!([account("UTC", false)]),
        json!([unpaid()]),
        "2026-01-01",
        "2026-03-31",
    );
    assert_eq!(
        steps(&actions)[3..5],
        [
            s("2026-02-05", "suspend", 21),
            s("2026-02-06", "cancel", 22)
        ]
    );
}

#[test]
fn collections_need_the_amount_and_a_notice_a_week_before() {
    let big = run(json!([invoice(
        "e1",
        "2026-01-01T15:00:00Z",
        "in_1",
        "600.00",
        "2026-01-15"
    )]));
    assert_eq!(
        steps(&big)[4..],
        [
            s("2026-03-02", "cancel", 46),
            s("2026-03-06", "collections_notice", 50),
            s("2026-03-16", "collections", 60)
        ]
    );
    assert_eq!(
        big[6]["to"],
        json!([]),
        "collections is for staff and downstream only"
    );
    let small = run(json!([invoice(
        "e1",
        "2026-01-01T15:00:00Z",
        "in_1",
        "499.99",
        "2026-01-15"
    )]));
    assert_eq!(names(&small).last(), Some(&"cancel"));
    // 300 USD + 300 EUR is not 500 in any currency.
    let eur = json!({"id": "e2", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_2", "amount": "300.00", "currency": "EUR", "due": "2026-01-15"});
    let split = run(json!([
        invoice("e1", "2026-01-01T15:00:00Z", "in_1", "300.00", "2026-01-15"),
        eur
    ]));
    assert_eq!(names(&split).last(), Some(&"cancel"));
}

#[test]
fn a_partial_payment_keeps_the_episode_and_resends_nothing() {
    let actions = run(json!([
        unpaid(),
        pay("e2", "2026-01-23T10:00:00Z", "in_1", "40.00", None)
    ]));
    assert_eq!(
        names(&actions),
        [
            "reminder_1",
            "reminder_2",
            "final_notice",
            "suspend",
            "cancel"
        ]
    );
}

#[test]
fn a_cancelled_account_is_not_reinstated_and_its_later_episodes_fire_nothing() {
    let actions = run(json!([
        unpaid(),
        pay("e2", "2026-03-03T10:00:00Z", "in_1", "100.00", None),
        invoice("e3", "2026-03-03T11:00:00Z", "in_2", "100.00", "2026-03-10"),
    ]));
    assert_eq!(
        names(&actions),
        [
            "reminder_1",
            "reminder_2",
            "final_notice",
            "suspend",
            "cancel"
        ]
    );
    let sim = sim(json!([
        unpaid(),
        pay("e2", "2026-03-03T10:00:00Z", "in_1", "100.00", None)
    ]));
    assert_eq!(sim.states[0].status.as_str(), "cancelled");
}

#[test]
fn a_new_episode_starts_from_an_empty_ladder() {
    let actions = run(json!([
        invoice("e1", "2026-01-01T15:00:00Z", "in_1", "100.00", "2026-01-15"),
        pay("e2", "2026-01-20T10:00:00Z", "in_1", "100.00", None),
        invoice("e3", "2026-01-21T10:00:00Z", "in_2", "100.00", "2026-02-15"),
    ]));
    assert_eq!(
        steps(&actions)[..2],
        [
            s("2026-01-16", "reminder_1", 1),
            s("2026-02-16", "reminder_1", 1)
        ]
    );
}

#[test]
fn events_outside_the_ladder_fire_any_day_with_their_own_recipients() {
    let failed = json!({"id": "e2", "at": "2026-01-17T10:00:00Z", "account": "acct_1", "type": "payment_failed", "invoice": "in_1", "amount": "100.00", "currency": "USD", "reason": "card_declined"});
    let expiring = |id: &str| json!({"id": id, "at": "2026-01-18T10:00:00Z", "account": "acct_1", "type": "card_expiring", "card": "card_1", "exp_month": 2, "exp_year": 2026});
    let actions = run(json!([
        unpaid(),
        failed,
        expiring("e3"),
        expiring("e4"),
        hold("e5", "2026-01-16T08:00:00Z", "2026-03-31")
    ]));
    assert_eq!(
        steps(&actions),
        [
            s("2026-01-17", "payment_failed_notice", 2),
            s("2026-01-18", "card_expiring_notice", 3)
        ],
        "on a weekend, under a hold, one notice per card expiry"
    );
    assert_eq!(actions[0]["to"], json!([DANA]));
    assert_eq!(actions[0]["invoices"], json!(["in_1"]));
}

#[test]
fn recipients_fall_back_to_primary_then_anyone() {
    let no_billing = json!([{"id": "acct_1", "name": "Whitfield Hosting", "contacts": [
        {"name": "Kevin Ortiz", "email": KEVIN, "roles": ["primary"]},
        {"name": "Kevin at home", "email": KEVIN, "roles": ["escalation"]},
    ]}]);
    let actions = run_in(no_billing, json!([unpaid()]), "2026-01-01", "2026-01-31");
    assert_eq!(actions[0]["to"], json!([KEVIN]));
    assert_eq!(actions[2]["to"], json!([KEVIN]), "deduplicated by email");
}

#[test]
fn dates_are_local_across_daylight_saving_changes() {
    let ny = json!([account("America/New_York", false)]);
    let events = |pay_at: &str| {
        json!([
            {"id": "e1", "at": "2026-03-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_1", "amount": "100.00", "currency": "USD", "due": "2026-03-06"},
            pay("e2", pay_at, "in_1", "100.00", None),
        ])
    };
    // Mon Mar 9 is the first weekday after clocks went forward (Sun Mar 8):
    // 09:00 EDT is 13:00Z. 13:30Z is after the run, 12:30Z before it.
    let after = run_in(
        ny.clone(),
        events("2026-03-09T13:30:00Z"),
        "2026-03-01",
        "2026-03-31",
    );
    assert_eq!(steps(&after), [s("2026-03-09", "reminder_1", 3)]);
    let before = run_in(
        ny.clone(),
        events("2026-03-09T12:30:00Z"),
        "2026-03-01",
        "2026-03-31",
    );
    assert!(before.is_empty(), "{before:#?}");
    // Clocks go back on Sun Nov 1: 04:30Z on Nov 2 is still Nov 1 locally (23:30 EST).
    let failed = json!([
        {"id": "e1", "at": "2026-10-20T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_1", "amount": "100.00", "currency": "USD", "due": "2026-11-20"},
        {"id": "e2", "at": "2026-11-02T04:30:00Z", "account": "acct_1", "type": "payment_failed", "invoice": "in_1", "amount": "100.00", "currency": "USD", "reason": "expired_card"},
    ]);
    let actions = run_in(ny, failed, "2026-10-20", "2026-11-10");
    assert_eq!(
        steps(&actions),
        [s("2026-11-01", "payment_failed_notice", 0)]
    );
}

#[test]
fn dates_are_local_in_a_half_hour_zone() {
    let kolkata = json!([account("Asia/Kolkata", false)]);
    // 09:00 IST (UTC+05:30) is 03:30Z.
    let with_pay = |at: &str| json!([unpaid(), pay("e2", at, "in_1", "100.00", None)]);
    let after = run_in(
        kolkata.clone(),
        with_pay("2026-01-16T03:45:00Z"),
        "2026-01-01",
        "2026-01-31",
    );
    assert_eq!(steps(&after), [s("2026-01-16", "reminder_1", 1)]);
    let before = run_in(
        kolkata.clone(),
        with_pay("2026-01-16T03:15:00Z"),
        "2026-01-01",
        "2026-01-31",
    );
    assert!(before.is_empty());
    // 20:00Z on Jan 15 is already Jan 16 in Kolkata.
    let failed = json!([unpaid(), {"id": "e2", "at": "2026-01-15T20:00:00Z", "account": "acct_1", "type": "payment_failed", "invoice": "in_1", "amount": "100.00", "currency": "USD", "reason": "x"}]);
    let actions = run_in(kolkata, failed, "2026-01-01", "2026-01-16");
    assert_eq!(
        steps(&actions),
        [
            s("2026-01-16", "payment_failed_notice", 1),
            s("2026-01-16", "reminder_1", 1)
        ]
    );
}

use pastdue_shared::domain::{AccountState, ApplyOutcome, Event};

fn state() -> AccountState {
    AccountState::new(pastdue_shared::domain::Account::from_json(&account("UTC", false)).unwrap())
}

fn ev(v: Value) -> Event {
    Event::from_json(&v).unwrap()
}

#[test]
fn a_dispute_close_that_arrives_before_its_open_is_applied_with_it() {
    let policy = Policy::default();
    let paid = pay("e2", "2026-01-10T10:00:00Z", "in_1", "100.00", None);
    let open = dispute_opened("e3", "2026-01-20T10:00:00Z", "dp_1");
    let close = dispute_closed("e4", "2026-02-16T10:00:00Z", "dp_1", "lost");

    let mut in_order = state();
    let mut reordered = state();
    for e in [unpaid(), paid.clone(), open.clone(), close.clone()] {
        in_order.apply(&ev(e), &policy).unwrap();
    }
    for e in [close, unpaid(), paid, open] {
        reordered.apply(&ev(e), &policy).unwrap();
    }
    assert_eq!(in_order.invoices(), reordered.invoices());
    let inv = &reordered.invoices()[0];
    assert!(!inv.in_dispute);
    assert_eq!(inv.owed.to_string(), "100.00");
    assert_eq!(
        inv.effective_due.to_string(),
        "2026-02-16",
        "lost: due again from the close date"
    );
}

#[test]
fn a_stale_invoice_issued_loses_to_the_later_one() {
    let policy = Policy::default();
    let newer = invoice("e2", "2026-01-05T10:00:00Z", "in_1", "120.00", "2026-01-20");
    let stale = invoice("e1", "2026-01-01T10:00:00Z", "in_1", "100.00", "2026-01-15");
    let mut st = state();
    st.apply(&ev(newer.clone()), &policy).unwrap();
    assert_eq!(
        st.apply(&ev(stale.clone()), &policy).unwrap(),
        ApplyOutcome::NoEffect
    );
    assert_eq!(
        st.apply(&ev(stale), &policy).unwrap(),
        ApplyOutcome::Duplicate
    );
    let inv = &st.invoices()[0];
    assert_eq!(
        (inv.amount.to_string(), inv.due.to_string()),
        ("120.00 USD".into(), "2026-01-20".into())
    );
    // A tie on `at` goes to the later arrival.
    let tie = invoice("e3", "2026-01-05T10:00:00Z", "in_1", "130.00", "2026-01-20");
    st.apply(&ev(tie), &policy).unwrap();
    assert_eq!(st.invoices()[0].amount.to_string(), "130.00 USD");
}

#[test]
fn a_payment_in_another_currency_is_refused_and_changes_nothing() {
    let policy = Policy::default();
    let mut st = state();
    st.apply(&ev(unpaid()), &policy).unwrap();
    let before = st.clone();
    let eur = json!({"id": "e2", "at": "2026-01-10T10:00:00Z", "account": "acct_1", "type": "payment_succeeded", "invoice": "in_1", "amount": "100.00", "currency": "EUR"});
    let err = st.apply(&ev(eur), &policy).unwrap_err();
    assert!(
        err.to_string().contains("EUR") && err.to_string().contains("USD"),
        "{err}"
    );
    assert_eq!(st, before);
}

#[test]
fn running_a_date_again_does_nothing() {
    let policy = Policy::default();
    let mut st = state();
    st.apply(&ev(unpaid()), &policy).unwrap();
    let d = "2026-01-29".parse().unwrap();
    assert_eq!(st.run(d, &policy).len(), 1);
    assert!(st.run(d, &policy).is_empty());
    assert!(
        st.run("2026-01-28".parse().unwrap(), &policy).is_empty(),
        "an earlier date is not run after a later one"
    );
}

#[test]
fn one_payment_id_in_two_events_keeps_the_earliest_whatever_the_arrival_order() {
    let policy = Policy::default();
    let events = [
        unpaid(),
        invoice(
            "e1b",
            "2026-01-01T15:00:00Z",
            "in_2",
            "100.00",
            "2026-01-15",
        ),
        pay("e2", "2026-01-10T10:00:00Z", "in_1", "100.00", Some("pi_1")),
        pay("e3", "2026-01-09T10:00:00Z", "in_2", "70.00", Some("pi_1")),
    ];
    let mut forward = state();
    let mut backward = state();
    for e in &events {
        forward.apply(&ev(e.clone()), &policy).unwrap();
    }
    for e in events.iter().rev() {
        backward.apply(&ev(e.clone()), &policy).unwrap();
    }
    assert_eq!(forward.invoices(), backward.invoices());
    let paid: Vec<String> = forward
        .invoices()
        .iter()
        .map(|i| i.paid.to_string())
        .collect();
    assert_eq!(
        paid,
        ["0", "70.00"],
        "pi_1 counts once, as its earliest event says"
    );
}
