//! The daily run of one account on its local date, with the suspension
//! safety rule: nobody is suspended unless a final notice really reached
//! them at least the policy's wait before.

use chrono::NaiveDate;

use super::accounts::Accounts;
use super::retry::{Attempt, retry_on_conflict};
use crate::domain::{
    AccountId, AccountState, Action, ActionKind, ActionMessage, Cause, StepName, TimelineEntry,
};
use crate::ports::cutoff::{ConfirmCutOff, Confirmed, NoCheck};
use crate::ports::{AccountRepository, Change, FinalNotices, RunOutcome, StoreError};

/// Days of daily runs a cut-off may wait for the processor before staff
/// are alerted: the run a day after the first deferral alerts.
pub const CUT_OFF_ALERT_DAYS: i64 = 1;

impl<S: AccountRepository + FinalNotices> Accounts<S> {
    /// The run for `account` on its local date `date`: the engine decides,
    /// and the fired step is stored with the account's version. A date (or
    /// an earlier one) already run changes nothing.
    pub async fn run_due(
        &self,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<RunOutcome, StoreError> {
        self.run_due_checked(account, date, &NoCheck).await
    }

    /// [`Self::run_due`], asking the processor first when the run would cut
    /// the customer off (`suspend`, `cancel`, `collections`): what it says
    /// that pastdue lacked is applied and the run decides again; when it
    /// cannot be asked, nothing fires today and the step is decided again
    /// at the next run. After a day of that, staff are alerted.
    pub async fn run_due_checked(
        &self,
        account: &AccountId,
        date: NaiveDate,
        check: &impl ConfirmCutOff,
    ) -> Result<RunOutcome, StoreError> {
        retry_on_conflict(|| async {
            let Some(loaded) = self.store.load(account).await? else {
                return Ok(Attempt::Done(RunOutcome::Unknown));
            };
            if loaded.state.last_run.is_some_and(|last| date <= last) {
                return Ok(Attempt::Done(RunOutcome::AlreadyRun));
            }
            let (mut after, mut actions) = self.decide(&loaded.state, date).await?;
            let now = (self.clock)();
            let mut timeline = Vec::new();
            let mut alerts = Vec::new();
            let cut_off = actions
                .iter()
                .find(|a| matches!(a.kind, ActionKind::Step(step) if step.cuts_off()))
                .cloned();
            match cut_off {
                // A weekend or a hold in the middle of a stretch of
                // deferrals does not end it; the episode ending does.
                None if after.episode.is_none() => after.cut_off_deferred = None,
                None => {}
                Some(step) => match check
                    .confirm(account, &step.invoices, self.run_instant(&loaded.state, date))
                    .await
                {
                    Ok(Confirmed::Unchanged) => after.cut_off_deferred = None,
                    // Applied as the processor's own events did: decide
                    // again on the account as it is now.
                    Ok(Confirmed::Changed) => return Ok(Attempt::Conflict),
                    Err(why) => {
                        after = loaded.state.clone();
                        actions = Vec::new();
                        let since = after.defer_cut_off(date);
                        tracing::warn!(%account, %date, step = step.kind.as_str(), error = %why, %since, "cut-off deferred: the processor could not confirm what is owed");
                        timeline.push(TimelineEntry::account(
                            now,
                            format!("{} deferred: the processor could not confirm what is owed ({why})", step.kind.as_str()),
                            serde_json::json!({"deferred": step.to_json(), "since": since, "error": why.to_string()}),
                        ));
                        if (date - since).num_days() >= CUT_OFF_ALERT_DAYS {
                            // `staff_cut_off_unverified`: the template's alarm filter.
                            tracing::error!(%account, %date, %since, staff_cut_off_unverified = true, "a cut-off has waited a day for the processor: staff alerted");
                            alerts.push(ActionMessage::cut_off_unverified(
                                &step,
                                &after,
                                since,
                                &why.to_string(),
                                loaded.version + 1,
                            ));
                        }
                    }
                },
            }
            let cause = Cause::Run(date);
            timeline.extend(
                actions
                    .iter()
                    .map(|a| TimelineEntry::action(now, a, &cause.to_string())),
            );
            let mut messages: Vec<ActionMessage> = actions
                .iter()
                .map(|a| ActionMessage::new(a, &after, cause, loaded.version + 1))
                .collect();
            messages.extend(alerts);
            let change = Change {
                timeline,
                messages,
                ..Change::default()
            };
            Ok(self
                .store
                .commit(Some(&loaded), &after, &change)
                .await?
                .then_done(RunOutcome::Ran(actions)))
        })
        .await
    }

    /// When the run of local `date` happens for `state`'s account: what the
    /// processor says before a cut-off is dated then, as the run is.
    fn run_instant(&self, state: &AccountState, date: NaiveDate) -> chrono::DateTime<chrono::Utc> {
        crate::domain::engine::run_instant(date, self.policy.run_hour, state.account.timezone)
    }

    /// [`Self::run_due`]'s actions (none when the date was already run or
    /// the account is unknown).
    pub async fn run_account(
        &self,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<Vec<Action>, StoreError> {
        Ok(match self.run_due(account, date).await? {
            RunOutcome::Ran(actions) => actions,
            RunOutcome::AlreadyRun | RunOutcome::Unknown => Vec::new(),
        })
    }

    /// What the run on `date` does to `state`: the engine's step, with the
    /// safety rule applied. Reads the mail log; writes nothing.
    pub async fn decide(
        &self,
        state: &AccountState,
        date: NaiveDate,
    ) -> Result<(AccountState, Vec<Action>), StoreError> {
        let mut after = state.clone();
        let mut actions = after.run(date, &self.policy);
        if let Some(suspend) = actions
            .iter()
            .find(|a| a.kind == ActionKind::Step(StepName::Suspend))
            && !self.final_notice_reached(suspend).await?
        {
            tracing::warn!(account = %state.account.id, %date, "no final notice known to have reached the customer: warning again, suspension waits");
            after = state.clone();
            actions = after.warn_again(date, &self.policy);
        }
        Ok((after, actions))
    }

    /// Whether a final notice of `suspend`'s episode reached a customer
    /// contact at least the suspend step's wait before it.
    async fn final_notice_reached(&self, suspend: &Action) -> Result<bool, StoreError> {
        let Some(episode) = suspend.episode else {
            return Ok(false);
        };
        let wait = self.policy.suspend_wait_days();
        let latest = suspend.date - chrono::Duration::days(i64::from(wait));
        let sent = self
            .store
            .final_notices_sent(&suspend.account, episode)
            .await?;
        // A notice that only staff received warned nobody.
        Ok(sent
            .iter()
            .any(|n| n.to_contact && n.date.is_some_and(|d| d <= latest)))
    }
}

impl<S: AccountRepository + FinalNotices> crate::ports::RunAccounts for Accounts<S> {
    async fn run_due(
        &self,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<RunOutcome, StoreError> {
        Accounts::run_due(self, account, date).await
    }
}

/// The daily runs, each cut-off confirmed with the processor first
/// ([`Accounts::run_due_checked`]).
pub struct CheckedRuns<S, C> {
    pub accounts: Accounts<S>,
    pub check: C,
}

impl<S: AccountRepository + FinalNotices, C: ConfirmCutOff> crate::ports::RunAccounts
    for CheckedRuns<S, C>
{
    async fn run_due(
        &self,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<RunOutcome, StoreError> {
        self.accounts
            .run_due_checked(account, date, &self.check)
            .await
    }
}
