//! The daily run (spec §5.1): which ladder step, if any, fires for an
//! account on a local date, and the safety rule that warns again before a
//! suspension.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use super::AccountState;
use super::ledger::Episode;
use super::standing::{account_dpd, collections_amount_met};
use super::vocabulary::{Action, ActionKind, Settled, Status};
use crate::domain::InvoiceId;
use crate::domain::policy::{Policy, Step, StepKind, StepName};

impl AccountState {
    /// The daily run on local date `date` (spec §5.1). At most one step fires.
    /// A date at or before the last run's is not run again.
    /// A card notice that is due goes out with it (outside the ladder).
    pub fn run(&mut self, date: NaiveDate, policy: &Policy) -> Vec<Action> {
        if self.last_run.is_some_and(|last| date <= last) {
            return Vec::new();
        }
        let mut actions = self.ladder(date, policy);
        actions.extend(self.card_notice_on(date, policy));
        actions
    }

    fn ladder(&mut self, date: NaiveDate, policy: &Policy) -> Vec<Action> {
        self.last_run = Some(date);
        if let Some(reinstate) = self.end_episode_if_current(date, None, Settled::Adjusted, policy)
        {
            return vec![reinstate];
        }
        let overdue = self.overdue(date, policy);
        if overdue.is_empty() {
            return Vec::new();
        }
        let dpd = account_dpd(&overdue, date);
        let invoices: Vec<InvoiceId> = overdue.iter().map(|i| i.id.clone()).collect();
        let amount_met = collections_amount_met(&overdue, policy.collections_min);
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        let held = self.hold_on(date).is_some();
        let episode = self.episode.get_or_insert_with(|| Episode::new(date));

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
            if step.name.kind() == StepKind::Reminder
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
        let promise_passed = episode.promise_passed(date);
        episode.fired.insert(step.name, date);
        episode.open_task(step, date);
        match step.name {
            StepName::Suspend => self.status = Status::Suspended,
            StepName::Cancel => self.status = Status::Cancelled,
            _ => {}
        }
        let started = episode.started;
        let mut action = self.ladder_action(step, date, dpd, invoices, started, policy);
        action.promise_passed = promise_passed;
        vec![action]
    }

    /// The action of a ladder step fired on `date` in the episode that
    /// began on `started`; a final notice carries its `suspend_on`.
    fn ladder_action(
        &self,
        step: &Step,
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
            settled: None,
            promised: None,
            promise_passed: None,
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
        let dpd = account_dpd(&overdue, date);
        let invoices: Vec<InvoiceId> = overdue.iter().map(|i| i.id.clone()).collect();
        let action = self.ladder_action(step, date, dpd, invoices, started, policy);
        self.last_run = Some(date);
        if let Some(episode) = self.episode.as_mut() {
            episode.fired.insert(StepName::FinalNotice, date);
            episode.open_task(step, date);
        }
        vec![action]
    }

    /// The run on `date` of an account whose cut-off the processor could
    /// not confirm: nothing fires, the date counts as run, and the step is
    /// decided again at the next run. Returns since when cut-offs have been
    /// waiting (the date of this stretch's first deferral).
    pub fn defer_cut_off(&mut self, date: NaiveDate) -> NaiveDate {
        self.last_run = Some(date);
        *self.cut_off_deferred.get_or_insert(date)
    }
}
