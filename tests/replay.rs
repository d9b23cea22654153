//! A month of Stripe's events replayed by reconciliation into an account
//! the daily runs have already acted on, on the local stack: late events
//! cannot end an episode in the past, restart its ladder, or reinstate
//! anyone before the day they are applied (spec §4), and replaying the
//! month again changes nothing.

#[allow(dead_code)] // this target uses part of it
mod dunning_harness;
#[allow(dead_code)]
mod stripe_shapes;
mod support;

use std::time::Duration;

use chrono::NaiveDate;
use dunning_harness::*;
use pastdue_shared::domain::{AccountId, Policy, Via};
use pastdue_shared::processors::stripe::mapping::read_delivery;
use pastdue_shared::services::deliver::{DeliveryPath, FromApi};
use pastdue_shared::services::reconcile::{Settings, run};
use serde_json::{Value, json};
use stripe_shapes::Family;

fn at(date: &str, hms: (u32, u32, u32)) -> i64 {
    date.parse::<NaiveDate>()
        .unwrap()
        .and_hms_opt(hms.0, hms.1, hms.2)
        .unwrap()
        .and_utc()
        .timestamp()
}

/// Stripe's month for `in_1` of `customer`: finalized on 1 January, due the
/// 15th, and paid in full on 25 January (the payment and the invoice
/// restated as paid), as endive sends them.
fn month(customer: &str, tag: u32) -> Vec<Value> {
    let f = Family::load("endive", "dahlia");
    let invoice = |set: &[(&str, Value)]| {
        let mut fields: Vec<(&str, Value)> = vec![
            ("id", "in_1".into()),
            ("customer", customer.into()),
            ("currency", "usd".into()),
            ("amount_due", 30_000.into()),
            ("amount_remaining", 30_000.into()),
            ("status", "open".into()),
            ("due_date", at("2026-01-15", (12, 0, 0)).into()),
            (
                "status_transitions.finalized_at",
                at("2026-01-01", (10, 0, 0)).into(),
            ),
        ];
        fields.extend(set.iter().cloned());
        f.object("invoice", &fields)
    };
    let paid_at = at("2026-01-25", (16, 30, 0));
    vec![
        f.event(
            &format!("evt_rep{tag}a"),
            "invoice.finalized",
            at("2026-01-23", (10, 0, 0)),
            invoice(&[]),
        ),
        f.event(
            &format!("evt_rep{tag}b"),
            "invoice_payment.paid",
            paid_at,
            f.paid_invoice_payment(
                &format!("inpay_rep{tag}"),
                "in_1",
                30_000,
                &format!("pi_rep{tag}"),
            ),
        ),
        f.event(
            &format!("evt_rep{tag}c"),
            "invoice.paid",
            paid_at + 2,
            invoice(&[
                ("status", "paid".into()),
                ("amount_paid", 30_000.into()),
                ("amount_remaining", 0.into()),
            ]),
        ),
    ]
}

#[tokio::test]
async fn a_month_of_late_events_replayed_reinstates_on_the_day_applied_and_only_once() {
    let tag = fastrand::u32(..);
    let customer = format!("cus_Rep{tag}");
    let d = deps("replay", Policy::default()).await;
    one_account(
        &d,
        &customer,
        json!([{"name": "Dana", "email": format!("dana+rep{tag}@whitfield.example"), "roles": ["billing"]}]),
    )
    .await;
    // The webhook never brought the payment of 25 January: the runs went
    // on to suspend the account on 5 February.
    let fired = days(&d, "2026-01-16", "2026-02-20").await;
    let names: Vec<(String, String)> = fired
        .iter()
        .map(|m| (m.date.to_string(), m.action.clone()))
        .collect();
    assert_eq!(
        names.last(),
        Some(&("2026-02-05".to_owned(), "suspend".to_owned())),
        "{names:?}"
    );

    // On 20 February reconciliation reads Stripe's last 30 days.
    let key = format!("rk_test_replay{tag}");
    support::stripe_api_set(&key, "events", &Value::from(month(&customer, tag)));
    let log = support::stripe_events(
        &key,
        &["invoice.finalized", "invoice_payment.paid", "invoice.paid"],
    );
    let accounts = support::accounts(&d.store);
    let bus = support::inline_bus(&d.store);
    let now = at("2026-02-20", (12, 0, 0));
    let take = FromApi {
        path: DeliveryPath {
            store: &d.store,
            accounts: &accounts,
            bus: &bus,
            via: Some(Via::Reconciliation),
        },
        read: read_delivery,
        name: "stripe",
        now,
    };
    let settings = Settings::default();
    let replay = |checkpoint: &'static str| {
        run(&log, &take, &d.store, checkpoint, &settings, now, || {
            Duration::from_secs(900)
        })
    };
    let first = replay("stripe").await.unwrap();
    assert_eq!(first.taken, 3, "{first:?}");

    let id = AccountId::parse(&customer).unwrap();
    let timeline = d.store.timeline(&id).await.unwrap();
    let reinstated: Vec<&Value> = timeline
        .iter()
        .filter(|e| e.kind == "action" && e.detail["action"] == "reinstate")
        .map(|e| &e.detail)
        .collect();
    assert_eq!(reinstated.len(), 1, "{timeline:#?}");
    assert_eq!(
        reinstated[0]["date"], "2026-02-20",
        "reinstated on the day the payment was applied, not on 25 January"
    );
    assert!(
        timeline
            .iter()
            .any(|e| e.summary == "payment_succeeded in_1 (applied, via reconciliation)")
    );
    let state = d.store.load(&id).await.unwrap().unwrap().state;
    assert_eq!(state.status.as_str(), "active");
    assert!(state.episode.is_none(), "the episode ended");

    // The whole month again, as a second pass from scratch would read it:
    // nothing new, the same account.
    let again = replay("stripe-again").await.unwrap();
    assert_eq!(again.taken, 3, "{again:?}");
    let after = d.store.load(&id).await.unwrap().unwrap();
    assert_eq!(after.state, state);
    assert_eq!(d.store.timeline(&id).await.unwrap().len(), timeline.len());
    // And the ladder does not start again: nothing fires through March.
    let later = days(&d, "2026-02-21", "2026-03-31").await;
    assert!(later.is_empty(), "{later:?}");
}
