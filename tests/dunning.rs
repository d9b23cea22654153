//! The hourly `dunning` run against DynamoDB Local: it fires what `pastdue
//! simulate` fires for the same events, never twice, and an interrupted run
//! resumes where it stopped.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use pastdue_shared::adapters::dynamodb::{DynamoDueIndex, DynamoStore};
use pastdue_shared::domain::engine::run_instant;
use pastdue_shared::domain::simulate::{Scenario, simulate};
use pastdue_shared::domain::{Account, ActionMessage, Event, Policy};
use pastdue_shared::handlers::dunning::{self, Deadline, Dunning, RunReport};
use pastdue_shared::handlers::events::apply_and_announce;
use pastdue_shared::ports::{PublishActions, PublishError};
use serde_json::{Value, json};

/// Records every action put on the bus.
#[derive(Debug, Clone, Default)]
struct Bus(Arc<Mutex<Vec<ActionMessage>>>);

impl Bus {
    fn take(&self) -> Vec<ActionMessage> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl PublishActions for Bus {
    async fn publish_actions(&self, messages: &[ActionMessage]) -> Result<(), PublishError> {
        self.0.lock().unwrap().extend_from_slice(messages);
        Ok(())
    }
}

/// Never expires.
struct NoDeadline;

impl Deadline for NoDeadline {
    fn expired(&self) -> bool {
        false
    }
}

/// Lets `n` accounts start, then says time is up.
struct AfterAccounts(AtomicUsize);

impl Deadline for AfterAccounts {
    fn expired(&self) -> bool {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_err()
    }
}

type Deps = Dunning<DynamoDueIndex, DynamoStore, Bus>;

async fn deps(label: &str, policy: Policy) -> Deps {
    let (client, table) = support::fresh_table(label).await;
    let run_hour = policy.run_hour;
    Dunning {
        due: DynamoDueIndex::new(client.clone(), table.clone()),
        store: DynamoStore::new(client, table, policy),
        bus: Bus::default(),
        run_hour,
        shard_parallelism: 4,
        account_parallelism: 8,
    }
}

const ZONES: [&str; 5] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
];

/// Twenty accounts in five time zones, each with its own story: never pays,
/// pays late, pays part, promises to pay (a hold) and pays, fails a payment
/// and pays after suspension (reinstated).
fn scenario() -> Scenario {
    let mut accounts = Vec::new();
    let mut events = Vec::new();
    for i in 0..20u32 {
        let id = format!("acct_{i:02}");
        let tz = ZONES[i as usize % ZONES.len()];
        accounts.push(json!({
            "id": id, "name": format!("Customer {i}"), "timezone": tz, "exempt": i == 7,
            "contacts": [
                {"name": format!("Billing Person {i}"), "email": format!("billing{i}@example.com"), "roles": ["billing"]},
                {"name": format!("Owner {i}"), "email": format!("owner{i}@example.com"), "roles": ["primary"]},
                {"name": format!("Escalation {i}"), "email": format!("esc{i}@example.com"), "roles": ["escalation"]},
            ]
        }));
        let due = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() + Duration::days(i64::from(i % 10));
        let amount = format!("{}.00", 100 + i * 45);
        let mut ev = |n: u32, at: String, body: Value| {
            let mut e = json!({"id": format!("{id}-e{n}"), "at": at, "account": id});
            for (k, v) in body.as_object().unwrap() {
                e[k] = v.clone();
            }
            events.push(e);
        };
        ev(
            0,
            "2026-01-01T12:00:00Z".into(),
            json!({"type": "invoice_issued", "invoice": "in_1", "amount": amount, "currency": "USD", "due": due.to_string()}),
        );
        let on = |days: i64, hour: u32| format!("{}T{hour:02}:30:00Z", due + Duration::days(days));
        match i % 5 {
            0 => {}
            1 => ev(
                1,
                on(10, 15),
                json!({"type": "payment_succeeded", "invoice": "in_1", "amount": amount, "currency": "USD", "payment": format!("pi_{i}")}),
            ),
            2 => ev(
                1,
                on(9, 3),
                json!({"type": "payment_succeeded", "invoice": "in_1", "amount": "50.00", "currency": "USD", "payment": format!("pi_{i}")}),
            ),
            3 => {
                ev(
                    1,
                    on(12, 10),
                    json!({"type": "hold_placed", "until": (due + Duration::days(20)).to_string(), "reason": "phoned: pays Friday"}),
                );
                ev(
                    2,
                    on(19, 16),
                    json!({"type": "payment_succeeded", "invoice": "in_1", "amount": amount, "currency": "USD", "payment": format!("pi_{i}")}),
                );
            }
            _ => {
                ev(
                    1,
                    on(2, 8),
                    json!({"type": "payment_failed", "invoice": "in_1", "amount": amount, "currency": "USD", "reason": "card_declined"}),
                );
                ev(
                    2,
                    on(30, 20),
                    json!({"type": "payment_succeeded", "invoice": "in_1", "amount": amount, "currency": "USD", "payment": format!("pi_{i}")}),
                );
            }
        }
    }
    let text =
        json!({"from": "2026-01-01", "to": "2026-03-01", "accounts": accounts, "events": events});
    Scenario::from_json_str(&text.to_string()).unwrap()
}

/// The instants at which some account's run hour comes: an hourly
/// schedule would invoke at these (and at others, which find nothing due).
fn ticks(s: &Scenario, run_hour: u32) -> Vec<DateTime<Utc>> {
    let zones: BTreeSet<&str> = s.accounts.iter().map(|a| a.timezone.name()).collect();
    let mut ticks = BTreeSet::new();
    let mut d = s.from;
    while d <= s.to {
        for tz in &zones {
            let tz: Tz = tz.parse().unwrap();
            ticks.insert(run_instant(d, run_hour, tz));
        }
        d += Duration::days(1);
    }
    ticks.into_iter().collect()
}

/// An action as `pastdue simulate` prints it.
fn printed(m: &ActionMessage) -> Value {
    let mut to: Vec<&str> = m.recipients.iter().map(|r| r.email.as_str()).collect();
    to.sort_unstable();
    let mut v = json!({
        "date": m.date.to_string(), "account": m.account, "action": m.action, "dpd": m.dpd,
        "invoices": m.invoices, "to": to,
    });
    if let Some(d) = m.suspend_on {
        v["suspend_on"] = json!(d.to_string());
    }
    v
}

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|a| {
        (
            a["date"].as_str().unwrap_or_default().to_owned(),
            a["account"].as_str().unwrap_or_default().to_owned(),
            a["action"].as_str().unwrap_or_default().to_owned(),
        )
    });
    v
}

async fn onboard(d: &Deps, s: &Scenario) {
    for account in &s.accounts {
        d.store.upsert_account(account).await.unwrap();
    }
}

/// Applies, through the handler path, every event before `until`.
async fn apply_before(
    d: &Deps,
    events: &mut std::iter::Peekable<std::vec::IntoIter<Event>>,
    until: DateTime<Utc>,
) {
    while let Some(e) = events.next_if(|e| e.at < until) {
        apply_and_announce(&d.store, &d.bus, &e).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_days_of_hourly_runs_fire_what_simulate_fires_once_each() {
    let policy = Policy::default();
    let s = scenario();
    let expected: Vec<Value> = simulate(&s, &policy)
        .actions
        .iter()
        .map(|a| a.to_json())
        .collect();
    let d = deps("dunning-60", policy.clone()).await;
    onboard(&d, &s).await;
    let mut events = s.events.clone();
    events.sort_by_key(|e| e.at);
    let mut events = events.into_iter().peekable();
    let mut reports: Vec<RunReport> = Vec::new();
    for tick in ticks(&s, policy.run_hour) {
        apply_before(&d, &mut events, tick).await;
        reports.push(dunning::run(&d, tick, &NoDeadline).await.unwrap());
    }
    apply_before(&d, &mut events, DateTime::<Utc>::MAX_UTC).await;
    let got = sorted(d.bus.take().iter().map(printed).collect());
    let kinds: BTreeSet<&str> = got.iter().filter_map(|a| a["action"].as_str()).collect();
    for kind in [
        "reminder_1",
        "reminder_2",
        "final_notice",
        "suspend",
        "reinstate",
        "cancel",
        "payment_failed_notice",
    ] {
        assert!(
            kinds.contains(kind),
            "the stories exercise {kind}: {kinds:?}"
        );
    }
    assert_eq!(got, sorted(expected), "the run's actions are simulate's");
    assert!(reports.iter().all(|r| r.complete && r.failed == 0));
    // An account is read only when its run hour comes: one evaluation per
    // overdue account and local date, never one per hourly tick.
    let evaluated: usize = reports.iter().map(|r| r.evaluated).sum();
    let due: usize = reports.iter().map(|r| r.due).sum();
    assert_eq!(evaluated, due, "nothing already run was read again");
}

async fn overdue_accounts(d: &Deps, n: u32) {
    for i in 0..n {
        let id = format!("late_{i:02}");
        let account = Account::from_json(&json!({"id": id, "name": format!("Late {i}"), "timezone": "UTC",
            "contacts": [{"name": format!("Pat {i}"), "email": format!("pat{i}@example.com"), "roles": ["billing"]}]}))
        .unwrap();
        d.store.upsert_account(&account).await.unwrap();
        let invoice = Event::from_json(&json!({"id": format!("{id}-inv"), "at": "2026-01-01T10:00:00Z", "account": id,
            "type": "invoice_issued", "invoice": "in_1", "amount": "80.00", "currency": "EUR", "due": "2026-01-15"}))
        .unwrap();
        d.store.apply(&invoice).await.unwrap();
    }
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn the_same_instant_twice_sends_nothing_new() {
    let d = deps("dunning-twice", Policy::default()).await;
    overdue_accounts(&d, 12).await;
    let first = dunning::run(&d, t("2026-01-16T09:00:00Z"), &NoDeadline)
        .await
        .unwrap();
    assert_eq!((first.evaluated, first.published), (12, 12), "{first:?}");
    assert_eq!(d.bus.take().len(), 12);
    let again = dunning::run(&d, t("2026-01-16T09:00:00Z"), &NoDeadline)
        .await
        .unwrap();
    assert_eq!(
        (again.due, again.evaluated, again.published),
        (0, 0, 0),
        "{again:?}"
    );
    // Later the same day: the date was run.
    let later = dunning::run(&d, t("2026-01-16T17:00:00Z"), &NoDeadline)
        .await
        .unwrap();
    assert_eq!((later.evaluated, later.published), (0, 0), "{later:?}");
    assert!(d.bus.take().is_empty());
}

#[tokio::test]
async fn a_run_stopped_by_the_deadline_resumes_without_doing_anything_twice() {
    let d = deps("dunning-deadline", Policy::default()).await;
    overdue_accounts(&d, 20).await;
    let now = t("2026-01-16T09:00:00Z");
    let cut = dunning::run(&d, now, &AfterAccounts(AtomicUsize::new(7)))
        .await
        .unwrap();
    assert!(!cut.complete, "{cut:?}");
    assert_eq!((cut.evaluated, cut.deferred), (7, 13), "{cut:?}");
    // The next invocation (an hour later) covers what was left.
    let next = dunning::run(&d, now + Duration::hours(1), &NoDeadline)
        .await
        .unwrap();
    assert!(next.complete, "{next:?}");
    assert_eq!(next.evaluated, 13, "{next:?}");
    let sent = d.bus.take();
    let accounts: BTreeSet<&str> = sent.iter().map(|m| m.account.as_str()).collect();
    assert_eq!((sent.len(), accounts.len()), (20, 20), "one reminder each");
    assert!(sent.iter().all(|m| m.action == "reminder_1"));
    // Every shard is checkpointed now: the same hour again reads nothing.
    let quiet = dunning::run(&d, now + Duration::hours(1), &NoDeadline)
        .await
        .unwrap();
    assert_eq!((quiet.due, quiet.evaluated), (0, 0), "{quiet:?}");
}
