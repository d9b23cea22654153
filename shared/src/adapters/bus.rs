//! Bus adapters, chosen by `EVENT_BUS`:
//! - an EventBridge bus name: `PutEvents` (AWS);
//! - `local`: invokes the routed function synchronously through the Lambda
//!   Invoke API that `cargo lambda watch` serves (`AWS_ENDPOINT_URL_LAMBDA`);
//! - `none`: records (logs) the events and delivers nothing;
//! - `inline`: applies each event in this process through the same path the
//!   per-kind handler functions run (tests, one-process setups).

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_lambda::primitives::Blob;
use serde_json::{Value, json};

use crate::domain::Event;
use crate::handlers::events::apply_event;
use crate::ports::{ApplyEvents, ApplyFailure, ApplyOutcome, Publish, PublishError};
use crate::routing::ROUTES;

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

/// The EventBridge envelope a rule delivers to a function.
pub fn bus_envelope(source: &str, event: &Event) -> Value {
    json!({
        "version": "0",
        "id": event.id,
        "detail-type": event.kind.type_name(),
        "source": source,
        "account": "000000000000",
        "time": event.at.to_rfc3339(),
        "region": "local",
        "resources": [],
        "detail": event.to_json(),
    })
}

/// `PutEvents` to an EventBridge bus, at most 10 entries a call.
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeBus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: String) -> Self {
        Self { client, bus }
    }
}

impl Publish for EventBridgeBus {
    async fn publish(
        &self,
        source: &str,
        events: &[Event],
    ) -> Result<Vec<Option<ApplyOutcome>>, PublishError> {
        for chunk in events.chunks(10) {
            let entries = chunk
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(source)
                        .detail_type(e.kind.type_name())
                        .detail(e.to_json().to_string())
                        .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
                            e.at.timestamp(),
                        ))
                        .build()
                })
                .collect();
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    PublishError::Unavailable(
                        aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string(),
                    )
                })?;
            if out.failed_entry_count() > 0 {
                return Err(PublishError::Unavailable(format!(
                    "{} of {} events not accepted by the bus",
                    out.failed_entry_count(),
                    chunk.len()
                )));
            }
        }
        Ok(vec![None; events.len()])
    }
}

/// Delivers each event to its routed function through the Lambda Invoke API,
/// synchronously, so state is visible when the webhook returns.
#[derive(Debug, Clone)]
pub struct LocalBus {
    client: aws_sdk_lambda::Client,
}

impl LocalBus {
    pub fn new(client: aws_sdk_lambda::Client) -> Self {
        Self { client }
    }
}

impl Publish for LocalBus {
    async fn publish(
        &self,
        source: &str,
        events: &[Event],
    ) -> Result<Vec<Option<ApplyOutcome>>, PublishError> {
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            let route = ROUTES
                .iter()
                .find(|r| r.types.contains(&event.kind.type_name()))
                .ok_or_else(|| {
                    PublishError::Refused(format!("no function handles {}", event.kind.type_name()))
                })?;
            let out = self
                .client
                .invoke()
                .function_name(route.function)
                .payload(Blob::new(bus_envelope(source, event).to_string()))
                .send()
                .await
                .map_err(|e| {
                    PublishError::Unavailable(
                        aws_sdk_lambda::error::DisplayErrorContext(&e).to_string(),
                    )
                })?;
            let reply: Value = out
                .payload()
                .and_then(|p| serde_json::from_slice(p.as_ref()).ok())
                .unwrap_or(Value::Null);
            if out.function_error().is_some() {
                let kind = reply
                    .get("errorType")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let message = reply
                    .get("errorMessage")
                    .and_then(Value::as_str)
                    .unwrap_or("function error")
                    .to_owned();
                return Err(match kind {
                    "Refused" | "BadEvent" => PublishError::Refused(message),
                    _ => PublishError::Unavailable(message),
                });
            }
            outcomes.push(match reply.get("outcome").and_then(Value::as_str) {
                Some("applied") => Some(ApplyOutcome::Applied(Vec::new())),
                Some("no_effect") => Some(ApplyOutcome::NoEffect),
                Some("duplicate") => Some(ApplyOutcome::Duplicate),
                _ => None,
            });
        }
        Ok(outcomes)
    }
}

/// `EVENT_BUS=none`: logs what would be published.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoneBus;

impl Publish for NoneBus {
    async fn publish(
        &self,
        source: &str,
        events: &[Event],
    ) -> Result<Vec<Option<ApplyOutcome>>, PublishError> {
        for e in events {
            tracing::info!(source, event_id = %e.id, account = %e.account, event_type = e.kind.type_name(), "recorded, not published (EVENT_BUS=none)");
        }
        Ok(vec![None; events.len()])
    }
}

/// The bus `EVENT_BUS` names, built once at init.
#[derive(Debug, Clone)]
pub enum AnyBus<S> {
    Inline(InlineBus<S>),
    Local(LocalBus),
    EventBridge(EventBridgeBus),
    None(NoneBus),
}

impl<S> AnyBus<S> {
    /// `inline` (the default when unset), `local`, `none`, or an EventBridge bus name.
    pub fn from_env(store: S, config: &aws_config::SdkConfig) -> Self {
        match std::env::var("EVENT_BUS").as_deref() {
            Err(_) | Ok("") | Ok("inline") => Self::Inline(InlineBus::new(store)),
            Ok("local") => Self::Local(LocalBus::new(aws_sdk_lambda::Client::new(config))),
            Ok("none") => Self::None(NoneBus),
            Ok(name) => Self::EventBridge(EventBridgeBus::new(
                aws_sdk_eventbridge::Client::new(config),
                name.to_owned(),
            )),
        }
    }
}

impl<S: ApplyEvents> Publish for AnyBus<S> {
    async fn publish(
        &self,
        source: &str,
        events: &[Event],
    ) -> Result<Vec<Option<ApplyOutcome>>, PublishError> {
        match self {
            Self::Inline(b) => b.publish(source, events).await,
            Self::Local(b) => b.publish(source, events).await,
            Self::EventBridge(b) => b.publish(source, events).await,
            Self::None(b) => b.publish(source, events).await,
        }
    }
}
