//! The dunning engine (spec §2–§5): one account's state, `apply(event)` and
//! `run(local date)`, each returning the actions to take. Pure: time comes in
//! as the event's `at` or the run's date.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::account::{Account, Contact, Role};
use super::event::{Event, EventKind, Outcome};
use super::money::{Currency, Money};
use super::policy::{Policy, StepName};
use super::{AccountId, CardId, DisputeId, EventId, InvoiceId};

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
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Step(s) => s.as_str(),
            Self::Event(EventAction::Reinstate) => "reinstate",
            Self::Event(EventAction::PaymentFailedNotice) => "payment_failed_notice",
            Self::Event(EventAction::CardExpiringNotice) => "card_expiring_notice",
            Self::Event(EventAction::DisputeAlert) => "dispute_alert",
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
}

/// What applying one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// New: its effects are in the state; these actions follow from it.
    Applied(Vec<Action>),
    /// New and recorded, but with no effect: superseded by a later one (an
    /// older `invoice_issued` or hold), or its payment, refund, dispute or
    /// card expiry was already applied under another event id.
    NoEffect,
    /// This event id was applied before.
    Duplicate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Issued {
    amount: Money,
    due: NaiveDate,
    at: DateTime<Utc>,
    seq: u64,
}

/// An invoice as issued (the latest `invoice_issued` by `at`) and whether it
/// was voided. Its money is derived in [`InvoiceStanding`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    issued: Option<Issued>,
    voided: bool,
    /// Payments to this invoice, by payment id (or `#<event id>`).
    payments: BTreeMap<String, Entry>,
    /// Refunds from this invoice, by refund id (or `#<event id>`).
    refunds: BTreeMap<String, Entry>,
}

/// A payment or refund with the event that brought it. When one payment or
/// refund id arrives in several events, the earliest `(at, event id)` is
/// kept, whatever order they arrive in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    amount: Money,
    at: DateTime<Utc>,
    event: EventId,
}

impl Invoice {
    /// Payment ids applied to this invoice (processor ids, not event ids).
    pub fn payment_ids(&self) -> impl Iterator<Item = &str> {
        self.payments
            .keys()
            .filter(|k| !k.starts_with('#'))
            .map(String::as_str)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Movement {
    invoice: InvoiceId,
    amount: Money,
}

/// A dispute: its open (invoice and amount withdrawn) and its close, in
/// whichever order they arrived.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    opened: Option<Movement>,
    closed: Option<(Outcome, DateTime<Utc>)>,
}

/// A promise to pay or staff hold: no ladder step fires on dates ≤ `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// `None` once released.
    until: Option<NaiveDate>,
    reason: String,
    at: DateTime<Utc>,
    seq: u64,
}

/// A delinquency episode (spec §4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    pub started: NaiveDate,
    pub fired: BTreeMap<StepName, NaiveDate>,
    pub skipped: BTreeSet<StepName>,
}

/// One invoice's money and dates, derived from every event applied so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceStanding {
    pub id: InvoiceId,
    pub amount: Money,
    pub paid: Decimal,
    /// `amount − paid`; negative is a credit.
    pub outstanding: Decimal,
    /// Outstanding after the account's credit in this currency (spec §2);
    /// what is actually owed.
    pub owed: Decimal,
    pub due: NaiveDate,
    pub effective_due: NaiveDate,
    pub void: bool,
    pub in_dispute: bool,
}

impl InvoiceStanding {
    pub fn currency(&self) -> Currency {
        self.amount.currency()
    }

    fn overdue_on(&self, date: NaiveDate, min_balance: Decimal) -> bool {
        !self.void && !self.in_dispute && self.owed >= min_balance && date > self.effective_due
    }

    pub fn dpd(&self, date: NaiveDate) -> i64 {
        (date - self.effective_due).num_days()
    }
}

/// Everything the engine knows about one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub account: Account,
    pub status: Status,
    pub episode: Option<Episode>,
    /// The latest local date a run evaluated; a run is never repeated.
    pub last_run: Option<NaiveDate>,
    /// Event ids applied in this process (simulate). The store dedupes by
    /// its event-id claims instead, so this is not persisted.
    #[serde(skip)]
    seen: BTreeSet<EventId>,
    /// Persisted as items of their own by the store.
    #[serde(skip)]
    invoices: BTreeMap<InvoiceId, Invoice>,
    disputes: BTreeMap<DisputeId, Dispute>,
    cards_noticed: BTreeSet<(CardId, u32, i32)>,
    hold: Option<Hold>,
    seq: u64,
    #[serde(skip)]
    standing: Vec<InvoiceStanding>,
}

/// The local date of an instant in a time zone.
pub fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// The instant of `hour:00` local on `date`. A time that does not exist
/// (a DST gap) moves forward to the first hour that does; an ambiguous one
/// (the hour repeated when clocks go back) is its first occurrence.
pub fn run_instant(date: NaiveDate, hour: u32, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    (hour..hour + 4)
        .find_map(|h| {
            tz.from_local_datetime(&(midnight + Duration::hours(i64::from(h))))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&(midnight + Duration::hours(i64::from(hour)))))
}

/// Which book of an invoice money goes in.
#[derive(Clone, Copy)]
enum Book {
    Payment,
    Refund,
}

impl Book {
    fn of(self, invoice: &mut Invoice) -> &mut BTreeMap<String, Entry> {
        match self {
            Self::Payment => &mut invoice.payments,
            Self::Refund => &mut invoice.refunds,
        }
    }
}

fn movement_key(id: Option<&str>, event: &EventId) -> String {
    id.map_or_else(|| format!("#{event}"), str::to_owned)
}

impl AccountState {
    pub fn new(account: Account) -> Self {
        Self {
            account,
            status: Status::Active,
            episode: None,
            last_run: None,
            seen: BTreeSet::new(),
            invoices: BTreeMap::new(),
            disputes: BTreeMap::new(),
            cards_noticed: BTreeSet::new(),
            hold: None,
            seq: 0,
            standing: Vec::new(),
        }
    }

    /// Reassembles a stored state with its invoices and rebuilds derived data.
    pub fn restored(mut self, invoices: BTreeMap<InvoiceId, Invoice>) -> Self {
        self.invoices = invoices;
        self.standing = self.compute_standing();
        self
    }

    /// The invoice records, as the store persists them.
    pub fn invoice_records(&self) -> &BTreeMap<InvoiceId, Invoice> {
        &self.invoices
    }

    /// Replaces the account's details (name, time zone, exemption,
    /// contacts), keeping its billing history.
    pub fn set_account(&mut self, account: Account) {
        self.account = account;
        self.standing = self.compute_standing();
    }

    /// Known invoices (issued at least once), by id.
    pub fn invoices(&self) -> &[InvoiceStanding] {
        &self.standing
    }

    /// The active hold on `date`, if any: its last day and reason.
    pub fn hold_on(&self, date: NaiveDate) -> Option<(NaiveDate, &str)> {
        let hold = self.hold.as_ref()?;
        let until = hold.until?;
        (date <= until).then_some((until, hold.reason.as_str()))
    }

    /// The invoices overdue on local date `date` (spec §3), by id.
    pub fn overdue(&self, date: NaiveDate, policy: &Policy) -> Vec<&InvoiceStanding> {
        self.standing
            .iter()
            .filter(|i| i.overdue_on(date, policy.min_balance))
            .collect()
    }

    /// The account's dpd on `date`: the largest over overdue invoices; 0 when current.
    pub fn dpd(&self, date: NaiveDate, policy: &Policy) -> i64 {
        self.overdue(date, policy)
            .iter()
            .map(|i| i.dpd(date))
            .max()
            .unwrap_or(0)
    }

    fn local(&self, at: DateTime<Utc>) -> NaiveDate {
        local_date(at, self.account.timezone)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn invoice_currency(&self, invoice: &InvoiceId) -> Option<Currency> {
        self.invoices
            .get(invoice)
            .and_then(|r| r.issued.as_ref())
            .map(|i| i.amount.currency())
    }

    fn check_currency(
        &self,
        event: &Event,
        what: &'static str,
        invoice: &InvoiceId,
        amount: Money,
    ) -> Result<(), ApplyError> {
        match self.invoice_currency(invoice) {
            Some(expected) if expected != amount.currency() => Err(ApplyError::CurrencyMismatch {
                event: event.id.clone(),
                what,
                invoice: invoice.clone(),
                expected,
                got: amount.currency(),
            }),
            _ => Ok(()),
        }
    }

    /// Applies one event exactly once (spec §1). A rejected event changes
    /// nothing, not even the record of seen ids.
    pub fn apply(&mut self, event: &Event, policy: &Policy) -> Result<Applied, ApplyError> {
        if event.account != self.account.id {
            return Err(ApplyError::WrongAccount {
                event: event.id.clone(),
                expected: self.account.id.clone(),
                got: event.account.clone(),
            });
        }
        if self.seen.contains(&event.id) {
            return Ok(Applied::Duplicate);
        }
        // Validate before any change.
        match &event.kind {
            EventKind::PaymentSucceeded {
                invoice, amount, ..
            } => self.check_currency(event, "payment", invoice, *amount)?,
            EventKind::PaymentRefunded {
                invoice, amount, ..
            } => self.check_currency(event, "refund", invoice, *amount)?,
            EventKind::DisputeOpened {
                invoice, amount, ..
            } => self.check_currency(event, "dispute", invoice, *amount)?,
            _ => {}
        }
        self.seen.insert(event.id.clone());
        let seq = self.next_seq();
        let mut own: Option<EventAction> = None;
        let effective = match &event.kind {
            EventKind::InvoiceIssued {
                invoice,
                amount,
                due,
            } => {
                let record = self.invoices.entry(invoice.clone()).or_default();
                let newer = record
                    .issued
                    .as_ref()
                    .is_none_or(|old| (event.at, seq) > (old.at, old.seq));
                if newer {
                    record.issued = Some(Issued {
                        amount: *amount,
                        due: *due,
                        at: event.at,
                        seq,
                    });
                }
                newer
            }
            EventKind::InvoiceVoided { invoice } => {
                let record = self.invoices.entry(invoice.clone()).or_default();
                !std::mem::replace(&mut record.voided, true)
            }
            EventKind::PaymentSucceeded {
                invoice,
                amount,
                payment,
            } => self.record_money(
                Book::Payment,
                invoice,
                payment.as_ref().map(|p| p.as_str()),
                *amount,
                event,
            ),
            EventKind::PaymentRefunded {
                invoice,
                amount,
                refund,
            } => self.record_money(
                Book::Refund,
                invoice,
                refund.as_ref().map(|r| r.as_str()),
                *amount,
                event,
            ),
            EventKind::PaymentFailed { .. } => {
                own = Some(EventAction::PaymentFailedNotice);
                true
            }
            EventKind::CardExpiring {
                card,
                exp_month,
                exp_year,
            } => {
                let new = self
                    .cards_noticed
                    .insert((card.clone(), *exp_month, *exp_year));
                if new {
                    own = Some(EventAction::CardExpiringNotice);
                }
                new
            }
            EventKind::DisputeOpened {
                invoice,
                dispute,
                amount,
            } => {
                let record = self.disputes.entry(dispute.clone()).or_default();
                let new = record.opened.is_none();
                if new {
                    record.opened = Some(Movement {
                        invoice: invoice.clone(),
                        amount: *amount,
                    });
                    own = Some(EventAction::DisputeAlert);
                }
                new
            }
            EventKind::DisputeClosed { dispute, outcome } => {
                let record = self.disputes.entry(dispute.clone()).or_default();
                let new = record.closed.is_none();
                if new {
                    record.closed = Some((*outcome, event.at));
                }
                new
            }
            EventKind::HoldPlaced { until, reason } => {
                self.replace_hold(Some(*until), reason, event.at, seq)
            }
            EventKind::HoldReleased => self.replace_hold(None, "released", event.at, seq),
            EventKind::ContactUndeliverable { email, reason } => {
                match self
                    .account
                    .contacts
                    .iter_mut()
                    .find(|c| c.email.as_str().eq_ignore_ascii_case(email.as_str()))
                {
                    Some(c) if c.undeliverable.is_none() => {
                        c.undeliverable = Some(reason.clone());
                        true
                    }
                    // Already marked, or no longer a contact (an operator
                    // removed it): nothing to change.
                    _ => false,
                }
            }
        };
        if !effective {
            return Ok(Applied::NoEffect);
        }
        self.standing = self.compute_standing();

        let date = self.local(event.at);
        let mut actions = Vec::new();
        if let Some(kind) = own {
            let recipients = match kind {
                EventAction::DisputeAlert => Vec::new(),
                _ => self.recipients(&[Role::Billing]),
            };
            actions.push(self.event_action(kind, date, event.kind.invoice(), recipients, policy));
        }
        if let Some(reinstate) = self.end_episode_if_current(date, event.kind.invoice(), policy) {
            actions.push(reinstate);
        }
        Ok(Applied::Applied(actions))
    }

    /// Records a payment or refund under `key` (its id); returns whether
    /// anything changed. The earliest `(at, event id)` for a key wins.
    fn record_money(
        &mut self,
        kind: Book,
        invoice: &InvoiceId,
        id: Option<&str>,
        amount: Money,
        event: &Event,
    ) -> bool {
        let key = movement_key(id, &event.id);
        let entry = Entry {
            amount,
            at: event.at,
            event: event.id.clone(),
        };
        let existing = self
            .invoices
            .iter_mut()
            .find_map(|(id, i)| kind.of(i).get(&key).cloned().map(|old| (id.clone(), old)));
        if let Some((old_invoice, old)) = &existing {
            if (old.at, &old.event) <= (entry.at, &entry.event) {
                return false;
            }
            if let Some(i) = self.invoices.get_mut(old_invoice) {
                kind.of(i).remove(&key);
            }
        }
        let unchanged = existing.is_some_and(|(old_invoice, old)| {
            &old_invoice == invoice && old.amount == entry.amount
        });
        kind.of(self.invoices.entry(invoice.clone()).or_default())
            .insert(key, entry);
        !unchanged
    }

    fn replace_hold(
        &mut self,
        until: Option<NaiveDate>,
        reason: &str,
        at: DateTime<Utc>,
        seq: u64,
    ) -> bool {
        let newer = self
            .hold
            .as_ref()
            .is_none_or(|old| (at, seq) > (old.at, old.seq));
        if newer {
            self.hold = Some(Hold {
                until,
                reason: reason.to_owned(),
                at,
                seq,
            });
        }
        newer
    }

    fn recipients(&self, roles: &[Role]) -> Vec<Contact> {
        self.account
            .recipients(roles)
            .into_iter()
            .cloned()
            .collect()
    }

    fn event_action(
        &self,
        kind: EventAction,
        date: NaiveDate,
        invoice: Option<&InvoiceId>,
        recipients: Vec<Contact>,
        policy: &Policy,
    ) -> Action {
        Action {
            date,
            account: self.account.id.clone(),
            kind: ActionKind::Event(kind),
            dpd: self.dpd(date, policy),
            invoices: invoice.cloned().into_iter().collect(),
            recipients,
            suspend_on: None,
            episode: self.episode.as_ref().map(|e| e.started),
        }
    }

    /// Ends the episode if the account has no overdue invoice on `date`;
    /// returns the `reinstate` that follows for a suspended account.
    fn end_episode_if_current(
        &mut self,
        date: NaiveDate,
        invoice: Option<&InvoiceId>,
        policy: &Policy,
    ) -> Option<Action> {
        if self.episode.is_none() || !self.overdue(date, policy).is_empty() {
            return None;
        }
        let ended = self.episode.take().map(|e| e.started);
        if self.status != Status::Suspended {
            return None;
        }
        self.status = Status::Active;
        let recipients = self.recipients(&[Role::Billing, Role::Primary]);
        let mut reinstate =
            self.event_action(EventAction::Reinstate, date, invoice, recipients, policy);
        reinstate.episode = ended;
        Some(reinstate)
    }

    /// The daily run on local date `date` (spec §5.1). At most one step fires.
    /// A date at or before the last run's is not run again.
    pub fn run(&mut self, date: NaiveDate, policy: &Policy) -> Vec<Action> {
        if self.last_run.is_some_and(|last| date <= last) {
            return Vec::new();
        }
        self.last_run = Some(date);
        if let Some(reinstate) = self.end_episode_if_current(date, None, policy) {
            return vec![reinstate];
        }
        let overdue = self.overdue(date, policy);
        if overdue.is_empty() {
            return Vec::new();
        }
        let dpd = overdue.iter().map(|i| i.dpd(date)).max().unwrap_or(0);
        let invoices: Vec<InvoiceId> = overdue.iter().map(|i| i.id.clone()).collect();
        let amount_met = collections_amount_met(&overdue, policy.collections_min);
        let episode = self.episode.get_or_insert_with(|| Episode {
            started: date,
            fired: BTreeMap::new(),
            skipped: BTreeSet::new(),
        });

        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        let held = self
            .hold
            .as_ref()
            .and_then(|h| h.until)
            .is_some_and(|until| date <= until);
        // A cancelled account's later episodes fire no ladder steps.
        let cancelled_before =
            self.status == Status::Cancelled && !episode.fired.contains_key(&StepName::Cancel);
        if (policy.business_days_only && weekend) || held || cancelled_before {
            return Vec::new();
        }

        let threshold_met = |i: usize| policy.steps.get(i).is_some_and(|s| dpd >= i64::from(s.dpd));
        let mut fire = None;
        for (i, step) in policy.steps.iter().enumerate() {
            let done =
                episode.fired.contains_key(&step.name) || episode.skipped.contains(&step.name);
            if done || !threshold_met(i) {
                continue;
            }
            if step.name.kind() == super::policy::StepKind::Reminder
                && (i + 1..policy.steps.len()).any(threshold_met)
            {
                episode.skipped.insert(step.name);
                continue;
            }
            if step.name.needs_collections_amount() && !amount_met {
                continue;
            }
            let waited = step.name.waits_for().is_none_or(|earlier| {
                episode.fired.get(&earlier).is_some_and(|fired_on| {
                    (date - *fired_on).num_days() >= i64::from(step.wait_days)
                })
            });
            let exempt_blocks = step.name.spares_exempt() && self.account.exempt;
            if waited && !exempt_blocks {
                fire = Some(step);
            }
            // The candidate decides this run, fired or not.
            break;
        }
        let Some(step) = fire else {
            return Vec::new();
        };
        episode.fired.insert(step.name, date);
        match step.name {
            StepName::Suspend => self.status = Status::Suspended,
            StepName::Cancel => self.status = Status::Cancelled,
            _ => {}
        }
        let started = episode.started;
        vec![self.ladder_action(step, date, dpd, invoices, started, policy)]
    }

    /// The action of a ladder step fired on `date` in the episode that
    /// began on `started`; a final notice carries its `suspend_on`.
    fn ladder_action(
        &self,
        step: &super::policy::Step,
        date: NaiveDate,
        dpd: i64,
        invoices: Vec<InvoiceId>,
        started: NaiveDate,
        policy: &Policy,
    ) -> Action {
        let suspend_on = (step.name == StepName::FinalNotice)
            .then(|| date + Duration::days(i64::from(policy.suspend_wait_days())));
        Action {
            date,
            account: self.account.id.clone(),
            kind: ActionKind::Step(step.name),
            dpd,
            invoices,
            recipients: self.recipients(&step.to),
            suspend_on,
            episode: Some(started),
        }
    }

    /// The safety rule over the ladder: no suspension without a final
    /// notice that actually reached the customer at least the suspend
    /// step's wait earlier. When the run on `date` fired `suspend` but no
    /// such notice is known, the caller runs this on the state *before*
    /// that run instead: the final notice fires again today, with a new
    /// `suspend_on`, and suspension waits a full wait from now.
    pub fn warn_again(&mut self, date: NaiveDate, policy: &Policy) -> Vec<Action> {
        if self.last_run.is_some_and(|last| date <= last) {
            return Vec::new();
        }
        let overdue = self.overdue(date, policy);
        let Some(step) = policy.step(StepName::FinalNotice) else {
            return Vec::new();
        };
        let Some(started) = self.episode.as_ref().map(|e| e.started) else {
            return Vec::new();
        };
        if overdue.is_empty() {
            return Vec::new();
        }
        let dpd = overdue.iter().map(|i| i.dpd(date)).max().unwrap_or(0);
        let invoices: Vec<InvoiceId> = overdue.iter().map(|i| i.id.clone()).collect();
        let action = self.ladder_action(step, date, dpd, invoices, started, policy);
        self.last_run = Some(date);
        if let Some(episode) = self.episode.as_mut() {
            episode.fired.insert(StepName::FinalNotice, date);
        }
        vec![action]
    }

    /// Money and dates of every issued invoice, with credit applied (spec §2).
    fn compute_standing(&self) -> Vec<InvoiceStanding> {
        let tz = self.account.timezone;
        let mut paid: BTreeMap<&InvoiceId, Decimal> = BTreeMap::new();
        let mut disputed: BTreeSet<&InvoiceId> = BTreeSet::new();
        let mut lost_on: BTreeMap<&InvoiceId, NaiveDate> = BTreeMap::new();
        for (id, record) in &self.invoices {
            let currency = record.issued.as_ref().map(|i| i.amount.currency());
            for (sign, money) in record
                .payments
                .values()
                .map(|m| (Decimal::ONE, &m.amount))
                .chain(
                    record
                        .refunds
                        .values()
                        .map(|m| (Decimal::NEGATIVE_ONE, &m.amount)),
                )
            {
                add_money(&mut paid, id, money, sign, currency);
            }
        }
        for d in self.disputes.values() {
            let Some(opened) = &d.opened else { continue };
            match d.closed {
                None => {
                    disputed.insert(&opened.invoice);
                    add_money(
                        &mut paid,
                        &opened.invoice,
                        &opened.amount,
                        Decimal::NEGATIVE_ONE,
                        self.invoice_currency(&opened.invoice),
                    );
                }
                Some((Outcome::Lost, at)) => {
                    add_money(
                        &mut paid,
                        &opened.invoice,
                        &opened.amount,
                        Decimal::NEGATIVE_ONE,
                        self.invoice_currency(&opened.invoice),
                    );
                    let day = local_date(at, tz);
                    let e = lost_on.entry(&opened.invoice).or_insert(day);
                    *e = (*e).max(day);
                }
                Some((Outcome::Won, _)) => {}
            }
        }
        let mut standing: Vec<InvoiceStanding> = self
            .invoices
            .iter()
            .filter_map(|(id, record)| {
                let issued = record.issued.as_ref()?;
                let paid = paid.get(id).copied().unwrap_or_default();
                let outstanding = issued.amount.amount() - paid;
                Some(InvoiceStanding {
                    id: id.clone(),
                    amount: issued.amount,
                    paid,
                    outstanding,
                    owed: outstanding,
                    due: issued.due,
                    effective_due: lost_on.get(id).map_or(issued.due, |d| issued.due.max(*d)),
                    void: record.voided,
                    in_dispute: disputed.contains(id),
                })
            })
            .collect();
        apply_credit(&mut standing);
        standing
    }
}

/// Adds a movement to its invoice's paid total; money in another currency
/// than the invoice's never counts.
fn add_money<'a>(
    paid: &mut BTreeMap<&'a InvoiceId, Decimal>,
    invoice: &'a InvoiceId,
    money: &Money,
    sign: Decimal,
    invoice_currency: Option<Currency>,
) {
    if invoice_currency == Some(money.currency()) {
        *paid.entry(invoice).or_default() += sign * money.amount();
    }
}

/// Credit in a currency (negative outstanding on invoices neither void nor
/// in dispute) pays the account's other such invoices in that currency,
/// oldest effective due date first, then by invoice id.
fn apply_credit(standing: &mut [InvoiceStanding]) {
    let takes_part = |i: &InvoiceStanding| !i.void && !i.in_dispute;
    let mut credit: BTreeMap<Currency, Decimal> = BTreeMap::new();
    for i in standing.iter_mut().filter(|i| takes_part(i)) {
        if i.outstanding.is_sign_negative() && !i.outstanding.is_zero() {
            *credit.entry(i.currency()).or_default() -= i.outstanding;
            i.owed = Decimal::ZERO;
        }
    }
    if credit.is_empty() {
        return;
    }
    let mut order: Vec<usize> = (0..standing.len())
        .filter(|&k| takes_part(&standing[k]) && standing[k].outstanding > Decimal::ZERO)
        .collect();
    order.sort_by(|&a, &b| {
        (standing[a].effective_due, &standing[a].id)
            .cmp(&(standing[b].effective_due, &standing[b].id))
    });
    for k in order {
        let Some(pool) = credit.get_mut(&standing[k].currency()) else {
            continue;
        };
        let used = (*pool).min(standing[k].outstanding);
        standing[k].owed = standing[k].outstanding - used;
        *pool -= used;
    }
}

/// The overdue total in some currency reaches `collections_min`.
fn collections_amount_met(overdue: &[&InvoiceStanding], min: Decimal) -> bool {
    let mut totals: BTreeMap<Currency, Decimal> = BTreeMap::new();
    for i in overdue {
        *totals.entry(i.currency()).or_default() += i.owed;
    }
    totals.values().any(|t| *t >= min)
}
