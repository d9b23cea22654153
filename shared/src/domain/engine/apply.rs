//! Applying one event to an account (spec §1, §4, §5.2): validation, the
//! record it changes, and the actions outside the ladder that follow.

use chrono::NaiveDate;

use super::AccountState;
use super::ledger::{Book, Issued, Movement};
use super::vocabulary::{
    Action, ActionKind, ApplyError, ApplyOutcome, EventAction, Settled, Status,
};
use crate::domain::InvoiceId;
use crate::domain::account::{Contact, Role};
use crate::domain::engine::local_date;
use crate::domain::event::{Event, EventKind, Outcome};
use crate::domain::money::Money;
use crate::domain::policy::Policy;

impl AccountState {
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
    /// nothing, not even the record of seen ids. Its effects are judged on
    /// the later of its local date and the last run (spec §4).
    pub fn apply(&mut self, event: &Event, policy: &Policy) -> Result<ApplyOutcome, ApplyError> {
        if event.account != self.account.id {
            return Err(ApplyError::WrongAccount {
                event: event.id.clone(),
                expected: self.account.id.clone(),
                got: event.account.clone(),
            });
        }
        if self.seen.contains(&event.id) {
            return Ok(ApplyOutcome::Duplicate);
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
            EventKind::HoldPlaced {
                until,
                promised_by: Some(by),
                ..
            } => self.check_promise(event, *until, by, policy)?,
            EventKind::TaskOutcome {
                task,
                outcome,
                contact,
                ..
            } => self.check_task_outcome(event, *task, *outcome, contact.as_ref())?,
            _ => {}
        }
        self.seen.insert(event.id.clone());
        let seq = self.next_seq();
        let mut own: Option<EventAction> = None;
        // What this event would have done, should it end the episode.
        let mut settled = match &event.kind {
            EventKind::PaymentSucceeded { .. } => Settled::Paid,
            EventKind::InvoiceVoided { .. } => Settled::Voided,
            EventKind::DisputeOpened { .. } => Settled::Disputed,
            EventKind::DisputeClosed {
                outcome: Outcome::Won,
                ..
            } => Settled::DisputeWon,
            _ => Settled::Adjusted,
        };
        let effective = match &event.kind {
            EventKind::InvoiceIssued {
                invoice,
                amount,
                due,
                due_at,
                shown,
            } => {
                // The local date of the instant it falls due, when known.
                let due = &due_at.map_or(*due, |t| local_date(t, self.account.timezone));
                let record = self.invoices.entry(invoice.clone()).or_default();
                let old = record.issued.as_ref();
                let newer = old.is_none_or(|old| (event.at, seq) > (old.at, old.seq));
                // The same invoice again (a re-delivery, an operator
                // re-applying a file) changes nothing but which is latest.
                let changed = old
                    .is_none_or(|old| (old.amount, old.due, &old.shown) != (*amount, *due, shown));
                if old.is_none_or(|old| amount.amount() < old.amount.amount()) {
                    settled = Settled::Credited;
                }
                if newer {
                    record.issued = Some(Issued {
                        amount: *amount,
                        due: *due,
                        shown: shown.clone(),
                        at: event.at,
                        seq,
                    });
                }
                newer && changed
            }
            EventKind::InvoiceVoided { invoice } => {
                let record = self.invoices.entry(invoice.clone()).or_default();
                !std::mem::replace(&mut record.voided, true)
            }
            EventKind::InvoiceWrittenOff { invoice } => {
                let record = self.invoices.entry(invoice.clone()).or_default();
                !std::mem::replace(&mut record.written_off, true) && !record.voided
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
            // A processor that collects again by itself leaves the customer
            // nothing to do: recorded, nobody asked to act.
            EventKind::PaymentFailed { will_retry, .. } => {
                if !will_retry {
                    own = Some(EventAction::PaymentFailedNotice);
                }
                true
            }
            EventKind::DirectDebitStopped { mandate, .. } => {
                let new = self.mandates_stopped.insert(mandate.clone());
                if new {
                    own = Some(EventAction::DirectDebitStoppedNotice);
                }
                new
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
            EventKind::CardSaved {
                card,
                exp_month,
                exp_year,
            } => self.cards.save(card, *exp_month, *exp_year, event.at, seq),
            EventKind::CardRemoved { card } => self.cards.remove(card, event.at, seq),
            EventKind::DefaultCard { card } => self.cards.set_default(card.as_ref(), event.at, seq),
            EventKind::DisputeOpened {
                invoice,
                dispute,
                amount,
                evidence_due,
            } => {
                let record = self.disputes.entry(dispute.clone()).or_default();
                let new = record.opened.is_none();
                if new {
                    record.opened = Some(Movement {
                        invoice: invoice.clone(),
                        amount: *amount,
                    });
                    record.evidence_due = *evidence_due;
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
            EventKind::HoldPlaced {
                until,
                reason,
                promised_by,
            } => {
                if let Some(by) = promised_by {
                    self.record_promise(*until, by, self.judged_date(event.at));
                }
                // A promise counts even when a later hold supersedes it.
                self.replace_hold(Some(*until), reason, event.at, seq) || promised_by.is_some()
            }
            EventKind::HoldReleased => self.replace_hold(None, "released", event.at, seq),
            EventKind::TaskOutcome {
                task,
                outcome,
                note,
                contact,
            } => {
                let on = self.judged_date(event.at);
                let attempt = super::TaskAttempt {
                    outcome: *outcome,
                    note: note.clone(),
                    on,
                    contact: contact.clone(),
                };
                self.record_task_outcome(*task, attempt, on)
            }
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
            return Ok(ApplyOutcome::NoEffect);
        }
        self.standing = self.compute_standing();

        let date = self.judged_date(event.at);
        let mut actions = Vec::new();
        if let Some(kind) = own {
            let recipients = match kind {
                EventAction::DisputeAlert => Vec::new(),
                _ => self.recipients(&[Role::Billing]),
            };
            actions.push(self.event_action(kind, date, event.kind.invoice(), recipients, policy));
        }
        if let EventKind::HoldPlaced {
            until,
            promised_by: Some(by),
            ..
        } = &event.kind
        {
            actions.extend(self.promise_actions(*until, by, date, policy));
        }
        if let Some(reinstate) =
            self.end_episode_if_current(date, event.kind.invoice(), settled, policy)
        {
            actions.push(reinstate);
        }
        Ok(ApplyOutcome::Applied(actions))
    }

    pub(super) fn event_action(
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
            settled: None,
            promised: None,
            promise_passed: None,
        }
    }

    /// Ends the episode if the account has no invoice overdue or owed past
    /// due on `date` (spec §4); returns the `reinstate` that follows for a
    /// suspended account, saying why (`settled`).
    pub(super) fn end_episode_if_current(
        &mut self,
        date: NaiveDate,
        invoice: Option<&InvoiceId>,
        settled: Settled,
        policy: &Policy,
    ) -> Option<Action> {
        if self.episode.is_none() || self.episode_open_on(date, policy) {
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
        reinstate.settled = Some(settled);
        Some(reinstate)
    }
}
