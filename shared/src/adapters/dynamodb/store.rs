//! The account store: one table, every change to an account one
//! `TransactWriteItems` guarded by the account's version, every event
//! applied exactly once by its id.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, Put, ReturnConsumedCapacity, TransactWriteItem,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{classify, keys};
use crate::config::TableName;
use crate::domain::{
    Account, AccountId, AccountState, Action, ActionKind, ActionMessage, Cause, Event, EventKind,
    Invoice, InvoiceId, Policy, Status, StepName,
};
use crate::ports::{
    ApplyEvents, ApplyFailure, ApplyOutcome, ContactNames, Deliveries, DeliveryClaim, MailClaim,
    MailKey, MailLog, NewAccounts, Outbox, PaymentLinks, PendingAction, RunAccounts,
    RunCheckpoints, RunOutcome, StoreError,
};

pub type Item = HashMap<String, AttributeValue>;

/// A change touches at most this many items (DynamoDB's transaction limit).
const MAX_TRANSACTION_ITEMS: usize = 100;
/// Attempts on a version conflict before giving up with a retryable error.
const MAX_ATTEMPTS: u32 = 40;

/// An account's state as stored, with the version that guards the next write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub state: AccountState,
    pub version: u64,
}

/// A change to an account that an operator asked for and could not be made.
#[derive(Debug, thiserror::Error)]
pub enum UpdateFailure {
    #[error("account {0} is not known")]
    UnknownAccount(AccountId),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Created,
    Updated,
    Unchanged,
}

/// One line of an account's audit timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub recorded_at: DateTime<Utc>,
    /// `event`, `action` or `account`.
    pub kind: String,
    pub summary: String,
    pub detail: Value,
}

impl TimelineEntry {
    fn new(kind: &str, summary: String, detail: Value) -> Self {
        Self {
            recorded_at: Utc::now(),
            kind: kind.to_owned(),
            summary,
            detail,
        }
    }

    fn event(event: &Event, outcome: &str) -> Self {
        let what = match (&event.kind, event.kind.invoice()) {
            (EventKind::HoldPlaced { until, reason }, _) => {
                format!("hold_placed until {until}: {reason}")
            }
            (kind, Some(invoice)) => format!("{} {invoice}", kind.type_name()),
            (kind, None) => kind.type_name().to_owned(),
        };
        let summary = format!("{what} ({outcome})");
        Self::new(
            "event",
            summary,
            json!({"event": event.to_json(), "outcome": outcome}),
        )
    }

    fn action(action: &Action, cause: &str) -> Self {
        let to: Vec<String> = action
            .recipients
            .iter()
            .map(|c| format!("{} <{}>", c.name, c.email))
            .collect();
        let summary = format!(
            "{} dpd {} to {}",
            action.kind.as_str(),
            action.dpd,
            if to.is_empty() {
                "staff".to_owned()
            } else {
                to.join(", ")
            }
        );
        let mut detail = action.to_json();
        detail["recipients"] = json!(
            action
                .recipients
                .iter()
                .map(|c| json!({"name": c.name, "email": c.email.as_str()}))
                .collect::<Vec<_>>()
        );
        detail["cause"] = json!(cause);
        Self::new("action", summary, detail)
    }
}

/// Read and write capacity units consumed, summed over every call.
#[derive(Debug, Default)]
pub struct Capacity {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
    items_written: AtomicU64,
}

impl Capacity {
    pub fn reads(&self) -> f64 {
        self.read_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }

    pub fn writes(&self) -> f64 {
        self.write_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// Items written by committed transactions (AWS bills each at 2 write
    /// request units per KB in a transaction).
    pub fn items_written(&self) -> u64 {
        self.items_written.load(Ordering::Relaxed)
    }

    fn add(counter: &AtomicU64, units: f64) {
        counter.fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
    }

    fn reads_of<'a>(&self, consumed: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        for c in consumed {
            Self::add(
                &self.read_milli,
                c.read_capacity_units()
                    .or(c.capacity_units())
                    .unwrap_or(0.0),
            );
        }
    }

    fn writes_of<'a>(&self, consumed: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        for c in consumed {
            Self::add(
                &self.write_milli,
                c.write_capacity_units()
                    .or(c.capacity_units())
                    .unwrap_or(0.0),
            );
        }
    }
}

/// An account as the status index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountSummary {
    pub id: AccountId,
    pub name: String,
    pub status: Status,
}

/// The condition a put in a transaction carries.
enum Guard {
    /// The item must not exist yet (claims, new accounts).
    Absent,
    /// The state item must still be at this version.
    Version(u64),
}

/// What a commit writes besides the state and invoices.
struct Change<'a> {
    timeline: Vec<TimelineEntry>,
    links: &'a [(String, InvoiceId)],
    messages: &'a [ActionMessage],
}

impl Change<'_> {
    /// An operator's change: one timeline note, nothing to announce.
    fn note(entry: TimelineEntry) -> Self {
        Self {
            timeline: vec![entry],
            links: &[],
            messages: &[],
        }
    }
}

/// Outbox entry states.
const PENDING: &str = "pending";
const ANNOUNCED: &str = "announced";

enum Commit {
    Done,
    Duplicate,
    Conflict,
}

/// The store. Clients and policy are built once at init and shared.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: TableName,
    policy: Arc<Policy>,
    capacity: Arc<Capacity>,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn text<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| StoreError::Malformed {
            key: describe_key(item),
            reason: format!("no string attribute {name}"),
        })
}

fn describe_key(item: &Item) -> String {
    let part = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    format!("{}/{}", part(keys::PK), part(keys::SK))
}

fn json_of<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_str(text(item, "data")?).map_err(|e| StoreError::Malformed {
        key: describe_key(item),
        reason: e.to_string(),
    })
}

fn to_json_text<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Malformed {
        key: "(new item)".into(),
        reason: e.to_string(),
    })
}

/// When a claim (event, delivery, announced action) may expire.
fn claim_expiry() -> AttributeValue {
    AttributeValue::N((Utc::now().timestamp() + keys::CLAIM_TTL_DAYS * 86_400).to_string())
}

/// Full jitter, doubling from 10 ms up to 640 ms.
async fn backoff(attempt: u32) {
    let cap = 10u64 << attempt.min(6);
    tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=cap))).await;
}

impl DynamoStore {
    pub fn new(client: Client, table: TableName, policy: Policy) -> Self {
        Self {
            client,
            table,
            policy: Arc::new(policy),
            capacity: Arc::new(Capacity::default()),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Capacity consumed by this store's calls so far.
    pub fn capacity(&self) -> &Capacity {
        &self.capacity
    }

    /// The account's state, read consistently, or `None` if it is unknown.
    pub async fn load(&self, account: &AccountId) -> Result<Option<Loaded>, StoreError> {
        let items = self
            .query_partition(account, Some((keys::INVOICE_PREFIX, keys::STATE_SK)))
            .await?;
        let mut invoices = BTreeMap::new();
        let mut state = None;
        for item in &items {
            let sk = text(item, keys::SK)?;
            if sk == keys::STATE_SK {
                let version = item
                    .get("version")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<u64>().ok())
                    .ok_or_else(|| StoreError::Malformed {
                        key: describe_key(item),
                        reason: "no numeric version".into(),
                    })?;
                state = Some((json_of::<AccountState>(item)?, version));
            } else if let Some(id) = sk.strip_prefix(keys::INVOICE_PREFIX) {
                let id = InvoiceId::parse(id).map_err(|e| StoreError::Malformed {
                    key: describe_key(item),
                    reason: e.to_string(),
                })?;
                invoices.insert(id, json_of::<Invoice>(item)?);
            }
        }
        Ok(state.map(|(state, version)| Loaded {
            state: state.restored(invoices),
            version,
        }))
    }

    /// Every item of an account's partition, or those with `lo <= SK <= hi`.
    async fn query_partition(
        &self,
        account: &AccountId,
        between: Option<(&str, &str)>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(self.table.as_str())
            .consistent_read(true)
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":pk", s(keys::account_pk(account)));
        query = match between {
            Some((lo, hi)) => query
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_values(":lo", s(lo))
                .expression_attribute_values(":hi", s(hi)),
            None => query.key_condition_expression("#pk = :pk"),
        };
        self.all_pages(query).await
    }

    /// Every item a query returns, page by page, its read capacity counted.
    async fn all_pages(&self, query: QueryFluentBuilder) -> Result<Vec<Item>, StoreError> {
        let mut pages = query
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .into_paginator()
            .send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("Query", e))?;
            self.capacity.reads_of(page.consumed_capacity());
            items.extend(page.items().iter().cloned());
        }
        Ok(items)
    }

    /// The items of partition `pk` whose sort key starts with `prefix` and
    /// whose `state` is `state`, read consistently.
    async fn in_state(
        &self,
        pk: String,
        prefix: &str,
        state: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(self.table.as_str())
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .filter_expression("#state = :state")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .expression_attribute_values(":state", s(state));
        self.all_pages(query).await
    }

    /// A conditional put: `Ok(false)` when its condition did not hold.
    async fn put_if(&self, put: PutItemFluentBuilder) -> Result<bool, StoreError> {
        match put
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(out) => {
                self.capacity.writes_of(out.consumed_capacity());
                Ok(true)
            }
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    /// Sets attributes of the item at `key` (`UpdateItem … SET`), which
    /// must exist when `must_exist`.
    async fn set_attributes(
        &self,
        key: Item,
        set: &[(&str, AttributeValue)],
        must_exist: bool,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(self.table.as_str())
            .set_key(Some(key))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        if must_exist {
            update = update
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", keys::PK);
        }
        let mut parts = Vec::with_capacity(set.len());
        for (i, (name, value)) in set.iter().enumerate() {
            parts.push(format!("#a{i} = :v{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), *name)
                .expression_attribute_values(format!(":v{i}"), value.clone());
        }
        let out = update
            .update_expression(format!("SET {}", parts.join(", ")))
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        self.capacity.writes_of(out.consumed_capacity());
        Ok(())
    }

    /// Whether an event id was already claimed for this account.
    async fn claimed(&self, event: &Event) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table.as_str())
            .key(keys::PK, s(keys::account_pk(&event.account)))
            .key(keys::SK, s(keys::claim_sk(&event.id)))
            .projection_expression("#pk")
            .expression_attribute_names("#pk", keys::PK)
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        self.capacity.reads_of(out.consumed_capacity());
        Ok(out.item().is_some())
    }

    /// Applies one canonical event exactly once: the event-id claim, the new
    /// state (guarded by its version), the invoices it changed, its timeline
    /// entries and payment links go in one transaction. On a version
    /// conflict the state is reloaded and the event applied again.
    pub async fn apply(&self, event: &Event) -> Result<ApplyOutcome, ApplyFailure> {
        if self.claimed(event).await? {
            return Ok(ApplyOutcome::Duplicate);
        }
        for attempt in 0..MAX_ATTEMPTS {
            let Some(loaded) = self.load(&event.account).await? else {
                return Err(ApplyFailure::UnknownAccount(event.account.clone()));
            };
            let mut after = loaded.state.clone();
            let outcome = match after.apply(event, &self.policy)? {
                ApplyOutcome::Duplicate => return Ok(ApplyOutcome::Duplicate),
                outcome => outcome,
            };
            let mut timeline = vec![TimelineEntry::event(event, outcome.as_str())];
            let mut links = Vec::new();
            let mut messages = Vec::new();
            if let ApplyOutcome::Applied(actions) = &outcome {
                let cause = Cause::Event(&event.id);
                timeline.extend(
                    actions
                        .iter()
                        .map(|a| TimelineEntry::action(a, &cause.to_string())),
                );
                messages.extend(actions.iter().map(|a| ActionMessage::new(a, &after, cause)));
                if let EventKind::PaymentSucceeded {
                    invoice,
                    payment: Some(payment),
                    ..
                } = &event.kind
                {
                    links.push((payment.to_string(), invoice.clone()));
                }
            }
            match self
                .commit(
                    Some(&loaded),
                    &after,
                    Some(event),
                    Change {
                        timeline,
                        links: &links,
                        messages: &messages,
                    },
                )
                .await?
            {
                Commit::Done => return Ok(outcome),
                Commit::Duplicate => return Ok(ApplyOutcome::Duplicate),
                Commit::Conflict => backoff(attempt).await,
            }
        }
        Err(ApplyFailure::Store(busy()))
    }

    /// The daily run for one account on its local date `date`: the engine
    /// decides, and the fired step is stored with the account's version.
    /// Returns the actions (empty if the date was already run).
    pub async fn run_account(
        &self,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<Vec<Action>, StoreError> {
        Ok(match self.run_due(account, date).await? {
            RunOutcome::Ran(actions) => actions,
            RunOutcome::AlreadyRun | RunOutcome::Unknown => Vec::new(),
        })
    }

    /// [`Self::run_account`], telling an account already run for `date`
    /// (or unknown) from one evaluated now.
    pub async fn run_due(
        &self,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<RunOutcome, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let Some(loaded) = self.load(account).await? else {
                return Ok(RunOutcome::Unknown);
            };
            if loaded.state.last_run.is_some_and(|last| date <= last) {
                return Ok(RunOutcome::AlreadyRun);
            }
            let (after, actions) = self.decide(&loaded.state, date).await?;
            let cause = Cause::Run(date);
            let timeline = actions
                .iter()
                .map(|a| TimelineEntry::action(a, &cause.to_string()))
                .collect();
            let messages: Vec<ActionMessage> = actions
                .iter()
                .map(|a| ActionMessage::new(a, &after, cause))
                .collect();
            match self
                .commit(
                    Some(&loaded),
                    &after,
                    None,
                    Change {
                        timeline,
                        links: &[],
                        messages: &messages,
                    },
                )
                .await?
            {
                Commit::Done => return Ok(RunOutcome::Ran(actions)),
                Commit::Duplicate | Commit::Conflict => backoff(attempt).await,
            }
        }
        Err(busy())
    }

    /// What the run on `date` does to `state`: the engine's step, with the
    /// safety rule applied. Reads the mail log; writes nothing.
    pub async fn decide(
        &self,
        state: &AccountState,
        date: NaiveDate,
    ) -> Result<(AccountState, Vec<Action>), StoreError> {
        let mut after = state.clone();
        let mut actions = after.run(date, &self.policy);
        if let Some(suspend) = actions
            .iter()
            .find(|a| a.kind == ActionKind::Step(StepName::Suspend))
            && !self.final_notice_reached(suspend).await?
        {
            tracing::warn!(account = %state.account.id, %date, "no final notice known to have reached the customer: warning again, suspension waits");
            after = state.clone();
            actions = after.warn_again(date, &self.policy);
        }
        Ok((after, actions))
    }

    /// Whether a final notice of `suspend`'s episode reached SES (a message
    /// id is recorded) for at least one recipient, dated at least the
    /// suspend step's wait before it.
    async fn final_notice_reached(&self, suspend: &Action) -> Result<bool, StoreError> {
        let Some(episode) = suspend.episode else {
            return Ok(false);
        };
        let wait = self.policy.suspend_wait_days();
        let latest = suspend.date - chrono::Duration::days(i64::from(wait));
        let prefix = format!("{}:{episode}:final_notice:", suspend.account);
        let sent = self
            .in_state(keys::mail_pk(&suspend.account), &prefix, "sent")
            .await?;
        Ok(sent.iter().any(|item| {
            let detail = item
                .get("data")
                .and_then(|v| v.as_s().ok())
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
                .unwrap_or(Value::Null);
            let dated = detail["date"]
                .as_str()
                .and_then(|t| t.parse::<NaiveDate>().ok());
            // A notice that only staff received warned nobody.
            detail["audience"] == "contact" && dated.is_some_and(|d| d <= latest)
        }))
    }

    /// Creates the account, or updates its details (name, time zone,
    /// exemption, contacts) keeping its billing history.
    pub async fn upsert_account(&self, account: &Account) -> Result<Upsert, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let loaded = self.load(&account.id).await?;
            let (after, upsert, summary) = match &loaded {
                None => (
                    AccountState::new(account.clone()),
                    Upsert::Created,
                    format!("account created: {}", account.name),
                ),
                Some(l) if &l.state.account == account => return Ok(Upsert::Unchanged),
                Some(l) => {
                    let mut after = l.state.clone();
                    after.set_account(account.clone());
                    (
                        after,
                        Upsert::Updated,
                        format!("account details updated: {}", account.name),
                    )
                }
            };
            let entry = TimelineEntry::new("account", summary, account.to_json());
            match self
                .commit(loaded.as_ref(), &after, None, Change::note(entry))
                .await?
            {
                Commit::Done => return Ok(upsert),
                Commit::Duplicate | Commit::Conflict => backoff(attempt).await,
            }
        }
        Err(busy())
    }

    /// Changes an account's details with `change`, which returns the
    /// timeline note (or refuses with a reason). Returns the note.
    pub async fn update_account(
        &self,
        id: &AccountId,
        change: impl Fn(&mut Account) -> Result<String, String>,
    ) -> Result<String, UpdateFailure> {
        for attempt in 0..MAX_ATTEMPTS {
            let Some(loaded) = self.load(id).await? else {
                return Err(UpdateFailure::UnknownAccount(id.clone()));
            };
            let mut account = loaded.state.account.clone();
            let note = change(&mut account).map_err(UpdateFailure::Invalid)?;
            let mut after = loaded.state.clone();
            after.set_account(account.clone());
            let entry = TimelineEntry::new("account", note.clone(), account.to_json());
            match self
                .commit(Some(&loaded), &after, None, Change::note(entry))
                .await?
            {
                Commit::Done => return Ok(note),
                Commit::Duplicate | Commit::Conflict => backoff(attempt).await,
            }
        }
        Err(UpdateFailure::Store(busy()))
    }

    /// The account's audit timeline, oldest first.
    pub async fn timeline(&self, account: &AccountId) -> Result<Vec<TimelineEntry>, StoreError> {
        let lo = keys::TIMELINE_PREFIX;
        let hi = format!("{}~", keys::TIMELINE_PREFIX);
        let items = self.query_partition(account, Some((lo, &hi))).await?;
        items.iter().map(json_of::<TimelineEntry>).collect()
    }

    /// Accounts by status (all statuses when `None`), through the status
    /// index: no scan.
    pub async fn list(&self, status: Option<Status>) -> Result<Vec<AccountSummary>, StoreError> {
        let statuses = match status {
            Some(s) => vec![s],
            None => vec![Status::Active, Status::Suspended, Status::Cancelled],
        };
        let mut out = Vec::new();
        for status in statuses {
            let query = self
                .client
                .query()
                .table_name(self.table.as_str())
                .index_name(keys::STATUS_INDEX)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", keys::GSI2_PK)
                .expression_attribute_values(":pk", s(keys::status_pk(status.as_str())));
            for item in &self.all_pages(query).await? {
                let id = AccountId::parse(text(item, keys::GSI2_SK)?).map_err(|e| {
                    StoreError::Malformed {
                        key: describe_key(item),
                        reason: e.to_string(),
                    }
                })?;
                let name = text(item, "name")?.to_owned();
                out.push(AccountSummary { id, name, status });
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Every item of every account (state, invoices, claims, timeline) and
    /// its payment links, for backups and migrations. Reads partitions found
    /// through the status index: no scan.
    pub async fn export_items(&self) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        for summary in self.list(None).await? {
            let items = self.query_partition(&summary.id, None).await?;
            if let Some(loaded) = self.load(&summary.id).await? {
                for (invoice, record) in loaded.state.invoice_records() {
                    for payment in record.payment_ids() {
                        out.push(self.link_item(payment, &summary.id, invoice));
                    }
                }
            }
            out.extend(items);
            out.extend(self.mail_items(&summary.id).await?);
        }
        Ok(out)
    }

    /// The raw items of an account's mail log (exports keep what was sent).
    async fn mail_items(&self, account: &AccountId) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(self.table.as_str())
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":pk", s(keys::mail_pk(account)));
        self.all_pages(query).await
    }

    /// Puts items (from [`Self::export_items`]) that are not in the table
    /// yet; an item already there is left alone. Returns (written, skipped).
    pub async fn import_items(&self, items: Vec<Item>) -> Result<(usize, usize), StoreError> {
        use futures::stream::{self, TryStreamExt};
        let results: Vec<bool> = stream::iter(items.into_iter().map(Ok))
            .map_ok(|item| async move {
                let put = self
                    .client
                    .put_item()
                    .table_name(self.table.as_str())
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", keys::PK)
                    .send()
                    .await;
                match put {
                    Ok(_) => Ok(true),
                    Err(SdkError::ServiceError(e))
                        if e.err().is_conditional_check_failed_exception() =>
                    {
                        Ok(false)
                    }
                    Err(e) => Err(classify("PutItem", e)),
                }
            })
            .try_buffer_unordered(16)
            .try_collect()
            .await?;
        let written = results.iter().filter(|w| **w).count();
        Ok((written, results.len() - written))
    }

    fn link_item(&self, payment: &str, account: &AccountId, invoice: &InvoiceId) -> Item {
        HashMap::from([
            (keys::PK.to_owned(), s(keys::link_pk(payment))),
            (keys::SK.to_owned(), s(keys::LINK_SK)),
            ("account".to_owned(), s(account.as_str())),
            ("invoice".to_owned(), s(invoice.as_str())),
        ])
    }

    /// The invoice a payment (or charge) id was applied to, if any.
    pub async fn find_link(
        &self,
        payment: &str,
    ) -> Result<Option<(AccountId, InvoiceId)>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table.as_str())
            .key(keys::PK, s(keys::link_pk(payment)))
            .key(keys::SK, s(keys::LINK_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let malformed = |e: crate::domain::IdError| StoreError::Malformed {
            key: describe_key(item),
            reason: e.to_string(),
        };
        Ok(Some((
            AccountId::parse(text(item, "account")?).map_err(malformed)?,
            InvoiceId::parse(text(item, "invoice")?).map_err(malformed)?,
        )))
    }

    /// The invoice items of a state: the record as JSON and, for invoices
    /// that can need dunning, the sparse due-index keys.
    fn invoice_items(&self, state: &AccountState) -> Result<BTreeMap<String, Item>, StoreError> {
        let account = &state.account.id;
        let standing: HashMap<&InvoiceId, _> =
            state.invoices().iter().map(|i| (&i.id, i)).collect();
        let mut items = BTreeMap::new();
        for (id, record) in state.invoice_records() {
            let sk = keys::invoice_sk(id);
            let mut item: Item = HashMap::from([
                (keys::PK.to_owned(), s(keys::account_pk(account))),
                (keys::SK.to_owned(), s(sk.clone())),
                ("data".to_owned(), s(to_json_text(record)?)),
            ]);
            if let Some(st) = standing.get(id)
                && !st.void
                && !st.in_dispute
                && st.owed >= self.policy.min_balance
            {
                let shard = keys::due_shard_pk(keys::due_shard(account));
                item.insert(keys::GSI1_PK.to_owned(), s(shard));
                item.insert(
                    keys::GSI1_SK.to_owned(),
                    s(keys::due_sort_key(st.effective_due, account, id.as_str())),
                );
                item.insert(
                    keys::TZ_ATTRIBUTE.to_owned(),
                    s(state.account.timezone.name()),
                );
            }
            items.insert(sk, item);
        }
        Ok(items)
    }

    fn put(&self, item: Item, guard: Option<Guard>) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder()
            .table_name(self.table.as_str())
            .set_item(Some(item));
        match guard {
            None => {}
            Some(Guard::Absent) => {
                put = put
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", keys::PK);
            }
            Some(Guard::Version(v)) => {
                put = put
                    .condition_expression("#v = :v")
                    .expression_attribute_names("#v", "version")
                    .expression_attribute_values(":v", AttributeValue::N(v.to_string()));
            }
        }
        let put = put.build().map_err(|e| StoreError::Rejected {
            operation: "TransactWriteItems",
            message: e.to_string(),
        })?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Writes a change in one transaction: [claim,] state, changed invoices,
    /// timeline, links, outbox. The claim is first, the state second, so a
    /// cancellation tells a duplicate from a version conflict.
    async fn commit(
        &self,
        before: Option<&Loaded>,
        after: &AccountState,
        claim: Option<&Event>,
        change: Change<'_>,
    ) -> Result<Commit, StoreError> {
        let Change {
            timeline,
            links,
            messages,
        } = change;
        let account = &after.account.id;
        let pk = keys::account_pk(account);
        let version = before.map_or(0, |l| l.version) + 1;
        let mut writes = Vec::new();
        if let Some(event) = claim {
            let item = HashMap::from([
                (keys::PK.to_owned(), s(pk.clone())),
                (keys::SK.to_owned(), s(keys::claim_sk(&event.id))),
                ("type".to_owned(), s(event.kind.type_name())),
                ("at".to_owned(), s(event.at.to_rfc3339())),
                (keys::TTL_ATTRIBUTE.to_owned(), claim_expiry()),
            ]);
            writes.push(self.put(item, Some(Guard::Absent))?);
        }
        let state_item = HashMap::from([
            (keys::PK.to_owned(), s(pk.clone())),
            (keys::SK.to_owned(), s(keys::STATE_SK)),
            ("version".to_owned(), AttributeValue::N(version.to_string())),
            ("name".to_owned(), s(after.account.name.clone())),
            ("status".to_owned(), s(after.status.as_str())),
            (
                keys::GSI2_PK.to_owned(),
                s(keys::status_pk(after.status.as_str())),
            ),
            (keys::GSI2_SK.to_owned(), s(account.as_str())),
            ("data".to_owned(), s(to_json_text(after)?)),
        ]);
        let guard = match before {
            None => Guard::Absent,
            Some(l) => Guard::Version(l.version),
        };
        writes.push(self.put(state_item, Some(guard))?);
        let old = match before {
            Some(l) => self.invoice_items(&l.state)?,
            None => BTreeMap::new(),
        };
        for (sk, item) in self.invoice_items(after)? {
            if old.get(&sk) != Some(&item) {
                writes.push(self.put(item, None)?);
            }
        }
        for (n, entry) in timeline.iter().enumerate() {
            let item = HashMap::from([
                (keys::PK.to_owned(), s(pk.clone())),
                (keys::SK.to_owned(), s(keys::timeline_sk(version, n))),
                ("data".to_owned(), s(to_json_text(entry)?)),
            ]);
            writes.push(self.put(item, None)?);
        }
        for (payment, invoice) in links {
            writes.push(self.put(self.link_item(payment, account, invoice), None)?);
        }
        for (n, message) in messages.iter().enumerate() {
            let item = HashMap::from([
                (keys::PK.to_owned(), s(pk.clone())),
                (keys::SK.to_owned(), s(keys::action_sk(version, n))),
                ("state".to_owned(), s(PENDING)),
                ("data".to_owned(), s(to_json_text(message)?)),
            ]);
            writes.push(self.put(item, None)?);
        }
        if writes.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Rejected {
                operation: "TransactWriteItems",
                message: format!(
                    "one change to {account} would write {} items (limit {MAX_TRANSACTION_ITEMS})",
                    writes.len()
                ),
            });
        }
        let count = writes.len() as u64;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.capacity.writes_of(out.consumed_capacity());
                self.capacity
                    .items_written
                    .fetch_add(count, Ordering::Relaxed);
                Ok(Commit::Done)
            }
            Err(err) => {
                let verdict = match err.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                        let code =
                            |i: usize| e.cancellation_reasons().get(i).and_then(|r| r.code());
                        if claim.is_some() && code(0) == Some("ConditionalCheckFailed") {
                            Some(Commit::Duplicate)
                        } else if e.cancellation_reasons().iter().any(|r| {
                            matches!(
                                r.code(),
                                Some("ConditionalCheckFailed" | "TransactionConflict")
                            )
                        }) {
                            Some(Commit::Conflict)
                        } else {
                            None
                        }
                    }
                    Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                        Some(Commit::Conflict)
                    }
                    _ => None,
                };
                verdict.ok_or_else(|| classify("TransactWriteItems", err))
            }
        }
    }
}

fn busy() -> StoreError {
    StoreError::Unavailable {
        operation: "TransactWriteItems",
        message: format!(
            "the account kept changing underneath; gave up after {MAX_ATTEMPTS} attempts"
        ),
    }
}

impl ApplyEvents for DynamoStore {
    async fn apply(&self, event: &Event) -> Result<ApplyOutcome, ApplyFailure> {
        DynamoStore::apply(self, event).await
    }
}

/// Delivery claims expire like event claims: processors retry for days, not weeks.
fn delivery_key(processor: &str, delivery: &str) -> Item {
    HashMap::from([
        (
            keys::PK.to_owned(),
            s(format!("DLV#{processor}#{delivery}")),
        ),
        (keys::SK.to_owned(), s("DLV")),
    ])
}

impl Deliveries for DynamoStore {
    async fn claim_delivery(
        &self,
        processor: &str,
        delivery: &str,
    ) -> Result<DeliveryClaim, StoreError> {
        let mut item = delivery_key(processor, delivery);
        item.insert(keys::TTL_ATTRIBUTE.to_owned(), claim_expiry());
        item.insert("state".to_owned(), s("pending"));
        let put = self
            .client
            .put_item()
            .table_name(self.table.as_str())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #state = :pending")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s("pending"));
        Ok(if self.put_if(put).await? {
            DeliveryClaim::Publish
        } else {
            DeliveryClaim::AlreadyPublished
        })
    }

    async fn mark_published(&self, processor: &str, delivery: &str) -> Result<(), StoreError> {
        self.set_attributes(
            delivery_key(processor, delivery),
            &[("state", s("published"))],
            false,
        )
        .await
    }
}

impl PaymentLinks for DynamoStore {
    async fn find_link(&self, payment: &str) -> Result<Option<(AccountId, InvoiceId)>, StoreError> {
        DynamoStore::find_link(self, payment).await
    }
}

impl NewAccounts for DynamoStore {
    async fn create_if_missing(&self, account: &Account) -> Result<bool, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            if self.load(&account.id).await?.is_some() {
                return Ok(false);
            }
            let state = AccountState::new(account.clone());
            let entry = TimelineEntry::new(
                "account",
                format!("account created from the processor: {}", account.name),
                account.to_json(),
            );
            match self.commit(None, &state, None, Change::note(entry)).await? {
                Commit::Done => return Ok(true),
                Commit::Duplicate | Commit::Conflict => backoff(attempt).await,
            }
        }
        Err(busy())
    }
}

impl Outbox for DynamoStore {
    async fn pending_actions(&self, account: &AccountId) -> Result<Vec<PendingAction>, StoreError> {
        self.in_state(keys::account_pk(account), keys::ACTION_PREFIX, PENDING)
            .await?
            .iter()
            .map(|item| {
                Ok(PendingAction {
                    key: text(item, keys::SK)?.to_owned(),
                    message: json_of::<ActionMessage>(item)?,
                })
            })
            .collect()
    }

    /// Marks an entry announced; announced entries expire like event claims
    /// (the timeline keeps the permanent record of every action).
    async fn mark_announced(&self, account: &AccountId, key: &str) -> Result<(), StoreError> {
        let key = HashMap::from([
            (keys::PK.to_owned(), s(keys::account_pk(account))),
            (keys::SK.to_owned(), s(key)),
        ]);
        self.set_attributes(
            key,
            &[
                ("state", s(ANNOUNCED)),
                (keys::TTL_ATTRIBUTE, claim_expiry()),
            ],
            true,
        )
        .await
    }
}

impl RunAccounts for DynamoStore {
    async fn run_due(
        &self,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<RunOutcome, StoreError> {
        DynamoStore::run_due(self, account, date).await
    }
}

impl RunCheckpoints for DynamoStore {
    async fn checkpoint(&self, shard: u16) -> Result<Option<DateTime<Utc>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table.as_str())
            .key(keys::PK, s(keys::checkpoint_pk(shard)))
            .key(keys::SK, s("RUN"))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        self.capacity.reads_of(out.consumed_capacity());
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let until = text(item, "until")?;
        DateTime::parse_from_rfc3339(until)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| StoreError::Malformed {
                key: describe_key(item),
                reason: format!("until: {e}"),
            })
    }

    async fn advance(&self, shard: u16, to: DateTime<Utc>) -> Result<(), StoreError> {
        // RFC 3339 in UTC with fixed precision sorts as text, so the
        // condition keeps the checkpoint monotonic under concurrent runs.
        let to = to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let put = self
            .client
            .put_item()
            .table_name(self.table.as_str())
            .item(keys::PK, s(keys::checkpoint_pk(shard)))
            .item(keys::SK, s("RUN"))
            .item("until", s(to.clone()))
            .condition_expression("attribute_not_exists(#until) OR #until < :to")
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":to", s(to));
        // Not written: a concurrent run already moved it as far or further.
        self.put_if(put).await.map(|_| ())
    }
}

/// One entry of an account's mail log, as `account timeline` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailRecord {
    pub message: String,
    pub recipient: String,
    /// `claimed`, `sent`, `refused` or `retry`.
    pub state: String,
    pub message_id: Option<String>,
    pub at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub detail: Value,
}

fn mail_key(key: &MailKey<'_>) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), s(keys::mail_pk(key.account))),
        (
            keys::SK.to_owned(),
            s(keys::mail_sk(key.message, key.recipient)),
        ),
    ])
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl DynamoStore {
    /// The account's mail log: every notice claimed, sent or refused.
    pub async fn mails(&self, account: &AccountId) -> Result<Vec<MailRecord>, StoreError> {
        let mut out = Vec::new();
        for item in &self.mail_items(account).await? {
            let opt = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            out.push(MailRecord {
                message: text(item, "message")?.to_owned(),
                recipient: text(item, "recipient")?.to_owned(),
                state: text(item, "state")?.to_owned(),
                message_id: opt("message_id"),
                at: opt("sent_at")
                    .or_else(|| opt("claimed_at"))
                    .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| t.with_timezone(&Utc)),
                reason: opt("reason"),
                detail: opt("data")
                    .and_then(|d| serde_json::from_str(&d).ok())
                    .unwrap_or(Value::Null),
            });
        }
        Ok(out)
    }
}

impl MailLog for DynamoStore {
    async fn claim_mail(
        &self,
        key: &MailKey<'_>,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<MailClaim, StoreError> {
        let mut item = mail_key(key);
        item.insert("message".to_owned(), s(key.message));
        item.insert("recipient".to_owned(), s(key.recipient));
        item.insert("state".to_owned(), s("claimed"));
        item.insert("claimed_at".to_owned(), s(rfc3339(now)));
        let put = self
            .client
            .put_item()
            .table_name(self.table.as_str())
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(#pk) OR #state = :retry OR (#state = :claimed AND #at < :stale)",
            )
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#at", "claimed_at")
            .expression_attribute_values(":retry", s("retry"))
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":stale", s(rfc3339(now - lease)));
        if self.put_if(put).await? {
            return Ok(MailClaim::Claimed);
        }
        let out = self
            .client
            .get_item()
            .table_name(self.table.as_str())
            .set_key(Some(mail_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let state = out
            .item()
            .and_then(|i| i.get("state"))
            .and_then(|v| v.as_s().ok())
            .map(String::as_str);
        Ok(match state {
            Some("sent" | "refused") => MailClaim::Done,
            _ => MailClaim::Busy,
        })
    }

    async fn mail_sent(
        &self,
        key: &MailKey<'_>,
        message_id: &str,
        now: DateTime<Utc>,
        detail: &Value,
    ) -> Result<(), StoreError> {
        self.set_attributes(
            mail_key(key),
            &[
                ("state", s("sent")),
                ("message_id", s(message_id)),
                ("sent_at", s(rfc3339(now))),
                ("data", s(detail.to_string())),
            ],
            false,
        )
        .await
    }

    async fn mail_refused(
        &self,
        key: &MailKey<'_>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.set_attributes(
            mail_key(key),
            &[
                ("state", s("refused")),
                ("reason", s(reason)),
                ("sent_at", s(rfc3339(now))),
            ],
            false,
        )
        .await
    }

    async fn mail_release(&self, key: &MailKey<'_>) -> Result<(), StoreError> {
        self.set_attributes(mail_key(key), &[("state", s("retry"))], false)
            .await
    }
}

impl ContactNames for DynamoStore {
    async fn contact_name(
        &self,
        account: &AccountId,
        email: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self.load(account).await?.and_then(|l| {
            l.state
                .account
                .contacts
                .iter()
                .find(|c| c.email.as_str().eq_ignore_ascii_case(email))
                .map(|c| c.name.clone())
        }))
    }
}
