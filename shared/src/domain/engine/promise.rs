//! A customer's own promise to pay (the customer page): a `hold_placed`
//! that names the contact who promised. It holds the ladder like a staff
//! hold, and within the policy's limits: a date no more than
//! `promise_max_days` away, at most `promises_per_episode` per episode,
//! only while something is overdue. The contact is thanked by email and
//! staff are told.

use chrono::NaiveDate;

use super::AccountState;
use super::ledger::Promise;
use super::vocabulary::{Action, ApplyError, EventAction, PromiseRefusal};
use crate::domain::EmailAddress;
use crate::domain::event::Event;
use crate::domain::policy::Policy;

impl AccountState {
    /// Why a promise to pay by `until` from `by`, made on local date
    /// `made`, is not allowed now, if it is not.
    pub fn promise_refusal(
        &self,
        until: NaiveDate,
        by: &EmailAddress,
        made: NaiveDate,
        policy: &Policy,
    ) -> Option<PromiseRefusal> {
        let Some(episode) = &self.episode else {
            return Some(PromiseRefusal::NothingOverdue);
        };
        if self.overdue(made, policy).is_empty() {
            return Some(PromiseRefusal::NothingOverdue);
        }
        if !self
            .account
            .contacts
            .iter()
            .any(|c| c.email.as_str().eq_ignore_ascii_case(by.as_str()))
        {
            return Some(PromiseRefusal::NotAContact);
        }
        if until < made {
            return Some(PromiseRefusal::DateInPast);
        }
        if (until - made).num_days() > i64::from(policy.promise_max_days) {
            return Some(PromiseRefusal::TooFar(policy.promise_max_days));
        }
        let allowed = policy.promises_per_episode;
        if episode.promises.len() >= usize::try_from(allowed).unwrap_or(usize::MAX) {
            return Some(PromiseRefusal::LimitReached(allowed));
        }
        // Never shorten a hold staff agreed (or an earlier, longer promise).
        self.hold_on(made)
            .filter(|(held, _)| *held >= until)
            .map(|(held, _)| PromiseRefusal::AlreadyHeld(held))
    }

    /// The promise `event` makes, judged on its date, refused with the
    /// reason when the policy does not allow it.
    pub(super) fn check_promise(
        &self,
        event: &Event,
        until: NaiveDate,
        by: &EmailAddress,
        policy: &Policy,
    ) -> Result<(), ApplyError> {
        match self.promise_refusal(until, by, self.judged_date(event.at), policy) {
            Some(why) => Err(ApplyError::PromiseRefused {
                event: event.id.clone(),
                why,
            }),
            None => Ok(()),
        }
    }

    /// Counts the (checked) promise against its episode.
    pub(super) fn record_promise(&mut self, until: NaiveDate, by: &EmailAddress, made: NaiveDate) {
        if let Some(episode) = self.episode.as_mut() {
            episode.promises.push(Promise {
                until,
                by: by.clone(),
                made,
            });
        }
    }

    /// The promises this episode has seen, oldest first.
    pub fn promises(&self) -> &[Promise] {
        self.episode.as_ref().map_or(&[], |e| e.promises.as_slice())
    }

    /// The thanks to the contact who promised on `date`, and the note to
    /// staff, both naming the overdue invoices and the promised date.
    pub(super) fn promise_actions(
        &self,
        until: NaiveDate,
        by: &EmailAddress,
        date: NaiveDate,
        policy: &Policy,
    ) -> Vec<Action> {
        let invoices: Vec<_> = self
            .overdue(date, policy)
            .iter()
            .map(|i| i.id.clone())
            .collect();
        let contact: Vec<_> = self
            .account
            .contacts
            .iter()
            .filter(|c| c.email.as_str().eq_ignore_ascii_case(by.as_str()))
            .take(1)
            .cloned()
            .collect();
        [
            (EventAction::PromiseConfirmed, contact),
            (EventAction::PromiseNoted, Vec::new()),
        ]
        .into_iter()
        .map(|(kind, recipients)| {
            let mut action = self.event_action(kind, date, None, recipients, policy);
            action.invoices.clone_from(&invoices);
            action.promised = Some(until);
            action
        })
        .collect()
    }
}
