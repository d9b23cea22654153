//! The use cases on the in-memory ports: exactly once, retries, the outbox
//! and the suspension safety rule, in milliseconds and without AWS.

use chrono::NaiveDate;
use serde_json::json;

use super::memory::{MemoryBus, MemoryStore};
use super::{Accounts, Applier, Upsert};
use crate::domain::{Account, AccountId, ApplyOutcome, Event, Policy, Status};
use crate::ports::{AccountRepository, Outbox};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn id() -> AccountId {
    AccountId::parse("acct_1").unwrap()
}

fn account() -> Account {
    Account::from_json(&json!({"id": "acct_1", "name": "Whitfield Hosting", "timezone": "UTC",
        "contacts": [{"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]}]}))
    .unwrap()
}

fn event(v: serde_json::Value) -> Event {
    Event::from_json(&v).unwrap()
}

fn invoice() -> Event {
    event(
        json!({"id": "e1", "at": "2026-01-01T10:00:00Z", "account": "acct_1", "type": "invoice_issued",
        "invoice": "in_1", "amount": "100.00", "currency": "USD", "due": "2026-01-15"}),
    )
}

async fn accounts_with_invoice() -> Accounts<MemoryStore> {
    let accounts = Accounts::new(MemoryStore::default(), Policy::default());
    assert_eq!(
        accounts.upsert_account(&account()).await.unwrap(),
        Upsert::Created
    );
    assert!(matches!(
        accounts.apply(&invoice()).await.unwrap(),
        ApplyOutcome::Applied(_)
    ));
    accounts
}

#[tokio::test]
async fn an_event_applies_once_and_an_unchanged_upsert_writes_nothing() {
    let accounts = accounts_with_invoice().await;
    let commits = accounts.store().commits();
    assert_eq!(
        accounts.apply(&invoice()).await.unwrap(),
        ApplyOutcome::Duplicate
    );
    assert_eq!(
        accounts.upsert_account(&account()).await.unwrap(),
        Upsert::Unchanged
    );
    assert_eq!(accounts.store().commits(), commits, "nothing written again");
    let events = accounts
        .store()
        .timeline(&id())
        .into_iter()
        .filter(|t| t.kind == "event")
        .count();
    assert_eq!(events, 1);
}

#[tokio::test(start_paused = true)]
async fn a_lost_race_is_retried_from_a_fresh_load() {
    let accounts = accounts_with_invoice().await;
    accounts.store().lose_races(3);
    let paid = event(
        json!({"id": "e2", "at": "2026-01-10T10:00:00Z", "account": "acct_1", "type": "payment_succeeded",
        "invoice": "in_1", "amount": "100.00", "currency": "USD"}),
    );
    assert!(matches!(
        accounts.apply(&paid).await.unwrap(),
        ApplyOutcome::Applied(_)
    ));
    let state = accounts.store().state(&id()).unwrap();
    assert!(state.overdue(d("2026-02-01"), accounts.policy()).is_empty());
}

#[tokio::test]
async fn an_unknown_account_is_refused_for_good_and_nothing_is_written() {
    let accounts = Accounts::new(MemoryStore::default(), Policy::default());
    let err = accounts.apply(&invoice()).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(accounts.store().commits(), 0);
}

/// An applier whose bus was down when a payment failure was applied: its
/// notice waits in the outbox. Returns the applier (bus up again) and the
/// failure event.
async fn notice_left_pending() -> (Applier<MemoryStore, MemoryBus>, Event) {
    let applier = Applier {
        accounts: accounts_with_invoice().await,
        bus: MemoryBus::default(),
    };
    let failed = event(
        json!({"id": "e2", "at": "2026-01-20T10:00:00Z", "account": "acct_1", "type": "payment_failed",
        "invoice": "in_1", "amount": "100.00", "currency": "USD", "reason": "card_declined"}),
    );
    *applier.bus.down.lock().unwrap() = true;
    let err = applier.apply_and_announce(&failed).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    *applier.bus.down.lock().unwrap() = false;
    (applier, failed)
}

#[tokio::test]
async fn actions_wait_in_the_outbox_until_the_bus_takes_them() {
    let (applier, failed) = notice_left_pending().await;
    let store = applier.accounts.store();
    assert_eq!(store.pending_actions(&id()).await.unwrap().len(), 1);

    assert_eq!(
        applier.apply_and_announce(&failed).await.unwrap(),
        ApplyOutcome::Duplicate
    );
    assert_eq!(
        applier.bus.published(),
        vec!["acct_1:e2:payment_failed_notice"]
    );
    applier.apply_and_announce(&failed).await.unwrap();
    assert_eq!(applier.bus.published().len(), 1, "published once");
    assert!(store.pending_actions(&id()).await.unwrap().is_empty());
}

/// A commit that causes no action still flushes what an earlier one left
/// in the outbox: a reminder must not wait for the next action, days later.
#[tokio::test]
async fn every_commit_flushes_the_outbox_and_messages_carry_sequence_and_status() {
    let (applier, _) = notice_left_pending().await;
    // A hold causes no action of its own.
    let hold = event(
        json!({"id": "e3", "at": "2026-01-21T10:00:00Z", "account": "acct_1", "type": "hold_placed",
        "until": "2026-01-30", "reason": "will pay Friday"}),
    );
    assert_eq!(
        applier.apply_and_announce(&hold).await.unwrap(),
        ApplyOutcome::Applied(Vec::new())
    );
    assert_eq!(
        applier.bus.published(),
        vec!["acct_1:e2:payment_failed_notice"]
    );
    let sent = applier.bus.actions.lock().unwrap().clone();
    let version = applier
        .accounts
        .store()
        .load(&id())
        .await
        .unwrap()
        .unwrap()
        .version;
    assert_eq!(sent[0].status, Some(Status::Active));
    assert!(
        sent[0].sequence > 1 && sent[0].sequence < version,
        "the version that decided it: {} (now {version})",
        sent[0].sequence
    );
}

/// Runs every date from `from` to `to`; returns the actions by name.
async fn run_days(accounts: &Accounts<MemoryStore>, from: &str, to: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut day = d(from);
    while day <= d(to) {
        for a in accounts.run_account(&id(), day).await.unwrap() {
            out.push((day.to_string(), a.kind.as_str().to_owned()));
        }
        day = day.succ_opt().unwrap();
    }
    out
}

#[tokio::test]
async fn nobody_is_suspended_without_a_final_notice_that_reached_them() {
    let accounts = accounts_with_invoice().await;
    let fired = run_days(&accounts, "2026-01-16", "2026-02-05").await;
    let names: Vec<&str> = fired.iter().map(|(_, n)| n.as_str()).collect();
    // The notice never reached SES: on the suspension date it is sent again.
    assert_eq!(
        names,
        ["reminder_1", "reminder_2", "final_notice", "final_notice"]
    );
    assert_eq!(fired[3].0, "2026-02-05");
    let state = accounts.store().state(&id()).unwrap();
    assert_eq!(state.status, Status::Active);

    // The repeated notice reaches the customer; a week later, suspension.
    let message = "acct_1:2026-01-16:final_notice:2026-02-05";
    accounts.store().record_mail(
        &id(),
        message,
        "dana@whitfield.example",
        json!({"date": "2026-02-05", "audience": "contact"}),
    );
    let fired = run_days(&accounts, "2026-02-06", "2026-02-12").await;
    assert_eq!(fired, [("2026-02-12".to_owned(), "suspend".to_owned())]);
    let state = accounts.store().state(&id()).unwrap();
    assert_eq!(state.status, Status::Suspended);
}

#[tokio::test]
async fn a_final_notice_only_staff_received_warned_nobody() {
    let accounts = accounts_with_invoice().await;
    run_days(&accounts, "2026-01-16", "2026-01-29").await;
    accounts.store().record_mail(
        &id(),
        "acct_1:2026-01-16:final_notice:2026-01-29",
        "staff@pastdue.example",
        json!({"date": "2026-01-29", "audience": "staff"}),
    );
    let fired = run_days(&accounts, "2026-02-05", "2026-02-05").await;
    assert_eq!(
        fired,
        [("2026-02-05".to_owned(), "final_notice".to_owned())]
    );
}

#[tokio::test]
async fn a_date_is_run_once() {
    let accounts = accounts_with_invoice().await;
    assert_eq!(
        run_days(&accounts, "2026-01-16", "2026-01-16").await.len(),
        1
    );
    let loaded = accounts.store().load(&id()).await.unwrap().unwrap();
    assert!(
        run_days(&accounts, "2026-01-16", "2026-01-16")
            .await
            .is_empty()
    );
    let again = accounts.store().load(&id()).await.unwrap().unwrap();
    assert_eq!(loaded.version, again.version, "nothing written");
}
