//! The engine's vocabulary: an account's service status, the actions the
//! engine decides on (and their spec §6 JSON), and what applying an event
//! did (`ApplyOutcome`) or why it was refused.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::account::Contact;
use crate::domain::money::Currency;
use crate::domain::policy::StepName;
use crate::domain::{AccountId, EventId, InvoiceId};

/// The account's service standing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Suspended,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Cancelled => "cancelled",
        }
    }
}

/// What the engine decided should happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", untagged)]
pub enum ActionKind {
    /// A ladder step (spec §5).
    Step(StepName),
    /// Outside the ladder (spec §5.2).
    Event(EventAction),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventAction {
    Reinstate,
    PaymentFailedNotice,
    CardExpiringNotice,
    DisputeAlert,
    /// To the contact who promised to pay on the customer page.
    PromiseConfirmed,
    /// To staff: a customer promised to pay.
    PromiseNoted,
    /// To the billing contact: their direct debit stopped; set up a new one.
    DirectDebitStoppedNotice,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Step(s) => s.as_str(),
            Self::Event(EventAction::Reinstate) => "reinstate",
            Self::Event(EventAction::PaymentFailedNotice) => "payment_failed_notice",
            Self::Event(EventAction::DirectDebitStoppedNotice) => "direct_debit_stopped_notice",
            Self::Event(EventAction::CardExpiringNotice) => "card_expiring_notice",
            Self::Event(EventAction::DisputeAlert) => "dispute_alert",
            Self::Event(EventAction::PromiseConfirmed) => "promise_confirmed",
            Self::Event(EventAction::PromiseNoted) => "promise_noted",
        }
    }
}

/// Why an episode ended, so a `reinstate` never thanks anyone for a payment
/// that did not come (spec §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settled {
    /// A payment covered what was overdue.
    Paid,
    /// The invoice was reissued for less, or credit now covers it.
    Credited,
    /// The overdue invoice was voided.
    Voided,
    /// A dispute was won and its funds came back.
    DisputeWon,
    /// The overdue invoice went into dispute: it is paused, not paid.
    Disputed,
    /// Nothing is overdue any more for another reason (a later due date,
    /// a policy's minimum balance).
    Adjusted,
}

impl Settled {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Credited => "credited",
            Self::Voided => "voided",
            Self::DisputeWon => "dispute_won",
            Self::Disputed => "disputed",
            Self::Adjusted => "adjusted",
        }
    }
}

/// One action, as `pastdue simulate` prints it and the notifier receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub date: NaiveDate,
    pub account: AccountId,
    pub kind: ActionKind,
    /// The account's dpd on `date` (for event actions: just after the event).
    pub dpd: i64,
    /// Overdue invoices (event actions: the invoice the event names).
    pub invoices: Vec<InvoiceId>,
    /// Who is written to, each greeted by their own name; empty for staff only.
    pub recipients: Vec<Contact>,
    /// `final_notice` only: the date suspension can happen.
    pub suspend_on: Option<NaiveDate>,
    /// The delinquency episode the action belongs to, named by the local
    /// date it began (`reinstate`: the episode it ends); `None` for an event
    /// action while the account is current.
    pub episode: Option<NaiveDate>,
    /// `reinstate` only: why the episode ended.
    pub settled: Option<Settled>,
    /// `promise_confirmed` and `promise_noted`: the date the customer
    /// promised to pay by.
    pub promised: Option<NaiveDate>,
    /// A ladder step: the date of a promise that passed unpaid since the
    /// last email, which this one mentions.
    pub promise_passed: Option<NaiveDate>,
}

/// The spec §6 JSON shape of an action (field order as the spec shows).
#[derive(Serialize)]
struct ActionJson<'a> {
    date: String,
    account: &'a str,
    action: &'static str,
    dpd: i64,
    invoices: Vec<&'a str>,
    to: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suspend_on: Option<String>,
}

impl Action {
    pub fn to_json(&self) -> serde_json::Value {
        let shape = ActionJson {
            date: self.date.to_string(),
            account: self.account.as_str(),
            action: self.kind.as_str(),
            dpd: self.dpd,
            invoices: self.invoices.iter().map(InvoiceId::as_str).collect(),
            to: self.recipients.iter().map(|c| c.email.as_str()).collect(),
            suspend_on: self.suspend_on.map(|d| d.to_string()),
        };
        serde_json::to_value(shape).unwrap_or_default()
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// An event that cannot be applied; nothing changed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ApplyError {
    #[error("event {event} is for account {got}, not {expected}")]
    WrongAccount {
        event: EventId,
        expected: AccountId,
        got: AccountId,
    },
    #[error("event {event}: {what} in {got} for invoice {invoice}, which is in {expected}")]
    CurrencyMismatch {
        event: EventId,
        what: &'static str,
        invoice: InvoiceId,
        expected: Currency,
        got: Currency,
    },
    /// A call's outcome for a task the account does not have.
    #[error("event {event}: {why}")]
    Task { event: EventId, why: String },
    /// A customer's promise to pay that the policy does not allow.
    #[error("event {event}: promise refused: {why}")]
    PromiseRefused { event: EventId, why: PromiseRefusal },
}

/// Why a customer's promise to pay is refused. The customer page shows the
/// same words before it submits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PromiseRefusal {
    #[error("nothing on the account is overdue")]
    NothingOverdue,
    #[error("the promise is not from a contact of the account")]
    NotAContact,
    #[error("the date has already passed")]
    DateInPast,
    #[error("the date is more than {0} days away")]
    TooFar(u32),
    #[error("a promise was already made for these invoices ({0} allowed)")]
    LimitReached(u32),
    /// A hold in force already covers the date: a promise would shorten it.
    #[error("a hold until {0} already covers that date")]
    AlreadyHeld(NaiveDate),
}

/// What applying one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// New: its effects are in the state; these actions follow from it.
    Applied(Vec<Action>),
    /// New and recorded, but with no effect: superseded by a later one (an
    /// older `invoice_issued` or hold), or its payment, refund, dispute or
    /// card expiry was already applied under another event id.
    NoEffect,
    /// This event id was applied before; nothing changed.
    Duplicate,
}

impl ApplyOutcome {
    /// Its name in timelines and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Applied(_) => "applied",
            Self::NoEffect => "no_effect",
            Self::Duplicate => "duplicate",
        }
    }
}
