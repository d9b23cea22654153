//! Applying one canonical event: the path the per-kind handler functions and
//! `pastdue events apply` share.

use tracing::Instrument;

use serde_json::{Value, json};

use super::HandlerError;
use crate::domain::{AccountId, Event};
use crate::ports::{ApplyEvents, ApplyFailure, ApplyOutcome, Outbox, PublishActions, StoreError};
use crate::routing::Route;

/// Why announcing an account's pending actions failed. Retryable either
/// way: the actions stay pending and the next delivery or run sends them.
#[derive(Debug, thiserror::Error)]
pub enum AnnounceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the bus did not take the actions: {0}")]
    Bus(String),
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
    bus.publish_actions(&messages)
        .await
        .map_err(|e| AnnounceError::Bus(e.to_string()))?;
    for p in &pending {
        store.mark_announced(account, &p.key).await?;
        tracing::info!(account = %account, action = p.message.action, message_id = p.message.id, "action published");
    }
    Ok(pending.len())
}

/// Applies `event` exactly once, then publishes the actions it caused. A
/// duplicate publishes whatever an earlier attempt left pending (it may have
/// stopped between the two).
pub async fn apply_and_announce<S, B>(
    store: &S,
    bus: &B,
    event: &Event,
) -> Result<ApplyOutcome, ApplyFailure>
where
    S: ApplyEvents + Outbox,
    B: PublishActions,
{
    let outcome = apply_event(store, event).await?;
    let needed = match &outcome {
        ApplyOutcome::Applied(actions) => !actions.is_empty(),
        ApplyOutcome::Duplicate => true,
        ApplyOutcome::NoEffect => false,
    };
    if needed {
        announce(store, bus, &event.account)
            .await
            .map_err(|e| match e {
                AnnounceError::Store(e) => ApplyFailure::Store(e),
                AnnounceError::Bus(message) => ApplyFailure::Store(StoreError::Unavailable {
                    operation: "PutEvents",
                    message,
                }),
            })?;
    }
    Ok(outcome)
}

/// Applies `event` exactly once and logs the outcome with its ids.
pub async fn apply_event<S: ApplyEvents>(
    store: &S,
    event: &Event,
) -> Result<ApplyOutcome, ApplyFailure> {
    let span = tracing::info_span!(
        "apply",
        account = %event.account,
        event_id = %event.id,
        event_type = event.kind.type_name()
    );
    async {
        let result = store.apply(event).await;
        match &result {
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
        result
    }
    .instrument(span)
    .await
}

/// A per-kind handler function: the bus delivers an EventBridge event whose
/// `detail` is one canonical event and whose `detail-type` is its `type`.
/// Applies it exactly once; a retryable failure is returned as an error so
/// the bus redelivers, a permanent one is refused.
pub async fn handle_bus_event<S, B>(
    store: &S,
    bus: &B,
    route: &Route,
    payload: Value,
) -> Result<Value, HandlerError>
where
    S: ApplyEvents + Outbox,
    B: PublishActions,
{
    let detail_type = payload
        .get("detail-type")
        .and_then(Value::as_str)
        .ok_or_else(|| HandlerError::BadEvent("no detail-type".into()))?;
    if !route.types.contains(&detail_type) {
        return Err(HandlerError::BadEvent(format!(
            "{} does not handle {detail_type}",
            route.function
        )));
    }
    let detail = payload
        .get("detail")
        .ok_or_else(|| HandlerError::BadEvent("no detail".into()))?;
    let event = Event::from_json(detail).map_err(|e| HandlerError::BadEvent(e.to_string()))?;
    if event.kind.type_name() != detail_type {
        return Err(HandlerError::BadEvent(format!(
            "detail-type {detail_type} but the event is {}",
            event.kind.type_name()
        )));
    }
    match apply_and_announce(store, bus, &event).await {
        Ok(outcome) => {
            let actions: Vec<&str> = match &outcome {
                ApplyOutcome::Applied(actions) => actions.iter().map(|a| a.kind.as_str()).collect(),
                _ => Vec::new(),
            };
            Ok(json!({ "outcome": outcome.as_str(), "event": event.id, "actions": actions }))
        }
        Err(ApplyFailure::Store(e)) => Err(HandlerError::Store(e)),
        Err(refused) => Err(HandlerError::Refused(refused.to_string())),
    }
}
