//! Applying one canonical event: the path the per-kind handler functions and
//! `pastdue events apply` share.

use tracing::Instrument;

use crate::domain::Event;
use crate::ports::{ApplyEvents, ApplyFailure, ApplyOutcome};

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
