//! Bus adapters. `InlineBus` applies each canonical event in-process through
//! the same path the per-kind handler functions run (`apply_event`), so a
//! webhook's effects are visible when it returns: for tests and one-process
//! setups (`EVENT_BUS=inline`).

use crate::domain::Event;
use crate::handlers::events::apply_event;
use crate::ports::{ApplyEvents, ApplyFailure, ApplyOutcome, Publish, PublishError};

#[derive(Debug, Clone)]
pub struct InlineBus<S> {
    store: S,
}

impl<S> InlineBus<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }
}

impl<S: ApplyEvents> Publish for InlineBus<S> {
    async fn publish(
        &self,
        _source: &str,
        events: &[Event],
    ) -> Result<Vec<Option<ApplyOutcome>>, PublishError> {
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            match apply_event(&self.store, event).await {
                Ok(outcome) => outcomes.push(Some(outcome)),
                Err(e @ ApplyFailure::Store(_)) if e.is_retryable() => {
                    return Err(PublishError::Unavailable(e.to_string()));
                }
                Err(e) => return Err(PublishError::Refused(e.to_string())),
            }
        }
        Ok(outcomes)
    }
}
