//! The card notice for customers who pay with saved cards (Stripe's
//! PaymentMethods): once per (card, expiry), at the first daily run in the
//! 30 days before the default (or only) card stops working; never for a
//! card renewed or removed; the same in any order of delivery.

use pastdue_shared::domain::simulate::{Scenario, simulate};
use pastdue_shared::domain::{AccountState, Event, Policy};
use proptest::prelude::*;
use serde_json::{Value, json};

fn scenario(to: &str, events: &[Value]) -> Scenario {
    let text = json!({"from": "2026-01-01", "to": to, "accounts": [{"id": "acct_1", "name": "Acme", "timezone": "Europe/Berlin", "exempt": false, "contacts": [
        {"name": "Dana", "email": "dana@acme.example", "roles": ["billing"]},
        {"name": "Kevin", "email": "kevin@acme.example", "roles": ["primary"]}]}], "events": events})
    .to_string();
    Scenario::from_json_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn ev(id: &str, at: &str, kind: &str, fields: Value) -> Value {
    let mut e = json!({"id": id, "at": at, "account": "acct_1", "type": kind});
    for (k, v) in fields.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn saved(id: &str, at: &str, card: &str, month: u32, year: i32) -> Value {
    ev(
        id,
        at,
        "card_saved",
        json!({"card": card, "exp_month": month, "exp_year": year}),
    )
}

/// (date, recipients) of every card notice from 2026-01-01 to `to`.
fn notices(to: &str, events: &[Value]) -> Vec<(String, Vec<String>)> {
    let sim = simulate(&scenario(to, events), &Policy::default());
    assert!(sim.rejected.is_empty(), "{:?}", sim.rejected);
    sim.actions
        .iter()
        .filter(|a| a.kind.as_str() == "card_expiring_notice")
        .map(|a| {
            (
                a.date.to_string(),
                a.recipients.iter().map(|c| c.email.to_string()).collect(),
            )
        })
        .collect()
}

fn state(to: &str, events: &[Value]) -> AccountState {
    simulate(&scenario(to, events), &Policy::default())
        .states
        .remove(0)
}

#[test]
fn the_only_card_is_noticed_once_thirty_days_before_it_stops_working() {
    // Expires March 2026: works to 31 March, so the notice is due from
    // 1 March, a Sunday: cards are not chased, any day will do.
    let events = [saved("c1", "2026-01-05T10:00:00Z", "pm_1", 3, 2026)];
    assert_eq!(
        notices("2026-06-30", &events),
        [(
            "2026-03-01".to_owned(),
            vec!["dana@acme.example".to_owned()]
        )],
        "billing contact only, once"
    );
    assert_eq!(
        state("2026-02-28", &events).card_notice_from(),
        "2026-03-01".parse().ok(),
        "the run index knows the date before it comes"
    );
    assert_eq!(state("2026-03-01", &events).card_notice_from(), None);
    // Saved inside the window: the next run sends it.
    let late = [saved("c1", "2026-03-20T10:00:00Z", "pm_1", 3, 2026)];
    assert_eq!(notices("2026-06-30", &late)[0].0, "2026-03-21");
    // Saved after it stopped working: too late for a notice, and the
    // account leaves the index.
    let expired = [saved("c1", "2026-04-02T10:00:00Z", "pm_1", 3, 2026)];
    assert!(notices("2026-06-30", &expired).is_empty());
    assert_eq!(state("2026-06-30", &expired).card_notice_from(), None);
}

#[test]
fn a_renewed_or_removed_card_gets_no_notice() {
    let renewed = [
        saved("c1", "2026-01-05T10:00:00Z", "pm_1", 3, 2026),
        saved("c2", "2026-02-20T10:00:00Z", "pm_1", 3, 2029),
    ];
    assert!(notices("2026-06-30", &renewed).is_empty());
    let removed = [
        saved("c1", "2026-01-05T10:00:00Z", "pm_1", 3, 2026),
        ev(
            "c2",
            "2026-02-20T10:00:00Z",
            "card_removed",
            json!({"card": "pm_1"}),
        ),
    ];
    assert!(notices("2026-06-30", &removed).is_empty());
    assert_eq!(state("2026-06-30", &removed).card_notice_from(), None);
}

#[test]
fn with_several_cards_only_the_default_is_noticed() {
    let two = [
        saved("c1", "2026-01-05T10:00:00Z", "pm_1", 3, 2026),
        saved("c2", "2026-01-05T11:00:00Z", "pm_2", 4, 2026),
    ];
    assert!(
        notices("2026-06-30", &two).is_empty(),
        "which card pays is unknown"
    );
    let mut with_default = two.to_vec();
    with_default.push(ev(
        "c3",
        "2026-01-06T10:00:00Z",
        "default_card",
        json!({"card": "pm_2"}),
    ));
    assert_eq!(notices("2026-06-30", &with_default)[0].0, "2026-03-31");
    // The default card removed and no default any more: the only card left.
    let mut gone = with_default.clone();
    gone.push(ev(
        "c4",
        "2026-01-07T10:00:00Z",
        "card_removed",
        json!({"card": "pm_2"}),
    ));
    gone.push(ev(
        "c5",
        "2026-01-07T11:00:00Z",
        "default_card",
        json!({"card": null}),
    ));
    assert_eq!(notices("2026-06-30", &gone)[0].0, "2026-03-01");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The same deliveries in any order and with duplicates leave the same
    /// cards, so the same notices (the default by its latest `at`).
    #[test]
    fn card_events_in_any_order_notice_the_same(order in Just((0..7usize).collect::<Vec<_>>()).prop_shuffle(), twice in 0..7usize) {
        let events = [
            saved("c1", "2026-01-05T10:00:00Z", "pm_1", 3, 2026),
            saved("c2", "2026-01-05T11:00:00Z", "pm_2", 5, 2026),
            saved("c3", "2026-01-08T11:00:00Z", "pm_2", 5, 2030),
            ev("c4", "2026-01-06T10:00:00Z", "default_card", json!({"card": "pm_1"})),
            ev("c5", "2026-01-07T10:00:00Z", "default_card", json!({"card": "pm_2"})),
            saved("c6", "2026-01-09T10:00:00Z", "pm_3", 6, 2026),
            ev("c7", "2026-01-09T12:00:00Z", "card_removed", json!({"card": "pm_3"})),
        ];
        let mut shuffled: Vec<&Value> = order.iter().map(|&i| &events[i]).collect();
        shuffled.push(&events[twice]);
        let applied = |events: &[&Value]| {
            let mut s = state("2026-01-01", &[]);
            for e in events {
                s.apply(&Event::from_json(e).unwrap(), &Policy::default()).unwrap();
            }
            s
        };
        let base = applied(&events.iter().collect::<Vec<_>>());
        let other = applied(&shuffled);
        prop_assert_eq!(base.card_notice_from(), other.card_notice_from());
        prop_assert_eq!(
            base.card_notice_from(),
            "2030-05-01".parse().ok(),
            "pm_2, renewed to May 2030, is the default"
        );
    }
}
