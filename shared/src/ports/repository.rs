//! The account repository: load an account with its version, and commit a
//! change guarded by that version, in one atomic write.

use std::future::Future;

use chrono::NaiveDate;

use super::StoreError;
use crate::domain::{AccountId, AccountState, ActionMessage, Event, InvoiceId, TimelineEntry};

/// An account's state as stored, with the version that guards the next write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub state: AccountState,
    pub version: u64,
}

/// What a commit writes besides the account's state and invoices.
#[derive(Debug, Clone, Default)]
pub struct Change<'a> {
    /// The event this change applies: its id is claimed in the same write,
    /// so it takes effect exactly once.
    pub claim: Option<&'a Event>,
    pub timeline: Vec<TimelineEntry>,
    /// Payment or charge ids and the invoice they paid (disputes and
    /// refunds find their invoice through them).
    pub links: Vec<(String, InvoiceId)>,
    /// Actions to announce, written to the outbox with the change.
    pub messages: Vec<ActionMessage>,
}

impl Change<'_> {
    /// An operator's change: one timeline note, nothing to announce.
    pub fn note(entry: TimelineEntry) -> Self {
        Self {
            timeline: vec![entry],
            ..Self::default()
        }
    }
}

/// What a commit found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    Done,
    /// The change's event id was claimed before: nothing was written.
    Duplicate,
    /// The account changed since it was loaded: load again and retry.
    Conflict,
}

/// Accounts, each loaded and committed whole.
pub trait AccountRepository: Send + Sync {
    /// The account's state, read consistently, or `None` if it is unknown.
    fn load(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Option<Loaded>, StoreError>> + Send;

    /// Whether `event`'s id was already claimed for its account.
    fn event_claimed(&self, event: &Event)
    -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Writes `after` (new when `before` is `None`) with `change`, all or
    /// nothing, only if the account is still at `before`'s version.
    fn commit(
        &self,
        before: Option<&Loaded>,
        after: &AccountState,
        change: &Change<'_>,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send;
}

/// A final notice the email provider accepted, as the mail log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentNotice {
    /// The notice's date (the run that sent it); `None` if not recorded.
    pub date: Option<NaiveDate>,
    /// Sent to a customer contact (`true`) or only to staff.
    pub to_contact: bool,
}

impl SentNotice {
    /// Reads the detail the notifier records with a sent notice (its
    /// `date` and `audience`).
    pub fn from_detail(detail: &serde_json::Value) -> Self {
        Self {
            date: detail["date"]
                .as_str()
                .and_then(|t| t.parse::<NaiveDate>().ok()),
            to_contact: detail["audience"] == "contact",
        }
    }
}

/// What the mail log knows of final notices: the suspension safety rule
/// ([`crate::services`]) decides from it whether a warning really went out.
pub trait FinalNotices: Send + Sync {
    /// Every `final_notice` of the episode that began on `episode` that
    /// reached the email provider, one per recipient.
    fn final_notices_sent(
        &self,
        account: &AccountId,
        episode: NaiveDate,
    ) -> impl Future<Output = Result<Vec<SentNotice>, StoreError>> + Send;
}
