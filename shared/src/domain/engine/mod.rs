//! The dunning engine (spec §2–§5): one account's state, `apply(event)` and
//! `run(local date)`, each returning the actions to take. Pure: time comes in
//! as the event's `at` or the run's date.
//!
//! - `vocabulary`: statuses, actions and what applying an event did;
//! - `ledger`: the invoice, dispute, hold and episode records;
//! - `promise`: a customer's own promise to pay, within the policy;
//! - `tasks`: the calls the ladder asks staff to make;
//! - `standing`: each invoice's money and dates, credit applied;
//! - `apply`: `AccountState::apply`;
//! - `ladder`: `AccountState::run` and `warn_again`;
//! - `time`: local dates and run instants.
//!
//! This file holds `AccountState` itself and its accessors.

mod apply;
mod cards;
mod ladder;
mod ledger;
mod promise;
mod standing;
mod tasks;
mod time;
mod vocabulary;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use cards::{Cards, NOTICE_DAYS, stops_working};
pub use ledger::{Dispute, Entry, Episode, Hold, Invoice, Promise};
pub use standing::InvoiceStanding;
pub use tasks::{Task, TaskAttempt, TaskOutcome};
pub use time::{local_date, run_instant};
pub use vocabulary::{
    Action, ActionKind, ApplyError, ApplyOutcome, EventAction, PromiseRefusal, Settled, Status,
};

use standing::account_dpd;

use super::account::{Account, Contact, Role};
use super::policy::Policy;
use super::{CardId, DisputeId, EventId, InvoiceId, MandateId, Money};

/// Everything the engine knows about one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub account: Account,
    pub status: Status,
    pub episode: Option<Episode>,
    /// The latest local date a run evaluated; a run is never repeated.
    pub last_run: Option<NaiveDate>,
    /// Since when a cut-off has been waiting for the processor to confirm
    /// it: the local date of the first run of the stretch that could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_off_deferred: Option<NaiveDate>,
    /// Event ids applied in this process (simulate). The store dedupes by
    /// its event-id claims instead, so this is not persisted.
    #[serde(skip)]
    seen: BTreeSet<EventId>,
    /// Persisted as items of their own by the store.
    #[serde(skip)]
    invoices: BTreeMap<InvoiceId, Invoice>,
    disputes: BTreeMap<DisputeId, Dispute>,
    cards_noticed: BTreeSet<(CardId, u32, i32)>,
    /// Mandates whose stop was noticed: each is told once.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    mandates_stopped: BTreeSet<MandateId>,
    #[serde(default)]
    cards: Cards,
    hold: Option<Hold>,
    seq: u64,
    #[serde(skip)]
    standing: Vec<InvoiceStanding>,
}

impl AccountState {
    pub fn new(account: Account) -> Self {
        Self {
            account,
            status: Status::Active,
            episode: None,
            last_run: None,
            cut_off_deferred: None,
            seen: BTreeSet::new(),
            invoices: BTreeMap::new(),
            disputes: BTreeMap::new(),
            cards_noticed: BTreeSet::new(),
            mandates_stopped: BTreeSet::new(),
            cards: Cards::default(),
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

    /// How the processor shows `invoice` to the customer (its number and
    /// page), as far as it said.
    pub fn shown(&self, invoice: &InvoiceId) -> super::Shown {
        self.invoices
            .get(invoice)
            .and_then(|r| r.shown())
            .cloned()
            .unwrap_or_default()
    }

    /// Disputes opened and not closed yet: each one's id, invoice, amount
    /// withdrawn and last day for evidence.
    pub fn open_disputes(&self) -> Vec<(&DisputeId, &InvoiceId, Money, Option<NaiveDate>)> {
        self.disputes
            .iter()
            .filter(|(_, d)| d.closed.is_none())
            .filter_map(|(id, d)| {
                let opened = d.opened.as_ref()?;
                Some((id, &opened.invoice, opened.amount, d.evidence_due))
            })
            .collect()
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

    /// Whether an episode stays open on `date`: some invoice is overdue or
    /// owed past due (spec §4).
    fn episode_open_on(&self, date: NaiveDate, policy: &Policy) -> bool {
        self.standing.iter().any(|i| {
            i.overdue_on(date, policy.min_balance) || i.owed_past_due_on(date, policy.min_balance)
        })
    }

    /// The date an event is judged on (spec §4): its own local date, or the
    /// account's last run when that is later, so a late delivery cannot
    /// end an episode, restart its ladder or reinstate "in the past".
    fn judged_date(&self, at: DateTime<Utc>) -> NaiveDate {
        let own = self.local(at);
        self.last_run.map_or(own, |last| own.max(last))
    }

    /// The account's dpd on `date`: the largest over overdue invoices; 0 when current.
    pub fn dpd(&self, date: NaiveDate, policy: &Policy) -> i64 {
        account_dpd(&self.overdue(date, policy), date)
    }

    fn local(&self, at: DateTime<Utc>) -> NaiveDate {
        local_date(at, self.account.timezone)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn recipients(&self, roles: &[Role]) -> Vec<Contact> {
        self.account
            .recipients(roles)
            .into_iter()
            .cloned()
            .collect()
    }
}
