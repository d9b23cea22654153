//! What each invoice stands at (spec §2–§3): its money after payments,
//! refunds, disputes and the account's credit, its effective due date, and
//! whether it is overdue.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::AccountState;
use super::time::local_date;
use crate::domain::InvoiceId;
use crate::domain::event::Outcome;
use crate::domain::money::{Currency, Money};

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
    /// Written off: owed but not chased (spec §1).
    pub written_off: bool,
}

impl InvoiceStanding {
    pub fn currency(&self) -> Currency {
        self.amount.currency()
    }

    /// Chased, not in dispute, and owing at least `min_balance` after
    /// credit past its effective due date (spec §3).
    pub(super) fn overdue_on(&self, date: NaiveDate, min_balance: Decimal) -> bool {
        self.takes_part() && self.owed >= min_balance && date > self.effective_due
    }

    /// Written off, yet owing at least `min_balance` (before credit, which
    /// it takes no part in) past its effective due date: never overdue, but
    /// it keeps an episode open (spec §3, §4).
    pub(super) fn owed_past_due_on(&self, date: NaiveDate, min_balance: Decimal) -> bool {
        self.written_off
            && !self.void
            && !self.in_dispute
            && self.outstanding >= min_balance
            && date > self.effective_due
    }

    /// Neither void, nor in dispute, nor written off: the invoices that are
    /// chased and that take part in credit (spec §2).
    fn takes_part(&self) -> bool {
        !self.void && !self.in_dispute && !self.written_off
    }

    pub fn dpd(&self, date: NaiveDate) -> i64 {
        (date - self.effective_due).num_days()
    }
}

impl AccountState {
    /// Money and dates of every issued invoice, with credit applied (spec §2).
    pub(super) fn compute_standing(&self) -> Vec<InvoiceStanding> {
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
                }
                Some((Outcome::Lost, at)) => {
                    let day = local_date(at, tz);
                    let e = lost_on.entry(&opened.invoice).or_insert(day);
                    *e = (*e).max(day);
                }
                // Won: the funds are reinstated.
                Some((Outcome::Won, _)) => continue,
            }
            // Open or lost: the funds stay withdrawn.
            add_money(
                &mut paid,
                &opened.invoice,
                &opened.amount,
                Decimal::NEGATIVE_ONE,
                self.invoice_currency(&opened.invoice),
            );
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
                    written_off: record.written_off,
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

/// Credit in a currency (negative outstanding on invoices neither void, nor
/// in dispute, nor written off) pays the account's other such invoices in
/// that currency, oldest effective due date first, then by invoice id.
fn apply_credit(standing: &mut [InvoiceStanding]) {
    let takes_part = InvoiceStanding::takes_part;
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

/// The account's dpd on `date` given its invoices overdue then (spec §3):
/// the largest of theirs; 0 when there is none (the account is current).
pub(super) fn account_dpd(overdue: &[&InvoiceStanding], date: NaiveDate) -> i64 {
    overdue.iter().map(|i| i.dpd(date)).max().unwrap_or(0)
}

/// The overdue total in some currency reaches `collections_min`.
pub(super) fn collections_amount_met(overdue: &[&InvoiceStanding], min: Decimal) -> bool {
    let mut totals: BTreeMap<Currency, Decimal> = BTreeMap::new();
    for i in overdue {
        *totals.entry(i.currency()).or_default() += i.owed;
    }
    totals.values().any(|t| *t >= min)
}
