//! Delivery failures on the local stack (DynamoDB Local and the moto SES
//! emulator): the outbox flushed by every commit, with ordered messages;
//! SES refusing an unverified sender, which marks nobody; a bouncing staff
//! address; a refusal's follow-up completed on redelivery; and a dunning
//! run that passes over an account that always fails.

mod support;

use std::sync::{Arc, Mutex};

use pastdue_shared::adapters::dynamodb::DynamoDueIndex;
use pastdue_shared::adapters::dynamodb::DynamoStore;
use pastdue_shared::adapters::ses::SesMailer;
use pastdue_shared::domain::{
    Account, AccountId, ActionMessage, EmailAddress, Event, Policy, Status,
};
use pastdue_shared::handlers::dunning::{self, Deadline, Dunning};
use pastdue_shared::handlers::notifier::{self, Notifier};
use pastdue_shared::notify::render::Templates;
use pastdue_shared::ports::{
    ApplyOutcome, Outbox, OutgoingEmail, Publish, PublishActions, PublishError, RunAccounts,
    RunOutcome, SendEmail, SendError, StoreError,
};
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
    store_and_index(label).await.0
}

/// The store with one account owing 100.00 due 2026-01-15, and the due
/// index over its table.
async fn store_and_index(label: &str) -> (DynamoStore, DynamoDueIndex) {
    let (client, table) = support::fresh_table(label).await;
    let index = DynamoDueIndex::new(client.clone(), table.clone());
    let store = DynamoStore::new(client, table, Policy::default());
    owing(
        &store,
        json!({"id": "acct_1", "name": "Whitfield Hosting", "contacts": [
            {"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]}]}),
        "in_1",
        "100.00",
    )
    .await;
    (store, index)
}

/// Creates `account` (spec §6 shape) with one invoice for `amount` USD due
/// 2026-01-15.
async fn owing(
    store: &DynamoStore,
    account: serde_json::Value,
    invoice: &str,
    amount: &str,
) -> Account {
    let account = Account::from_json(&account).unwrap();
    support::accounts(store)
        .upsert_account(&account)
        .await
        .unwrap();
    let issued = event(
        json!({"id": format!("issue_{}", account.id), "at": "2026-01-01T10:00:00Z", "account": account.id,
        "type": "invoice_issued", "invoice": invoice, "amount": amount, "currency": "USD", "due": "2026-01-15"}),
    );
    apply_and_announce(store, &Bus::default(), &issued)
        .await
        .unwrap();
    account
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

/// A bus for contact reports that applies them here, unless `down`.
#[derive(Clone)]
struct Reports {
    inline: Arc<pastdue_shared::adapters::bus::InlineBus<support::InlineApplier>>,
    down: Arc<Mutex<bool>>,
}

impl Publish for Reports {
    async fn publish(
        &self,
        source: &str,
        events: &[Event],
    ) -> Result<Vec<Option<ApplyOutcome>>, PublishError> {
        if *self.down.lock().unwrap() {
            return Err(PublishError::Unavailable("throttled".into()));
        }
        self.inline.publish(source, events).await
    }
}

/// The SES emulator, refusing the addresses in `refuse` as SES refuses a
/// malformed one.
#[derive(Clone)]
struct Mailer {
    ses: SesMailer,
    refuse: Vec<String>,
}

impl SendEmail for Mailer {
    async fn send_email(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        if self.refuse.iter().any(|r| r == email.to.as_str()) {
            return Err(SendError::Refused(
                "BadRequestException: invalid address".into(),
            ));
        }
        self.ses.send_email(email).await
    }
}

async fn notifier(
    store: &DynamoStore,
    refuse: &[&str],
    staff: &EmailAddress,
) -> (
    Notifier<DynamoStore, Mailer, ReportUndeliverable<DynamoStore, Reports>>,
    Reports,
) {
    let config = support::sdk_config().await;
    let settings = runtime::MailSettings::from_env().expect("make env sets the mail settings");
    let reports = Reports {
        inline: Arc::new(support::inline_bus(store)),
        down: Arc::default(),
    };
    let notifier = Notifier {
        store: store.clone(),
        marks: ReportUndeliverable {
            contacts: store.clone(),
            bus: reports.clone(),
        },
        mail: Mailer {
            ses: SesMailer::new(aws_sdk_sesv2::Client::new(&config), settings.sender, None),
            refuse: refuse.iter().map(|r| (*r).to_owned()).collect(),
        },
        templates: Templates::new(settings.links, &Policy::default()).unwrap(),
        staff: staff.clone(),
        lease: chrono::Duration::minutes(10),
    };
    (notifier, reports)
}

fn unique_staff() -> EmailAddress {
    EmailAddress::parse(&format!("staff-{}@pastdue.example", fastrand::u32(..))).unwrap()
}

#[tokio::test]
async fn a_bouncing_staff_address_makes_no_staff_mail_on_the_stack() {
    let store = store("staff-bounce").await;
    let staff = unique_staff();
    let (notifier, _) = notifier(&store, &[], &staff).await;
    let bounce = json!({
        "version": "0", "id": "b1", "detail-type": "Email Bounced", "source": "aws.ses",
        "account": "000000000000", "time": "2026-01-16T09:05:00Z", "region": "us-east-1", "resources": [],
        "detail": {"eventType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                       "bouncedRecipients": [{"emailAddress": staff.as_str()}]},
            "mail": {"messageId": "m-staff", "destination": [staff.as_str()],
                     "tags": {"account": ["acct_1"], "action": ["undeliverable"], "episode": ["none"]}}}
    });
    for minute in 5..8 {
        let now = format!("2026-01-16T09:0{minute}:00Z").parse().unwrap();
        let report = notifier::handle(&notifier, &bounce, now).await.unwrap();
        assert_eq!(report.sent, 0);
    }
    let endpoint = support::local_endpoint("AWS_ENDPOINT_URL_SESV2");
    assert!(support::ses_messages_to(&endpoint, staff.as_str()).is_empty());
}

#[tokio::test]
async fn a_refusals_mark_and_staff_alert_are_completed_on_redelivery_on_the_stack() {
    let store = store("refusal-redelivery").await;
    let staff = unique_staff();
    let (notifier, reports) = notifier(&store, &["dana@whitfield.example"], &staff).await;
    let bus = Bus::default();
    let failed = event(
        json!({"id": "f3", "at": "2026-01-16T10:00:00Z", "account": "acct_1", "type": "payment_failed",
        "invoice": "in_1", "amount": "100.00", "currency": "USD", "reason": "card_declined"}),
    );
    apply_and_announce(&store, &bus, &failed).await.unwrap();
    let message = bus.sent.lock().unwrap().pop().unwrap();
    let envelope = json!({"source": "pastdue.engine", "detail-type": message.action, "detail": message.to_json()});
    // Dana's address is refused and recorded; the report then fails.
    *reports.down.lock().unwrap() = true;
    let at = "2026-01-16T10:00:05Z".parse().unwrap();
    assert!(notifier::handle(&notifier, &envelope, at).await.is_err());
    let id = AccountId::parse("acct_1").unwrap();
    let marked = |store: &DynamoStore| {
        let store = store.clone();
        let id = id.clone();
        async move {
            store
                .load(&id)
                .await
                .unwrap()
                .unwrap()
                .state
                .account
                .contacts[0]
                .undeliverable
                .clone()
        }
    };
    assert_eq!(marked(&store).await, None);
    // The redelivery completes both, once.
    *reports.down.lock().unwrap() = false;
    for minute in 1..3 {
        let at = format!("2026-01-16T10:0{minute}:00Z").parse().unwrap();
        notifier::handle(&notifier, &envelope, at).await.unwrap();
    }
    assert!(
        marked(&store).await.is_some(),
        "Dana is marked undeliverable"
    );
    let endpoint = support::local_endpoint("AWS_ENDPOINT_URL_SESV2");
    let alerts = support::ses_messages_to(&endpoint, staff.as_str());
    assert_eq!(alerts.len(), 1, "staff asked to phone once: {alerts:?}");
}

/// Runs accounts through the store, except `broken`, whose run always fails.
struct Faulty {
    inner: pastdue_shared::services::Accounts<DynamoStore>,
    broken: AccountId,
}

impl RunAccounts for Faulty {
    async fn run_due(
        &self,
        account: &AccountId,
        date: chrono::NaiveDate,
    ) -> Result<RunOutcome, StoreError> {
        if account == &self.broken {
            return Err(StoreError::Rejected {
                operation: "TransactWriteItems",
                message: "one change would write 101 items (limit 100)".into(),
            });
        }
        self.inner.run_due(account, date).await
    }
}

struct Never;

impl Deadline for Never {
    fn expired(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn an_account_that_always_fails_is_passed_over_after_three_runs_on_the_stack() {
    let (store, index) = store_and_index("run-failures").await;
    let broken = owing(
        &store,
        json!({"id": "acct_bad", "name": "Broken Ltd", "contacts": [
            {"name": "Ola Broken", "email": "ola@broken.example", "roles": ["billing"]}]}),
        "in_b",
        "50.00",
    )
    .await;
    let accounts = support::accounts(&store);
    let bus = Bus::default();
    let deps = Dunning {
        due: index,
        runs: Faulty {
            inner: accounts,
            broken: broken.id.clone(),
        },
        store: store.clone(),
        bus: bus.clone(),
        run_hour: 9,
        shard_parallelism: 4,
        account_parallelism: 4,
    };
    let mut failed_and_skipped = Vec::new();
    for hour in 10..=13 {
        let now = format!("2026-01-16T{hour}:00:00Z").parse().unwrap();
        let report = dunning::run(&deps, now, &Never).await.unwrap();
        failed_and_skipped.push((report.failed, report.skipped));
    }
    assert_eq!(failed_and_skipped, [(1, 0), (1, 0), (1, 1), (0, 0)]);
    let sent: Vec<String> = bus
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.id.clone())
        .collect();
    assert_eq!(
        sent,
        ["acct_1:2026-01-16:reminder_1:2026-01-16"],
        "the other account is dunned"
    );
}
