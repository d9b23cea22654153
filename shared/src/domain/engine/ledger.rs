//! The records the engine keeps, as events brought them: invoices with
//! their payments and refunds, disputes, the hold and the episode; and how
//! money and holds are recorded so that arrival order does not matter.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::AccountState;
use crate::domain::event::{Event, Outcome};
use crate::domain::money::{Currency, Money};
use crate::domain::policy::StepName;
use crate::domain::{EmailAddress, EventId, InvoiceId, Shown};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Issued {
    pub(super) amount: Money,
    pub(super) due: NaiveDate,
    #[serde(default, skip_serializing_if = "Shown::is_empty")]
    pub(super) shown: Shown,
    pub(super) at: DateTime<Utc>,
    pub(super) seq: u64,
}

/// An invoice as issued (the latest `invoice_issued` by `at`) and whether it
/// was voided or written off. Its money is derived in
/// [`InvoiceStanding`](super::InvoiceStanding).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub(super) issued: Option<Issued>,
    pub(super) voided: bool,
    /// Written off (spec §1): owed, not chased. Absent in records stored
    /// before the event existed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) written_off: bool,
    /// Payments to this invoice, by payment id (or `#<event id>`).
    pub(super) payments: BTreeMap<String, Entry>,
    /// Refunds from this invoice, by refund id (or `#<event id>`).
    pub(super) refunds: BTreeMap<String, Entry>,
}

/// A payment or refund with the event that brought it. When one payment or
/// refund id arrives in several events, the earliest `(at, event id)` is
/// kept, whatever order they arrive in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub(super) amount: Money,
    pub(super) at: DateTime<Utc>,
    pub(super) event: EventId,
}

impl Invoice {
    /// Its number and payment page, as the latest `invoice_issued` gave.
    pub fn shown(&self) -> Option<&Shown> {
        self.issued.as_ref().map(|i| &i.shown)
    }

    /// Payment ids applied to this invoice (processor ids, not event ids).
    pub fn payment_ids(&self) -> impl Iterator<Item = &str> {
        self.payments
            .keys()
            .filter(|k| !k.starts_with('#'))
            .map(String::as_str)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Movement {
    pub(super) invoice: InvoiceId,
    pub(super) amount: Money,
}

/// A dispute: its open (invoice and amount withdrawn) and its close, in
/// whichever order they arrived.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    pub(super) opened: Option<Movement>,
    pub(super) closed: Option<(Outcome, DateTime<Utc>)>,
    /// The last day to answer it with evidence, when the processor said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) evidence_due: Option<NaiveDate>,
}

/// A promise to pay or staff hold: no ladder step fires on dates ≤ `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// `None` once released.
    pub(super) until: Option<NaiveDate>,
    pub(super) reason: String,
    pub(super) at: DateTime<Utc>,
    pub(super) seq: u64,
}

/// A delinquency episode (spec §4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    pub started: NaiveDate,
    pub fired: BTreeMap<StepName, NaiveDate>,
    pub skipped: BTreeSet<StepName>,
    /// The customer's own promises to pay in this episode, oldest first
    /// (the policy limits how many).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promises: Vec<Promise>,
    /// The calls the ladder asked staff to make in this episode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<super::Task>,
}

impl Episode {
    pub fn new(started: NaiveDate) -> Self {
        Self {
            started,
            fired: BTreeMap::new(),
            skipped: BTreeSet::new(),
            promises: Vec::new(),
            tasks: Vec::new(),
        }
    }

    /// The date of a promise that passed unpaid before `date` and that no
    /// email has mentioned yet: no step fired after it. The next email says
    /// so.
    pub fn promise_passed(&self, date: NaiveDate) -> Option<NaiveDate> {
        let until = self.promises.last()?.until;
        let told = self.fired.values().any(|fired| *fired > until);
        (until < date && !told).then_some(until)
    }
}

/// A customer's promise to pay by `until`, made on local date `made` by
/// the contact `by` (the customer page).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promise {
    pub until: NaiveDate,
    pub by: EmailAddress,
    pub made: NaiveDate,
}

/// Which book of an invoice money goes in.
#[derive(Clone, Copy)]
pub(super) enum Book {
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
    pub(super) fn invoice_currency(&self, invoice: &InvoiceId) -> Option<Currency> {
        self.invoices
            .get(invoice)
            .and_then(|r| r.issued.as_ref())
            .map(|i| i.amount.currency())
    }

    /// Records a payment or refund under `key` (its id); returns whether
    /// anything changed. The earliest `(at, event id)` for a key wins.
    pub(super) fn record_money(
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

    pub(super) fn replace_hold(
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
}
