//! The daily run of one account on its local date, with the suspension
//! safety rule: nobody is suspended unless a final notice really reached
//! them at least the policy's wait before.

use chrono::NaiveDate;

use super::accounts::Accounts;
use super::retry::{Attempt, retry_on_conflict};
use crate::domain::{
    AccountId, AccountState, Action, ActionKind, ActionMessage, Cause, StepName, TimelineEntry,
};
use crate::ports::{AccountRepository, Change, FinalNotices, RunOutcome, StoreError};

impl<S: AccountRepository + FinalNotices> Accounts<S> {
    /// The run for `account` on its local date `date`: the engine decides,
    /// and the fired step is stored with the account's version. A date (or
    /// an earlier one) already run changes nothing.
    pub async fn run_due(
        &self,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<RunOutcome, StoreError> {
        retry_on_conflict(|| async {
            let Some(loaded) = self.store.load(account).await? else {
                return Ok(Attempt::Done(RunOutcome::Unknown));
            };
            if loaded.state.last_run.is_some_and(|last| date <= last) {
                return Ok(Attempt::Done(RunOutcome::AlreadyRun));
            }
            let (after, actions) = self.decide(&loaded.state, date).await?;
            let now = (self.clock)();
            let cause = Cause::Run(date);
            let change = Change {
                timeline: actions
                    .iter()
                    .map(|a| TimelineEntry::action(now, a, &cause.to_string()))
                    .collect(),
                messages: actions
                    .iter()
                    .map(|a| ActionMessage::new(a, &after, cause, loaded.version + 1))
                    .collect(),
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
