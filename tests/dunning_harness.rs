//! The hourly run's test harness on the local stack: DynamoDB Local, the
//! real notifier sending through the SES emulator (so the mail log knows
//! which notices reached whom), and helpers that run days of it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use pastdue_shared::adapters::bus::InlineBus;
use pastdue_shared::adapters::dynamodb::{DynamoDueIndex, DynamoStore};
use pastdue_shared::adapters::ses::SesMailer;
use pastdue_shared::domain::{Account, ActionMessage, Event, Policy};
use pastdue_shared::handlers::dunning::{self, Deadline, Dunning, RunReport};
use pastdue_shared::handlers::notifier::{self, Notifier};
use pastdue_shared::notify::render::Templates;
use pastdue_shared::ports::{
    OutgoingEmail, PublishActions, PublishError, RunAccounts, SendEmail, SendError,
};
use pastdue_shared::runtime;
use pastdue_shared::services::{Accounts, ReportUndeliverable};
use serde_json::{Value, json};

use crate::support;

/// Sends through the SES emulator, refusing some addresses and failing
/// some calls on purpose.
#[derive(Clone)]
pub struct Mailer {
    pub ses: SesMailer,
    pub refuse: Arc<Mutex<BTreeSet<String>>>,
    /// Calls left before each of the next sends fails with a throttle.
    pub fail_next: Arc<AtomicUsize>,
}

impl SendEmail for Mailer {
    async fn send_email(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        if self.refuse.lock().unwrap().contains(email.to.as_str()) {
            return Err(SendError::Refused(
                "MessageRejected: address refused".into(),
            ));
        }
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(SendError::Retry("TooManyRequestsException".into()));
        }
        self.ses.send_email(email).await
    }
}

/// The bus as the notifier's rule sees it: every action is emailed at the
/// simulated instant, through the real notifier, into the SES emulator.
#[derive(Clone)]
pub struct Bus {
    pub notifier: Arc<Notifier<DynamoStore, Mailer, Marks>>,
    pub now: Arc<Mutex<DateTime<Utc>>>,
    pub sent: Arc<Mutex<Vec<ActionMessage>>>,
}

impl Bus {
    pub fn take(&self) -> Vec<ActionMessage> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }

    pub fn at(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap() = now;
    }
}

impl PublishActions for Bus {
    async fn publish_actions(&self, messages: &[ActionMessage]) -> Result<(), PublishError> {
        let now = *self.now.lock().unwrap();
        for m in messages {
            let report = notifier::notify(&self.notifier, m, now)
                .await
                .map_err(|e| PublishError::Unavailable(e.to_string()))?;
            if report.retry > 0 {
                return Err(PublishError::Unavailable("emails left to send".into()));
            }
            self.sent.lock().unwrap().push(m.clone());
        }
        Ok(())
    }
}

/// Never expires.
pub struct NoDeadline;

impl Deadline for NoDeadline {
    fn expired(&self) -> bool {
        false
    }
}

/// Lets `n` accounts start, then says time is up.
pub struct AfterAccounts(pub AtomicUsize);

impl Deadline for AfterAccounts {
    fn expired(&self) -> bool {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_err()
    }
}

/// A run's parts, over the daily runs `R` (plain, or checked with a
/// processor before each cut-off).
pub type Deps<R = Accounts<DynamoStore>> = Dunning<DynamoDueIndex, R, DynamoStore, Bus>;

/// Unreachable contacts go on the bus as `contact_undeliverable`, applied
/// here by the inline bus, as the routed function applies them in AWS.
pub type Marks = ReportUndeliverable<DynamoStore, InlineBus<support::InlineApplier>>;

pub async fn deps(label: &str, policy: Policy) -> Deps {
    deps_with(label, policy, support::accounts).await
}

/// [`deps`] with the daily runs `runs` builds over the store.
pub async fn deps_with<R>(
    label: &str,
    policy: Policy,
    runs: impl FnOnce(&DynamoStore) -> R,
) -> Deps<R> {
    deps_with_portal(label, policy, runs, None).await
}

/// [`deps_with`], the emails linking to the customer page `portal` signs
/// links for.
pub async fn deps_with_portal<R>(
    label: &str,
    policy: Policy,
    runs: impl FnOnce(&DynamoStore) -> R,
    portal: Option<pastdue_shared::portal::link::LinkSigner>,
) -> Deps<R> {
    let (client, table) = support::fresh_table(label).await;
    let config = support::sdk_config().await;
    let run_hour = policy.run_hour;
    let store = DynamoStore::new(client.clone(), table.clone(), policy.clone());
    let mut settings = runtime::MailSettings::from_env().expect("make env sets the mail settings");
    settings.links.portal = portal;
    let notifier = Notifier {
        store: store.clone(),
        marks: ReportUndeliverable {
            contacts: store.clone(),
            bus: support::inline_bus(&store),
        },
        mail: Mailer {
            ses: SesMailer::new(aws_sdk_sesv2::Client::new(&config), settings.sender, None),
            refuse: Arc::default(),
            fail_next: Arc::default(),
        },
        templates: Templates::new(settings.links, &policy).unwrap(),
        staff: settings.staff,
        lease: chrono::Duration::minutes(10),
    };
    Dunning {
        due: DynamoDueIndex::new(client, table),
        runs: runs(&store),
        store,
        bus: Bus {
            notifier: Arc::new(notifier),
            now: Arc::new(Mutex::new(DateTime::<Utc>::MIN_UTC)),
            sent: Arc::default(),
        },
        run_hour,
        shard_parallelism: 4,
        account_parallelism: 8,
    }
}

/// A run at `now`, with the notifier's clock at `now` too.
pub async fn run_at<R: RunAccounts>(
    d: &Deps<R>,
    now: DateTime<Utc>,
    deadline: &impl Deadline,
) -> RunReport {
    d.bus.at(now);
    dunning::run(d, now, deadline).await.unwrap()
}

pub async fn one_account<R>(d: &Deps<R>, id: &str, contacts: Value) {
    onboard(
        d,
        json!({"id": id, "name": format!("Customer {id}"), "timezone": "UTC", "contacts": contacts}),
        json!({"id": format!("{id}-inv"), "at": "2026-01-01T10:00:00Z", "account": id,
            "type": "invoice_issued", "invoice": "in_1", "amount": "300.00", "currency": "USD", "due": "2026-01-15"}),
    )
    .await;
}

/// Imports `account` and applies its `invoice_issued` event `invoice`.
pub async fn onboard<R>(d: &Deps<R>, account: Value, invoice: Value) {
    let account = Account::from_json(&account).unwrap();
    support::accounts(&d.store)
        .upsert_account(&account)
        .await
        .unwrap();
    let invoice = Event::from_json(&invoice).unwrap();
    support::accounts(&d.store).apply(&invoice).await.unwrap();
}

/// Runs every day from `from` to `to` at 09:00 UTC; returns the actions.
pub async fn days<R: RunAccounts>(d: &Deps<R>, from: &str, to: &str) -> Vec<ActionMessage> {
    let mut day: NaiveDate = from.parse().unwrap();
    let to: NaiveDate = to.parse().unwrap();
    while day <= to {
        let at = day.and_hms_opt(9, 0, 0).unwrap().and_utc();
        run_at(d, at, &NoDeadline).await;
        day += Duration::days(1);
    }
    d.bus.take()
}
