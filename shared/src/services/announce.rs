//! Announcing: actions wait in the account's outbox, written with the change
//! that caused them, until the bus has taken them. [`Applier`] is the path
//! every canonical event takes: apply exactly once, then announce.

use tracing::Instrument;

use super::accounts::Accounts;
use crate::domain::{AccountId, ApplyOutcome, Event};
use crate::ports::{
    AccountRepository, ApplyEvents, ApplyFailure, Outbox, PublishActions, PublishError, StoreError,
};

/// Why announcing an account's pending actions failed. Retryable either
/// way: the actions stay pending and the next delivery or run sends them.
#[derive(Debug, thiserror::Error)]
pub enum AnnounceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the bus did not take the actions: {0}")]
    Bus(#[from] PublishError),
}

impl From<AnnounceError> for ApplyFailure {
    fn from(e: AnnounceError) -> Self {
        match e {
            AnnounceError::Store(e) => Self::Store(e),
            AnnounceError::Bus(e) => Self::Bus(e),
        }
    }
}

/// Publishes the account's pending actions (the outbox) and marks each one
/// announced. Returns how many were published.
pub async fn announce<S: Outbox, B: PublishActions>(
    store: &S,
    bus: &B,
    account: &AccountId,
) -> Result<usize, AnnounceError> {
    let pending = store.pending_actions(account).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let messages: Vec<_> = pending.iter().map(|p| p.message.clone()).collect();
    bus.publish_actions(&messages).await?;
    for p in &pending {
        store.mark_announced(account, &p.key).await?;
        tracing::info!(account = %account, action = p.message.action, message_id = p.message.id, "action published");
    }
    Ok(pending.len())
}

/// Applies canonical events exactly once and publishes the actions they
/// cause on `bus`: what the per-kind functions, `pastdue events apply` and
/// an in-process bus all run.
#[derive(Debug, Clone)]
pub struct Applier<S, B> {
    pub accounts: Accounts<S>,
    pub bus: B,
}

impl<S, B> Applier<S, B>
where
    S: AccountRepository + Outbox,
    B: PublishActions,
{
    /// Applies `event` exactly once, then publishes what the outbox holds:
    /// the actions it caused, and any an earlier commit left pending (an
    /// attempt that stopped between commit and publish, a bus outage), so
    /// none waits for the next action to go out.
    pub async fn apply_and_announce(&self, event: &Event) -> Result<ApplyOutcome, ApplyFailure> {
        let span = tracing::info_span!(
            "apply",
            account = %event.account,
            event_id = %event.id,
            event_type = event.kind.type_name()
        );
        async {
            let outcome = self.accounts.apply(event).await;
            log_outcome(&outcome);
            let outcome = outcome?;
            announce(self.accounts.store(), &self.bus, &event.account).await?;
            Ok(outcome)
        }
        .instrument(span)
        .await
    }
}

fn log_outcome(result: &Result<ApplyOutcome, ApplyFailure>) {
    match result {
        Ok(ApplyOutcome::Applied(actions)) => {
            let names: Vec<&str> = actions.iter().map(|a| a.kind.as_str()).collect();
            tracing::info!(outcome = "applied", actions = ?names, "event applied");
        }
        Ok(other) => tracing::info!(outcome = other.as_str(), "event not applied again"),
        Err(e) if e.is_retryable() => {
            tracing::warn!(error = %e, retryable = true, "event not applied")
        }
        Err(e) => tracing::error!(error = %e, retryable = false, "event refused"),
    }
}

impl<S, B> ApplyEvents for Applier<S, B>
where
    S: AccountRepository + Outbox,
    B: PublishActions,
{
    async fn apply(&self, event: &Event) -> Result<ApplyOutcome, ApplyFailure> {
        self.apply_and_announce(event).await
    }
}
