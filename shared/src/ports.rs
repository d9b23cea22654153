//! Ports: the small traits handlers depend on, one per operation, so each
//! function is given (and its IAM policy allows) only what it uses.

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{AccountId, Action, ApplyError, Event};

pub mod account_links;
pub mod attention;
pub mod card;
pub mod certificates;
pub mod cutoff;
pub mod objects;
pub mod receivables;
pub mod reconcile;
pub mod remote_verify;
mod repository;
pub mod thin;
pub use repository::{AccountRepository, Change, Committed, FinalNotices, Loaded, SentNotice};

/// A storage failure, classified where it arises.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, a timeout or a connection failure: the caller should retry
    /// (a Lambda returns an error so the bus or processor redelivers).
    #[error("the table is unavailable ({operation}): {message}")]
    Unavailable {
        operation: &'static str,
        message: String,
    },
    /// The request itself was refused (missing table, validation, access):
    /// retrying the same request cannot succeed.
    #[error("the table refused {operation}: {message}")]
    Rejected {
        operation: &'static str,
        message: String,
    },
    /// An item in the table does not have the shape this code writes.
    #[error("item {key} is malformed: {reason}")]
    Malformed { key: String, reason: String },
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// An account the due index lists, with the time zone its dates are in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub account: AccountId,
    pub timezone: chrono_tz::Tz,
}

/// Finds the accounts the daily run must look at: those with an invoice
/// that can need action and whose effective due date is before `cutoff`.
/// Implemented with a sparse index query, never a scan.
pub trait DueCandidates: Send + Sync {
    /// The candidates of one index shard (`0..shards()`), each account once.
    fn due_in_shard(
        &self,
        shard: u16,
        cutoff: NaiveDate,
    ) -> impl Future<Output = Result<Vec<Candidate>, StoreError>> + Send;

    /// How many shards the index is written in.
    fn shards(&self) -> u16;

    /// Every shard's candidates, each account once, sorted.
    fn accounts_due_before(
        &self,
        cutoff: NaiveDate,
    ) -> impl Future<Output = Result<Vec<AccountId>, StoreError>> + Send {
        async move {
            let shards = (0..self.shards()).map(|s| self.due_in_shard(s, cutoff));
            let found: std::collections::BTreeSet<AccountId> =
                futures::future::try_join_all(shards)
                    .await?
                    .into_iter()
                    .flatten()
                    .map(|c| c.account)
                    .collect();
            Ok(found.into_iter().collect())
        }
    }
}

/// What the daily run did to one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Evaluated now; these actions fired (possibly none).
    Ran(Vec<Action>),
    /// This local date (or a later one) was already run: nothing changed.
    AlreadyRun,
    /// No such account.
    Unknown,
}

/// Runs the engine's daily step for one account on its local date, stored
/// atomically with the account's version; a date is never run twice.
pub trait RunAccounts: Send + Sync {
    fn run_due(
        &self,
        account: &AccountId,
        date: NaiveDate,
    ) -> impl Future<Output = Result<RunOutcome, StoreError>> + Send;
}

/// Where each due-index shard's runs have got to: every run instant up to
/// the checkpoint has been evaluated. A run that stops early (the Lambda
/// deadline) leaves its shard's checkpoint where it was, so the next
/// invocation covers the rest; accounts already run are no-ops.
pub trait RunCheckpoints: Send + Sync {
    fn checkpoint(
        &self,
        shard: u16,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, StoreError>> + Send;
    /// Moves the shard's checkpoint forward to `to` (never back).
    fn advance(
        &self,
        shard: u16,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// How often an account's run of one local date has failed: after a few
/// attempts the run skips past it (and alarms), so one account whose data
/// always fails never pins its shard's checkpoint.
pub trait RunFailures: Send + Sync {
    /// Records one more failed attempt of `account`'s run of `date`;
    /// returns the attempts so far, this one included.
    fn failed_attempt(
        &self,
        account: &AccountId,
        date: NaiveDate,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;
}

pub use crate::domain::ApplyOutcome;

/// Why an event was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyFailure {
    /// The engine refused it (e.g. a payment in another currency). Permanent.
    #[error(transparent)]
    Rejected(#[from] ApplyError),
    /// Permanent until the account is imported or created.
    #[error("account {0} is not known: import it first (pastdue accounts import)")]
    UnknownAccount(AccountId),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Applied, but the actions it caused are not on the bus yet: they wait
    /// in the outbox, and a retry announces them. Retryable.
    #[error("the actions are not announced yet: {0}")]
    Bus(PublishError),
}

impl ApplyFailure {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::Bus(_) => true,
            Self::Rejected(_) | Self::UnknownAccount(_) => false,
        }
    }
}

/// Applies canonical events exactly once and announces what they caused
/// ([`crate::services::Applier`]).
pub trait ApplyEvents: Send + Sync {
    fn apply(
        &self,
        event: &Event,
    ) -> impl Future<Output = Result<ApplyOutcome, ApplyFailure>> + Send;
}

/// What became of a delivery id when ingest claimed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryClaim {
    /// First time seen (or seen but never published): publish it now.
    Publish,
    /// Published before: a duplicate delivery.
    AlreadyPublished,
}

/// Processor delivery ids: claimed before publishing, marked once published,
/// so a retry after a failed publish publishes again instead of being lost.
pub trait Deliveries: Send + Sync {
    fn claim_delivery(
        &self,
        processor: &str,
        delivery: &str,
    ) -> impl Future<Output = Result<DeliveryClaim, StoreError>> + Send;
    fn mark_published(
        &self,
        processor: &str,
        delivery: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// One body per signed transmission, for a processor whose signature does
/// not bind the body strongly (PayPal signs a CRC-32 of it): the first body
/// a transmission id arrives with is the only one it may carry.
pub trait Transmissions: Send + Sync {
    /// Records `digest` (the body's SHA-256) under `processor`'s
    /// `transmission` id; `Ok(false)` when that id came with another body.
    fn claim_transmission(
        &self,
        processor: &str,
        transmission: &str,
        digest: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Finds the invoice a payment intent or charge paid (disputes, refunds).
pub trait PaymentLinks: Send + Sync {
    fn find_link(
        &self,
        payment: &str,
    ) -> impl Future<Output = Result<Option<(AccountId, crate::domain::InvoiceId)>, StoreError>> + Send;
}

/// Creates an account the processor introduced, leaving an existing one as
/// the operator keeps it ([`crate::services::Accounts`]).
pub trait NewAccounts: Send + Sync {
    fn create_if_missing(
        &self,
        account: &crate::domain::Account,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// An action waiting in the outbox for the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAction {
    /// The outbox entry's key inside the account.
    pub key: String,
    pub message: crate::domain::ActionMessage,
}

/// The action outbox: actions are stored with the change that caused them
/// and stay pending until the bus has accepted them, so a crash between the
/// two loses nothing (the next delivery or run announces them).
pub trait Outbox: Send + Sync {
    fn pending_actions(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Vec<PendingAction>, StoreError>> + Send;
    fn mark_announced(
        &self,
        account: &AccountId,
        key: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Puts action messages on the bus (`source` `pastdue.engine`,
/// `detail-type` the action's name), for the notifier and downstream
/// systems. Delivery is at least once; consumers dedupe on the message id.
pub trait PublishActions: Send + Sync {
    fn publish_actions(
        &self,
        messages: &[crate::domain::ActionMessage],
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}

impl<T: PublishActions> PublishActions for &T {
    async fn publish_actions(
        &self,
        messages: &[crate::domain::ActionMessage],
    ) -> Result<(), PublishError> {
        (**self).publish_actions(messages).await
    }
}

/// Puts canonical events on the bus.
pub trait Publish: Send + Sync {
    /// Publishes the events; returns each one's outcome when the bus knows it
    /// (an in-process bus applies them), `None` when delivery is asynchronous.
    fn publish(
        &self,
        source: &str,
        events: &[Event],
    ) -> impl Future<Output = Result<Vec<Option<ApplyOutcome>>, PublishError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The bus or the store behind it is unavailable: the processor retries.
    #[error("publishing failed: {0}")]
    Unavailable(String),
    /// An event was refused for good (e.g. unknown account, wrong currency).
    #[error("event refused: {0}")]
    Refused(String),
}

/// One email to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: crate::domain::EmailAddress,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// SES message tags: account, action, episode.
    pub tags: Vec<(String, String)>,
}

/// Why an email was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Throttled or unavailable: try again later.
    #[error("email service busy: {0}")]
    Retry(String),
    /// Refused for this address (a malformed address): trying again cannot
    /// help; the contact needs attention.
    #[error("email refused: {0}")]
    Refused(String),
    /// Refused because of how our own sending is set up (an unverified
    /// sender, the SES sandbox, a paused or suspended account, a missing
    /// configuration set): no contact is at fault and none is marked; it
    /// fails every email until a person fixes it, so retry later and alarm.
    #[error("email service refuses all mail: {0}")]
    Systemic(String),
}

/// Sends email (SES v2 `SendEmail`); returns the provider's message id.
pub trait SendEmail: Send + Sync {
    fn send_email(
        &self,
        email: &OutgoingEmail,
    ) -> impl Future<Output = Result<String, SendError>> + Send;
}

/// A notice to one recipient, as the mail log keeps it: claimed before
/// sending, then sent (with the provider's message id) or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailKey<'a> {
    pub account: &'a AccountId,
    /// The action message's id.
    pub message: &'a str,
    pub recipient: &'a str,
}

/// What claiming a notice found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailClaim {
    /// Ours to send now.
    Claimed,
    /// Sent before: do nothing.
    Sent,
    /// Refused before, for this reason: not sent again, but what follows a
    /// refusal (the contact's mark, the staff alert) is completed again, in
    /// case an earlier attempt stopped after recording it.
    Refused(String),
    /// Another attempt holds a fresh claim: leave it.
    Busy,
}

/// The record of what was sent to whom: at most one email per notice and
/// recipient. A claim left by a crash is taken over after its lease.
pub trait MailLog: Send + Sync {
    fn claim_mail(
        &self,
        key: &MailKey<'_>,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> impl Future<Output = Result<MailClaim, StoreError>> + Send;
    /// Records the provider's message id; `detail` is kept with it (action,
    /// episode, date, recipient name).
    fn mail_sent(
        &self,
        key: &MailKey<'_>,
        message_id: &str,
        now: DateTime<Utc>,
        detail: &serde_json::Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn mail_refused(
        &self,
        key: &MailKey<'_>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Gives a claim back after a retryable failure.
    fn mail_release(
        &self,
        key: &MailKey<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A contact mail cannot reach (bounce, complaint, refusal).
#[derive(Debug, Clone, Copy)]
pub struct Undeliverable<'a> {
    /// Stable for one report, so a redelivery marks once.
    pub id: &'a str,
    pub account: &'a AccountId,
    pub email: &'a str,
    pub reason: &'a str,
    pub at: DateTime<Utc>,
}

/// Why reporting an unreachable contact failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] PublishError),
}

/// Has a contact marked undeliverable on its account; returns the contact's
/// name if the account has that address.
pub trait MarkUndeliverable: Send + Sync {
    fn mark_undeliverable(
        &self,
        report: &Undeliverable<'_>,
    ) -> impl Future<Output = Result<Option<String>, ReportError>> + Send;
}

/// The name of an account's contact, by address (read only).
pub trait ContactNames: Send + Sync {
    fn contact_name(
        &self,
        account: &AccountId,
        email: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
}
