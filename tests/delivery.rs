//! Downstream delivery on the local stack: the outbox on DynamoDB Local
//! flushed by every commit, with ordered messages; and SES (the moto
//! emulator) refusing an unverified sender, which marks nobody.

mod support;

use std::sync::{Arc, Mutex};

use pastdue_shared::adapters::dynamodb::DynamoStore;
use pastdue_shared::adapters::ses::SesMailer;
use pastdue_shared::domain::{Account, ActionMessage, EmailAddress, Event, Policy, Status};
use pastdue_shared::handlers::notifier::{self, Notifier};
use pastdue_shared::notify::render::Templates;
use pastdue_shared::ports::{Outbox, PublishActions, PublishError};
use pastdue_shared::runtime;
use pastdue_shared::services::ReportUndeliverable;
use serde_json::json;
use support::apply_and_announce;

/// Records what it is given; refuses it while `down`.
#[derive(Clone, Default)]
struct Bus {
    sent: Arc<Mutex<Vec<ActionMessage>>>,
    down: Arc<Mutex<bool>>,
}

impl PublishActions for Bus {
    async fn publish_actions(&self, messages: &[ActionMessage]) -> Result<(), PublishError> {
        if *self.down.lock().unwrap() {
            return Err(PublishError::Unavailable("throttled".into()));
        }
        self.sent.lock().unwrap().extend_from_slice(messages);
        Ok(())
    }
}

async fn store(label: &str) -> DynamoStore {
    let (client, table) = support::fresh_table(label).await;
    let store = DynamoStore::new(client, table, Policy::default());
    let account = Account::from_json(
        &json!({"id": "acct_1", "name": "Whitfield Hosting", "contacts": [
        {"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]}]}),
    )
    .unwrap();
    support::accounts(&store)
        .upsert_account(&account)
        .await
        .unwrap();
    let issued = event(
        json!({"id": "e1", "at": "2026-01-01T10:00:00Z", "account": "acct_1", "type": "invoice_issued",
        "invoice": "in_1", "amount": "100.00", "currency": "USD", "due": "2026-01-15"}),
    );
    apply_and_announce(&store, &Bus::default(), &issued)
        .await
        .unwrap();
    store
}

fn event(v: serde_json::Value) -> Event {
    Event::from_json(&v).unwrap()
}

#[tokio::test]
async fn a_later_commit_flushes_what_an_earlier_one_left_pending() {
    let store = store("flush").await;
    let id = pastdue_shared::domain::AccountId::parse("acct_1").unwrap();
    let bus = Bus::default();
    *bus.down.lock().unwrap() = true;
    let failed = event(
        json!({"id": "f1", "at": "2026-01-16T10:00:00Z", "account": "acct_1", "type": "payment_failed",
        "invoice": "in_1", "amount": "100.00", "currency": "USD", "reason": "card_declined"}),
    );
    assert!(apply_and_announce(&store, &bus, &failed).await.is_err());
    assert_eq!(store.pending_actions(&id).await.unwrap().len(), 1);
    // The next change causes no action of its own, and still sends it.
    *bus.down.lock().unwrap() = false;
    let hold = event(
        json!({"id": "h1", "at": "2026-01-16T11:00:00Z", "account": "acct_1", "type": "hold_placed",
        "until": "2026-01-20", "reason": "pays Friday"}),
    );
    apply_and_announce(&store, &bus, &hold).await.unwrap();
    assert!(store.pending_actions(&id).await.unwrap().is_empty());
    let sent = bus.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].action, "payment_failed_notice");
    assert_eq!(sent[0].status, Some(Status::Active));
    let version = store.load(&id).await.unwrap().unwrap().version;
    assert!(
        (2..version).contains(&sent[0].sequence),
        "the version of the commit that decided it ({}), below today's {version}",
        sent[0].sequence
    );
}

#[tokio::test]
async fn an_unverified_sender_marks_nobody_and_is_retried() {
    let store = store("unverified").await;
    let config = support::sdk_config().await;
    let settings = runtime::MailSettings::from_env().expect("make env sets the mail settings");
    let unverified = EmailAddress::parse(&format!(
        "nobody-verified-{}@pastdue.example",
        fastrand::u32(..)
    ))
    .unwrap();
    let marks = Bus::default();
    let notifier = Notifier {
        store: store.clone(),
        marks: ReportUndeliverable {
            contacts: store.clone(),
            bus: support::inline_bus(&store),
        },
        mail: SesMailer::new(aws_sdk_sesv2::Client::new(&config), unverified, None),
        templates: Templates::new(settings.links, &Policy::default()).unwrap(),
        staff: settings.staff,
        lease: chrono::Duration::minutes(10),
    };
    let failed = event(
        json!({"id": "f2", "at": "2026-01-16T10:00:00Z", "account": "acct_1", "type": "payment_failed",
        "invoice": "in_1", "amount": "100.00", "currency": "USD", "reason": "card_declined"}),
    );
    apply_and_announce(&store, &marks, &failed).await.unwrap();
    let message = marks.sent.lock().unwrap().pop().unwrap();
    let envelope = json!({"source": "pastdue.engine", "detail-type": message.action, "detail": message.to_json()});
    let err = notifier::handle(
        &notifier,
        &envelope,
        "2026-01-16T10:00:05Z".parse().unwrap(),
    )
    .await
    .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let id = pastdue_shared::domain::AccountId::parse("acct_1").unwrap();
    let state = store.load(&id).await.unwrap().unwrap().state;
    assert!(
        state
            .account
            .contacts
            .iter()
            .all(|c| c.undeliverable.is_none()),
        "our sender is at fault, not Dana"
    );
    // The mail log let go of the claim: with the sender fixed, it sends.
    let fixed = Notifier {
        mail: SesMailer::new(
            aws_sdk_sesv2::Client::new(&config),
            runtime::MailSettings::from_env().unwrap().sender,
            None,
        ),
        ..notifier
    };
    let report = notifier::handle(&fixed, &envelope, "2026-01-16T10:01:00Z".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
}
