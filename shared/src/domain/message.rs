//! The action message: what the bus carries for every action the engine
//! returns (`detail-type` = the action's name, `source` = `pastdue.engine`).
//! The notifier renders its emails from the message alone, and downstream
//! systems (a control panel) act on `suspend`, `reinstate`, `cancel` and
//! `collections` without reading pastdue's table.
//!
//! Delivery is at least once: consumers dedupe on `id`, which is stable for
//! one action (ladder steps: account, episode, step and date; `reinstate`:
//! account, episode and action; other event actions: account, causing event
//! and action).
//!
//! Delivery is also unordered (EventBridge does not order, and a throttled
//! `suspend` can go out after the `reinstate` that followed it): every
//! message carries the account's `sequence`, which only grows, and the
//! `status` the account has once the action is taken. A subscriber keeps
//! the highest sequence it acted on per account and drops any message below
//! it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::engine::{AccountState, Action, ActionKind, EventAction, Settled, Status};
use super::ids::{AccountId, EventId, InvoiceId};
use super::money::{Currency, format_amount};
use super::policy::{StepKind, StepName};

/// Why an action happened: an applied event, or the daily run of a date.
#[derive(Debug, Clone, Copy)]
pub enum Cause<'a> {
    Event(&'a EventId),
    Run(NaiveDate),
}

impl std::fmt::Display for Cause<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Event(id) => write!(f, "event {id}"),
            Self::Run(date) => write!(f, "run {date}"),
        }
    }
}

/// A person an action writes to, greeted by their own name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub name: String,
    pub email: super::EmailAddress,
}

/// One invoice an action is about: what is owed on it and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub invoice: InvoiceId,
    /// Owed after credit, with the currency's decimal places (`"120.00"`).
    pub owed: String,
    pub currency: Currency,
    /// The effective due date (later than issued after a lost dispute).
    pub due: NaiveDate,
    /// Days past due on the action's date (0 when not overdue).
    pub days_overdue: i64,
    /// The invoice's number, when the processor gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The page where it is paid, when the processor gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_url: Option<String>,
}

/// The bus `detail` of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionMessage {
    /// Stable for one action: consumers dedupe on it.
    pub id: String,
    /// `reminder_1` … `collections`, `reinstate`, `payment_failed_notice`,
    /// `card_expiring_notice`, `dispute_alert`.
    pub action: String,
    /// `reminder`, `warning`, `action` (ladder), or `notice` / `alert`.
    pub kind: String,
    pub account: AccountId,
    pub account_name: String,
    /// The account's IANA time zone: every date here is local to it.
    pub timezone: String,
    pub date: NaiveDate,
    pub dpd: i64,
    /// The account's version after the change that decided this action:
    /// it only grows. Messages from one change share it. A subscriber that
    /// has acted on a higher sequence for the account drops this one.
    /// Staff notes that no account change caused carry 0.
    #[serde(default)]
    pub sequence: u64,
    /// The account's status once this action is taken; absent on staff
    /// notes that no account change caused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The delinquency episode, named by the local date it began.
    pub episode: Option<NaiveDate>,
    /// Overdue invoices (event actions: the invoice the event names), sorted.
    pub invoices: Vec<InvoiceId>,
    /// The same invoices with their amounts, for emails and control panels.
    pub amounts: Vec<InvoiceLine>,
    /// Who is written to; empty for staff-only actions.
    pub recipients: Vec<Recipient>,
    /// `final_notice`: the earliest date suspension can happen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend_on: Option<NaiveDate>,
    /// `reinstate`: why the episode ended (`paid`, `credited`, `voided`,
    /// `dispute_won`, `disputed`, `adjusted`); only `paid` thanks anyone for
    /// a payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled: Option<Settled>,
    /// `promise_confirmed` / `promise_noted`: the date the customer
    /// promised to pay by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promised: Option<NaiveDate>,
    /// A ladder step: a promise to pay by this date passed unpaid since the
    /// last email, and this one says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promise_passed: Option<NaiveDate>,
    /// `staff_digest`: the day's digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Box<super::digest::Digest>>,
    /// One line a person or a control panel log can show.
    pub reason: String,
    /// `event <id>` or `run <date>`.
    pub cause: String,
}

/// The start of every message id of ladder step `step` in the episode that
/// began on `episode` (`<account>:<episode>:<step>:`; the step's date
/// follows), so the mail log can find what was sent of one step without
/// knowing the id format.
pub fn step_id_prefix(account: &AccountId, episode: NaiveDate, step: StepName) -> String {
    format!("{account}:{episode}:{}:", step.as_str())
}

/// The staff's morning digest (`services::digest`).
pub const STAFF_DIGEST: &str = "staff_digest";
/// What the digest's mail log is kept under: no customer account.
pub const STAFF_DIGEST_ACCOUNT: &str = "staff";

/// The staff alert of a cut-off the processor could not confirm for a day.
pub const CUT_OFF_UNVERIFIED: &str = "cut_off_unverified";

impl ActionMessage {
    /// The message for `action`, which `state` (the account just after the
    /// action, stored as version `sequence`) returned because of `cause`.
    pub fn new(action: &Action, state: &AccountState, cause: Cause<'_>, sequence: u64) -> Self {
        let name = action.kind.as_str();
        let account = &action.account;
        let id = match (action.kind, action.episode, cause) {
            // A step fires once per episode, except a final notice sent
            // again by the safety rule: the date tells them apart.
            (ActionKind::Step(step), Some(ep), _) => {
                format!("{}{}", step_id_prefix(account, ep, step), action.date)
            }
            (ActionKind::Event(EventAction::Reinstate), Some(ep), _) => {
                format!("{account}:{ep}:{name}")
            }
            (_, _, Cause::Event(event)) => format!("{account}:{event}:{name}"),
            (_, _, Cause::Run(date)) => format!("{account}:{date}:{name}"),
        };
        let kind = match action.kind {
            ActionKind::Step(step) => match step.kind() {
                StepKind::Reminder => "reminder",
                StepKind::Warning => "warning",
                StepKind::Action => "action",
            },
            ActionKind::Event(EventAction::DisputeAlert) => "alert",
            ActionKind::Event(_) => "notice",
        };
        let amounts: Vec<InvoiceLine> = action
            .invoices
            .iter()
            .filter_map(|id| state.invoices().iter().find(|i| &i.id == id))
            .map(|i| {
                let shown = state.shown(&i.id);
                InvoiceLine {
                    invoice: i.id.clone(),
                    owed: format_amount(i.owed, i.currency()),
                    currency: i.currency(),
                    due: i.effective_due,
                    days_overdue: i.dpd(action.date).max(0),
                    number: shown.number,
                    pay_url: shown.pay_url,
                }
            })
            .collect();
        let mut reason = reason(name, action, &amounts);
        if let (Some(until), Some(promise)) = (action.promised, state.promises().last()) {
            let who = state
                .account
                .contacts
                .iter()
                .find(|c| c.email == promise.by)
                .map_or_else(
                    || promise.by.to_string(),
                    |c| format!("{} <{}>", c.name, c.email),
                );
            reason = format!("{who} promised to pay by {until} via the customer page{reason}");
        }
        Self {
            id,
            action: name.to_owned(),
            kind: kind.to_owned(),
            account: account.clone(),
            account_name: state.account.name.clone(),
            timezone: state.account.timezone.name().to_owned(),
            date: action.date,
            dpd: action.dpd,
            sequence,
            status: Some(state.status),
            episode: action.episode,
            invoices: action.invoices.clone(),
            amounts,
            recipients: action
                .recipients
                .iter()
                .map(|c| Recipient {
                    name: c.name.clone(),
                    email: c.email.clone(),
                })
                .collect(),
            suspend_on: action.suspend_on,
            settled: action.settled,
            promised: action.promised,
            promise_passed: action.promise_passed,
            digest: None,
            reason,
            cause: cause.to_string(),
        }
    }

    /// A staff alert for a dispute inquiry: the bank asks questions before
    /// any funds are withdrawn, so the account does not change; staff answer
    /// it with the processor before its deadline.
    pub fn dispute_inquiry(
        account: AccountId,
        invoice: InvoiceId,
        dispute: &str,
        amount: super::Money,
        at: chrono::DateTime<chrono::Utc>,
        cause: &str,
    ) -> Self {
        let line = InvoiceLine {
            invoice: invoice.clone(),
            owed: format_amount(amount.amount(), amount.currency()),
            currency: amount.currency(),
            due: at.date_naive(),
            days_overdue: 0,
            number: None,
            pay_url: None,
        };
        let mut alert = Self::staff_note(account, at, cause);
        alert.id = format!("{}:{dispute}:dispute_inquiry", alert.account);
        alert.action = "dispute_alert".to_owned();
        alert.reason = format!(
            "dispute inquiry {dispute} on {invoice} for {amount}: no funds withdrawn yet; answer it with the processor before its deadline"
        );
        alert.invoices = vec![invoice];
        alert.amounts = vec![line];
        alert
    }

    /// A staff alert: the cut-off `deferred` (a ladder step the run on its
    /// date did not take) has waited since the run of `since` for the processor to
    /// confirm what is owed, and still cannot: `why`. `state` is the
    /// account as stored at `sequence`.
    pub fn cut_off_unverified(
        deferred: &Action,
        state: &AccountState,
        since: NaiveDate,
        why: &str,
        sequence: u64,
    ) -> Self {
        let mut alert = Self::new(deferred, state, Cause::Run(deferred.date), sequence);
        alert.id = format!("{}:{}:{CUT_OFF_UNVERIFIED}", alert.account, deferred.date);
        alert.action = CUT_OFF_UNVERIFIED.to_owned();
        alert.kind = "alert".to_owned();
        alert.recipients = Vec::new();
        alert.reason = format!(
            "{} has waited since the run of {since} because the processor could not confirm what is owed: {why}",
            deferred.kind.as_str(),
        );
        alert
    }

    /// The frame of a staff note about an account that no action caused
    /// (an SES bounce or complaint): no invoices, no recipients.
    pub fn staff_note(account: AccountId, at: chrono::DateTime<chrono::Utc>, cause: &str) -> Self {
        Self {
            id: format!("{account}:{cause}"),
            action: "undeliverable".to_owned(),
            kind: "alert".to_owned(),
            account_name: account.to_string(),
            account,
            timezone: "UTC".to_owned(),
            date: at.date_naive(),
            dpd: 0,
            sequence: 0,
            status: None,
            episode: None,
            invoices: Vec::new(),
            amounts: Vec::new(),
            recipients: Vec::new(),
            suspend_on: None,
            settled: None,
            promised: None,
            promise_passed: None,
            digest: None,
            reason: String::new(),
            cause: cause.to_owned(),
        }
    }

    /// The staff's digest of its date, sent at `now`: one per date (its id).
    pub fn staff_digest(digest: Digest, now: chrono::DateTime<chrono::Utc>) -> Option<Self> {
        let date = digest.date;
        let account = AccountId::parse(STAFF_DIGEST_ACCOUNT).ok()?;
        let mut note = Self::staff_note(account, now, &format!("digest {date}"));
        note.id = format!("{STAFF_DIGEST_ACCOUNT}:{date}:{STAFF_DIGEST}");
        note.action = STAFF_DIGEST.to_owned();
        note.account_name = "the morning digest".to_owned();
        note.date = date;
        note.reason = if digest.is_empty() {
            "nothing needs a person today".to_owned()
        } else {
            let counts = [
                (digest.calls.len(), "call", "calls"),
                (digest.promises_due.len(), "promise due", "promises due"),
                (
                    digest.promises_broken.len(),
                    "promise broken",
                    "promises broken",
                ),
                (digest.cut_offs.len(), "cut-off", "cut-offs"),
                (
                    digest.unreachable.len(),
                    "contact unreachable",
                    "contacts unreachable",
                ),
                (digest.disputes.len(), "dispute", "disputes"),
                (
                    digest.yesterday.len(),
                    "payment or reinstatement yesterday",
                    "payments and reinstatements yesterday",
                ),
            ];
            counts
                .iter()
                .filter(|(n, ..)| *n > 0)
                .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
                .collect::<Vec<_>>()
                .join(", ")
        };
        note.digest = Some(Box::new(digest));
        Some(note)
    }

    /// The message as the bus `detail`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Reads a bus `detail`; a message this code did not write is refused.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        Self::deserialize(value).map_err(|e| format!("not an action message: {e}"))
    }
}

fn reason(name: &str, action: &Action, amounts: &[InvoiceLine]) -> String {
    let owed: Vec<String> = amounts
        .iter()
        .map(|l| format!("{} {} {}", l.invoice, l.owed, l.currency))
        .collect();
    let owed = if owed.is_empty() {
        String::new()
    } else {
        format!(" ({})", owed.join(", "))
    };
    match action.kind {
        ActionKind::Event(EventAction::Reinstate) => {
            let why = match action.settled {
                Some(Settled::Paid) => "paid",
                Some(Settled::Credited) => "credited",
                Some(Settled::Voided) => "the overdue invoice was voided",
                Some(Settled::DisputeWon) => "a dispute was won",
                Some(Settled::Disputed) => "the overdue invoice is in dispute",
                Some(Settled::Adjusted) | None => "nothing is overdue",
            };
            format!("{why}: the account is active again{owed}")
        }
        ActionKind::Event(EventAction::PaymentFailedNotice) => format!("a payment failed{owed}"),
        ActionKind::Event(EventAction::CardExpiringNotice) => {
            "the card on file expires soon".into()
        }
        ActionKind::Event(EventAction::DirectDebitStoppedNotice) => {
            format!("the direct debit stopped{owed}")
        }
        ActionKind::Event(EventAction::DisputeAlert) => format!("a payment is disputed{owed}"),
        // Preceded by who promised, and when by (`ActionMessage::new`).
        ActionKind::Event(EventAction::PromiseConfirmed | EventAction::PromiseNoted) => owed,
        ActionKind::Step(_) => format!("{name}: {} days past due{owed}", action.dpd),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented examples in `events/actions/` are messages this code
    /// reads, on the rule a control panel would use.
    #[test]
    fn the_downstream_examples_are_valid_action_messages() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/actions");
        let mut seen = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let envelope: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let message = ActionMessage::from_json(&envelope["detail"])
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(envelope["source"], "pastdue.engine");
            assert_eq!(envelope["detail-type"], message.action.as_str());
            assert!(crate::routing::ACTION_TYPES.contains(&message.action.as_str()));
            assert_eq!(message.invoices.len(), message.amounts.len());
            assert!(message.sequence > 0 && message.status.is_some(), "ordered");
            seen.push(message.action);
        }
        seen.sort();
        assert_eq!(seen, ["cancel", "collections", "reinstate", "suspend"]);
    }
}
