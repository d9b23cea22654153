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
use crate::ports::{OutgoingEmail, SendEmail, SendError};
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

/// Records every email; refuses the addresses in `refuse`.
#[derive(Debug, Clone, Default)]
struct Mailer {
    sent: Arc<Mutex<Vec<OutgoingEmail>>>,
    refuse: Vec<String>,
}

impl SendEmail for Mailer {
    async fn send_email(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        if self.refuse.iter().any(|r| r == email.to.as_str()) {
            return Err(SendError::Refused("address rejected".into()));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(email.clone());
        Ok(format!("ses-{}", sent.len()))
    }
}

fn notifier(
    store: &MemoryStore,
    mail: Mailer,
    bus: &MemoryBus,
) -> Notifier<MemoryStore, Mailer, ReportUndeliverable<MemoryStore, MemoryBus>> {
    let links = Links {
        pay_url: "https://pay.example/{account}".into(),
        card_url: "https://card.example/{account}".into(),
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

#[tokio::test]
async fn a_refused_address_is_reported_and_staff_are_asked_to_phone() {
    let (store, accounts) = overdue_account().await;
    let envelope = reminder_2(&store, accounts).await;
    let mail = Mailer {
        refuse: vec!["kevin@whitfield.example".into()],
        ..Mailer::default()
    };
    let bus = MemoryBus::default();
    let deps = notifier(&store, mail.clone(), &bus);
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
