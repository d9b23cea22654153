//! The dunning run and the notifier on the in-memory ports: what `make unit`
//! checks in milliseconds (the integration tests repeat it on DynamoDB Local
//! and the SES emulator).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::dunning::{self, Deadline, Dunning};
use super::notifier::{self, Notifier};
use crate::domain::{Account, AccountId, EmailAddress, Event, EventKind, Policy};
use crate::notify::render::{Links, Templates};
use crate::ports::{OutgoingEmail, RunAccounts, RunOutcome, SendEmail, SendError, StoreError};
use crate::services::memory::{MemoryBus, MemoryStore};
use crate::services::{Accounts, ReportUndeliverable};

struct Never;

impl Deadline for Never {
    fn expired(&self) -> bool {
        false
    }
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn overdue_account() -> (MemoryStore, Accounts<MemoryStore>) {
    let store = MemoryStore::default();
    let accounts = Accounts::new(store.clone(), Policy::default());
    let account = Account::from_json(&json!({"id": "acct_1", "name": "Whitfield Hosting", "timezone": "UTC",
        "contacts": [{"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]},
                     {"name": "Kevin Ortiz", "email": "kevin@whitfield.example", "roles": ["primary"]}]}))
    .unwrap();
    accounts.upsert_account(&account).await.unwrap();
    let invoice = Event::from_json(&json!({"id": "e1", "at": "2026-01-01T10:00:00Z", "account": "acct_1",
        "type": "invoice_issued", "invoice": "in_1", "amount": "100.00", "currency": "USD", "due": "2026-01-15"}))
    .unwrap();
    accounts.apply(&invoice).await.unwrap();
    (store, accounts)
}

fn dunning_deps(
    store: &MemoryStore,
    accounts: Accounts<MemoryStore>,
    bus: &MemoryBus,
) -> Dunning<MemoryStore, Accounts<MemoryStore>, MemoryStore, MemoryBus> {
    Dunning {
        due: store.clone(),
        runs: accounts,
        store: store.clone(),
        bus: bus.clone(),
        run_hour: 9,
        shard_parallelism: 2,
        account_parallelism: 2,
    }
}

#[tokio::test]
async fn the_run_fires_the_due_step_once_and_publishes_it() {
    let (store, accounts) = overdue_account().await;
    let bus = MemoryBus::default();
    let deps = dunning_deps(&store, accounts, &bus);
    // 08:00 UTC: today's 09:00 run has not come yet; yesterday's (the due
    // date) finds nothing overdue.
    let early = dunning::run(&deps, at("2026-01-16T08:00:00Z"), &Never)
        .await
        .unwrap();
    assert!(early.actions.is_empty(), "{early:?}");
    assert!(bus.published().is_empty());
    let report = dunning::run(&deps, at("2026-01-16T10:00:00Z"), &Never)
        .await
        .unwrap();
    assert_eq!(report.evaluated, 1);
    assert_eq!(report.actions.get("reminder_1"), Some(&1));
    assert!(report.complete);
    assert_eq!(bus.published(), ["acct_1:2026-01-16:reminder_1:2026-01-16"]);
    // The same instant again: nothing new, nothing published twice.
    let again = dunning::run(&deps, at("2026-01-16T10:00:00Z"), &Never)
        .await
        .unwrap();
    assert_eq!(again.actions.len(), 0);
    assert_eq!(bus.published().len(), 1);
}

/// Runs accounts through `inner`, except `broken`, whose run always fails
/// (or panics), as an account with data the code cannot handle would.
struct Faulty {
    inner: Accounts<MemoryStore>,
    broken: AccountId,
    panic: bool,
}

impl RunAccounts for Faulty {
    async fn run_due(
        &self,
        account: &AccountId,
        date: chrono::NaiveDate,
    ) -> Result<RunOutcome, StoreError> {
        if account == &self.broken {
            assert!(!self.panic, "an account the engine cannot handle");
            return Err(StoreError::Malformed {
                key: format!("ACCT#{account}"),
                reason: "no numeric version".into(),
            });
        }
        self.inner.run_due(account, date).await
    }
}

#[tokio::test]
async fn an_account_that_always_fails_is_counted_then_skipped_and_never_blocks_the_others() {
    for panic in [false, true] {
        let (store, accounts) = overdue_account().await;
        let broken = Account::from_json(&json!({"id": "acct_bad", "name": "Broken Ltd", "timezone": "UTC",
            "contacts": [{"name": "Ola Broken", "email": "ola@broken.example", "roles": ["billing"]}]}))
        .unwrap();
        accounts.upsert_account(&broken).await.unwrap();
        let invoice = Event::from_json(&json!({"id": "b1", "at": "2026-01-01T10:00:00Z", "account": "acct_bad",
            "type": "invoice_issued", "invoice": "in_b", "amount": "50.00", "currency": "USD", "due": "2026-01-15"}))
        .unwrap();
        accounts.apply(&invoice).await.unwrap();
        let bus = MemoryBus::default();
        let deps = Dunning {
            due: store.clone(),
            runs: Faulty {
                inner: accounts,
                broken: broken.id.clone(),
                panic,
            },
            store: store.clone(),
            bus: bus.clone(),
            run_hour: 9,
            shard_parallelism: 1,
            account_parallelism: 2,
        };
        let mut reports = Vec::new();
        for hour in 10..=13 {
            let now = at(&format!("2026-01-16T{hour}:00:00Z"));
            reports.push(dunning::run(&deps, now, &Never).await.unwrap());
        }
        let summary: Vec<(usize, usize, usize, bool)> = reports
            .iter()
            .map(|r| (r.evaluated, r.failed, r.skipped, r.complete))
            .collect();
        assert_eq!(
            summary,
            [
                (1, 1, 0, false),
                (0, 1, 0, false),
                (0, 1, 1, true),
                (0, 0, 0, true)
            ],
            "panic: {panic}"
        );
        assert_eq!(bus.published(), ["acct_1:2026-01-16:reminder_1:2026-01-16"]);
        // The next date is tried afresh.
        let next = dunning::run(&deps, at("2026-01-17T10:00:00Z"), &Never)
            .await
            .unwrap();
        assert_eq!((next.evaluated, next.failed, next.skipped), (1, 1, 0));
    }
}

/// Records every email; refuses the addresses in `refuse`.
#[derive(Debug, Clone, Default)]
struct Mailer {
    sent: Arc<Mutex<Vec<OutgoingEmail>>>,
    refuse: Vec<String>,
    /// SES refuses everything (an unverified sender, the sandbox).
    systemic: Arc<Mutex<bool>>,
}

impl SendEmail for Mailer {
    async fn send_email(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        if *self.systemic.lock().unwrap() {
            return Err(SendError::Systemic(
                "MessageRejected: Email address is not verified".into(),
            ));
        }
        if self.refuse.iter().any(|r| r == email.to.as_str()) {
            return Err(SendError::Refused("address rejected".into()));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(email.clone());
        Ok(format!("ses-{}", sent.len()))
    }
}

fn notifier(store: &MemoryStore, mail: Mailer, bus: &MemoryBus) -> TestNotifier {
    let links = Links {
        pay_url: "https://pay.example/{account}".into(),
        card_url: "https://card.example/{account}".into(),
        portal: None,
    };
    Notifier {
        store: store.clone(),
        mail,
        marks: ReportUndeliverable {
            contacts: store.clone(),
            bus: bus.clone(),
        },
        templates: Templates::new(links, &Policy::default()).unwrap(),
        staff: EmailAddress::parse("staff@pastdue.example").unwrap(),
        lease: chrono::Duration::minutes(10),
    }
}

/// The bus envelope of the account's first run action on 2026-01-22
/// (`reminder_2`: billing and primary).
async fn reminder_2(store: &MemoryStore, accounts: Accounts<MemoryStore>) -> serde_json::Value {
    let bus = MemoryBus::default();
    let deps = dunning_deps(store, accounts, &bus);
    dunning::run(&deps, at("2026-01-22T10:00:00Z"), &Never)
        .await
        .unwrap();
    let message = bus.actions.lock().unwrap().pop().unwrap();
    assert_eq!(message.action, "reminder_2");
    json!({"source": "pastdue.engine", "detail-type": "reminder_2", "detail": message.to_json()})
}

#[tokio::test]
async fn each_recipient_gets_one_email_greeting_them_by_name() {
    let (store, accounts) = overdue_account().await;
    let envelope = reminder_2(&store, accounts).await;
    let mail = Mailer::default();
    let deps = notifier(&store, mail.clone(), &MemoryBus::default());
    let report = notifier::handle(&deps, &envelope, at("2026-01-22T10:00:05Z"))
        .await
        .unwrap();
    assert_eq!(report.sent, 2);
    let sent = mail.sent.lock().unwrap().clone();
    for (to, name, other) in [
        ("dana@whitfield.example", "Dana Whitfield", "Kevin Ortiz"),
        ("kevin@whitfield.example", "Kevin Ortiz", "Dana Whitfield"),
    ] {
        let email = sent.iter().find(|e| e.to.as_str() == to).unwrap();
        assert!(email.text.contains(name), "{to} greeted by name");
        assert!(!email.text.contains(other), "{to} not greeted as {other}");
    }
    // A redelivery of the same message sends nothing.
    let again = notifier::handle(&deps, &envelope, at("2026-01-22T10:05:00Z"))
        .await
        .unwrap();
    assert_eq!((again.sent, again.skipped), (0, 2));
    assert_eq!(mail.sent.lock().unwrap().len(), 2);
}

type TestNotifier = Notifier<MemoryStore, Mailer, ReportUndeliverable<MemoryStore, MemoryBus>>;

/// `reminder_2`'s envelope, and a notifier whose mail refuses Kevin's
/// address (its mailer and reporting bus, to look at afterwards).
async fn refusing_kevin() -> (serde_json::Value, Mailer, MemoryBus, TestNotifier) {
    let (store, accounts) = overdue_account().await;
    let envelope = reminder_2(&store, accounts).await;
    let mail = Mailer {
        refuse: vec!["kevin@whitfield.example".into()],
        ..Mailer::default()
    };
    let bus = MemoryBus::default();
    let deps = notifier(&store, mail.clone(), &bus);
    (envelope, mail, bus, deps)
}

/// How many emails `mail` sent to `to`.
fn sent_to(mail: &Mailer, to: &str) -> usize {
    mail.sent
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.to.as_str() == to)
        .count()
}

#[tokio::test]
async fn a_refused_address_is_reported_and_staff_are_asked_to_phone() {
    let (envelope, mail, bus, deps) = refusing_kevin().await;
    let report = notifier::handle(&deps, &envelope, at("2026-01-22T10:00:05Z"))
        .await
        .unwrap();
    assert_eq!(report.refused, 1);
    let events = bus.events.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].account, AccountId::parse("acct_1").unwrap());
    assert!(matches!(
        &events[0].kind,
        EventKind::ContactUndeliverable { email, .. } if email.as_str() == "kevin@whitfield.example"
    ));
    let sent = mail.sent.lock().unwrap().clone();
    let staff: Vec<_> = sent
        .iter()
        .filter(|e| e.to.as_str() == "staff@pastdue.example")
        .collect();
    assert_eq!(staff.len(), 1, "one alert to staff");
    assert!(staff[0].text.contains("Kevin Ortiz"));
}

#[tokio::test]
async fn ses_refusing_all_mail_marks_nobody_and_the_redelivery_sends() {
    let (store, accounts) = overdue_account().await;
    let envelope = reminder_2(&store, accounts).await;
    let mail = Mailer::default();
    *mail.systemic.lock().unwrap() = true;
    let bus = MemoryBus::default();
    let deps = notifier(&store, mail.clone(), &bus);
    let err = notifier::handle(&deps, &envelope, at("2026-01-22T10:00:05Z"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(bus.events.lock().unwrap().is_empty(), "no contact marked");
    assert!(
        mail.sent.lock().unwrap().is_empty(),
        "no staff alert either"
    );
    // Fixed (the sender verified): the redelivery writes to both.
    *mail.systemic.lock().unwrap() = false;
    let report = notifier::handle(&deps, &envelope, at("2026-01-22T11:00:00Z"))
        .await
        .unwrap();
    assert_eq!((report.sent, report.refused), (2, 0));
}

fn bounce_of(email: &str, ses_id: &str) -> serde_json::Value {
    json!({
        "version": "0", "id": ses_id, "detail-type": "Email Bounced", "source": "aws.ses",
        "account": "000000000000", "time": "2026-01-16T09:05:00Z", "region": "us-east-1", "resources": [],
        "detail": {"eventType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                       "bouncedRecipients": [{"emailAddress": email}]},
            "mail": {"messageId": ses_id, "destination": [email],
                     "tags": {"account": ["acct_1"], "action": ["undeliverable"], "episode": ["none"]}}}
    })
}

#[tokio::test]
async fn a_bouncing_staff_address_never_makes_more_staff_mail() {
    let (store, _accounts) = overdue_account().await;
    let mail = Mailer::default();
    let bus = MemoryBus::default();
    let deps = notifier(&store, mail.clone(), &bus);
    // Staff's own address bounces (any case): no alert about it, no mark.
    for (n, address) in ["staff@pastdue.example", "Staff@PastDue.example"]
        .iter()
        .enumerate()
    {
        let report = notifier::handle(
            &deps,
            &bounce_of(address, &format!("m{n}")),
            at("2026-01-16T09:05:00Z"),
        )
        .await
        .unwrap();
        assert_eq!(report, notifier::NotifyReport::default());
    }
    assert!(mail.sent.lock().unwrap().is_empty());
    assert!(bus.events.lock().unwrap().is_empty());
    // A customer's bounce still asks staff to phone.
    let report = notifier::handle(
        &deps,
        &bounce_of("dana@whitfield.example", "m9"),
        at("2026-01-16T09:06:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(report.sent, 1);
}

#[tokio::test]
async fn the_mark_and_the_staff_alert_after_a_refusal_are_completed_on_redelivery() {
    let (envelope, mail, bus, deps) = refusing_kevin().await;
    // The refusal is recorded, then the bus is down for the mark.
    *bus.down.lock().unwrap() = true;
    let err = notifier::handle(&deps, &envelope, at("2026-01-22T10:00:05Z"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let staff_mail = || sent_to(&mail, "staff@pastdue.example");
    assert_eq!(staff_mail(), 0);
    *bus.down.lock().unwrap() = false;
    notifier::handle(&deps, &envelope, at("2026-01-22T10:01:00Z"))
        .await
        .unwrap();
    let events = bus.events.lock().unwrap().clone();
    assert_eq!(events.len(), 1, "the mark, once");
    assert_eq!(staff_mail(), 1, "the alert, once");
    // A third delivery adds nothing.
    notifier::handle(&deps, &envelope, at("2026-01-22T10:02:00Z"))
        .await
        .unwrap();
    assert_eq!(staff_mail(), 1);
    assert_eq!(
        sent_to(&mail, "dana@whitfield.example"),
        1,
        "the other recipient written to once"
    );
}
