//! A per-kind handler function's boundary: one bus event in, applied
//! through [`crate::services::Applier`] exactly once.

use serde_json::{Value, json};

use super::HandlerError;
use crate::domain::Event;
use crate::ports::{ApplyEvents, ApplyFailure, ApplyOutcome};
use crate::routing::Route;

/// A per-kind handler function: the bus delivers an EventBridge event whose
/// `detail` is one canonical event and whose `detail-type` is its `type`.
/// Applies it exactly once; a retryable failure is returned as an error so
/// the bus redelivers, a permanent one is refused.
pub async fn handle_bus_event<A: ApplyEvents>(
    applier: &A,
    route: &Route,
    payload: Value,
) -> Result<Value, HandlerError> {
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
    match applier.apply(&event).await {
        Ok(outcome) => {
            let actions: Vec<&str> = match &outcome {
                ApplyOutcome::Applied(actions) => actions.iter().map(|a| a.kind.as_str()).collect(),
                _ => Vec::new(),
            };
            Ok(json!({ "outcome": outcome.as_str(), "event": event.id, "actions": actions }))
        }
        Err(ApplyFailure::Store(e)) => Err(HandlerError::Store(e)),
        Err(ApplyFailure::Bus(e)) => Err(HandlerError::Bus(e)),
        Err(refused) => Err(HandlerError::Refused(refused.to_string())),
    }
}
