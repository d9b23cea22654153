//! Bus adapters, chosen by `EVENT_BUS`:
//! - an EventBridge bus name: `PutEvents` (AWS);
//! - `local`: invokes the routed function synchronously through the Lambda
//!   Invoke API that `cargo lambda watch` serves (`AWS_ENDPOINT_URL_LAMBDA`);
//! - `none`: records (logs) the events and delivers nothing;
//! - `inline`: applies each event in this process through the applier it is
//!   given ([`crate::services::Applier`]: the path the per-kind handler
//!   functions run), for tests and one-process setups.
//!
//! [`AnyBus<A>`]'s `A` is that in-process applier; a process that only
//! publishes actions uses `AnyBus<()>`.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_lambda::primitives::Blob;
use serde_json::{Value, json};

use crate::domain::{ActionMessage, ApplyOutcome, Event};
use crate::ports::{ApplyEvents, ApplyFailure, Publish, PublishActions, PublishError};
use crate::routing::{ACTION_ROUTES, ROUTES};

/// The bus `source` of action messages.
pub const ACTION_SOURCE: &str = "pastdue.engine";

#[derive(Debug, Clone)]
pub struct InlineBus<A> {
    applier: A,
}

impl<A> InlineBus<A> {
    pub fn new(applier: A) -> Self {
        Self { applier }
    }
}

impl<A: ApplyEvents> Publish for InlineBus<A> {
    async fn publish(
        &self,
        _source: &str,
        events: &[Event],
    ) -> Result<Vec<Option<ApplyOutcome>>, PublishError> {
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            match self.applier.apply(event).await {
                Ok(outcome) => outcomes.push(Some(outcome)),
                Err(e @ (ApplyFailure::Store(_) | ApplyFailure::Bus(_))) if e.is_retryable() => {
                    return Err(PublishError::Unavailable(e.to_string()));
                }
                Err(e) => return Err(PublishError::Refused(e.to_string())),
            }
        }
        Ok(outcomes)
    }
}

/// No function runs in this process to receive actions: they are logged,
/// and stay in each account's timeline.
impl<A: Send + Sync> PublishActions for InlineBus<A> {
    async fn publish_actions(&self, messages: &[ActionMessage]) -> Result<(), PublishError> {
        log_unsent(
            messages,
            "no bus in this process (EVENT_BUS unset or inline)",
        );
        Ok(())
    }
}

fn log_unsent(messages: &[ActionMessage], why: &str) {
    for m in messages {
        tracing::info!(account = %m.account, action = m.action, message_id = m.id, why, "action recorded, not published");
    }
}

/// One message for the bus: what `PutEvents` takes and a rule delivers.
struct BusEntry<'a> {
    id: &'a str,
    source: &'a str,
    detail_type: &'a str,
    time: chrono::DateTime<chrono::Utc>,
    detail: Value,
}

impl<'a> BusEntry<'a> {
    fn event(source: &'a str, event: &'a Event) -> Self {
        Self {
            id: event.id.as_str(),
            source,
            detail_type: event.kind.type_name(),
            time: event.at,
            detail: event.to_json(),
        }
    }

    fn action(message: &'a ActionMessage) -> Self {
        let time = message
            .date
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default();
        Self {
            id: message.id.as_str(),
            source: ACTION_SOURCE,
            detail_type: message.action.as_str(),
            time,
            detail: message.to_json(),
        }
    }

    /// The EventBridge event a rule delivers to a function.
    fn to_json(&self) -> Value {
        json!({
            "version": "0",
            "id": self.id,
            "detail-type": self.detail_type,
            "source": self.source,
            "account": "000000000000",
            "time": self.time.to_rfc3339(),
            "region": "local",
            "resources": [],
            "detail": self.detail,
        })
    }
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

impl EventBridgeBus {
    async fn put(&self, envelopes: &[BusEntry<'_>]) -> Result<(), PublishError> {
        for chunk in envelopes.chunks(10) {
            let entries = chunk
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(e.source)
                        .detail_type(e.detail_type)
                        .detail(e.detail.to_string())
                        .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
                            e.time.timestamp(),
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
        Ok(())
    }
}

impl Publish for EventBridgeBus {
    async fn publish(
        &self,
        source: &str,
        events: &[Event],
    ) -> Result<Vec<Option<ApplyOutcome>>, PublishError> {
        let envelopes: Vec<BusEntry> = events.iter().map(|e| BusEntry::event(source, e)).collect();
        self.put(&envelopes).await?;
        Ok(vec![None; events.len()])
    }
}

impl PublishActions for EventBridgeBus {
    async fn publish_actions(&self, messages: &[ActionMessage]) -> Result<(), PublishError> {
        let envelopes: Vec<BusEntry> = messages.iter().map(BusEntry::action).collect();
        self.put(&envelopes).await
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

impl LocalBus {
    /// Invokes `function` with the envelope, as a rule target would be;
    /// returns the function's reply.
    async fn invoke(&self, function: &str, envelope: &BusEntry<'_>) -> Result<Value, PublishError> {
        let out = self
            .client
            .invoke()
            .function_name(function)
            .payload(Blob::new(envelope.to_json().to_string()))
            .send()
            .await
            .map_err(|e| {
                let hint = if matches!(e, aws_sdk_lambda::error::SdkError::DispatchFailure(_)) {
                    "nothing serves the Lambda Invoke API at AWS_ENDPOINT_URL_LAMBDA: start \
                     `cargo lambda watch` (EVENT_BUS=local), or set EVENT_BUS=inline to apply \
                     in this process; "
                } else {
                    ""
                };
                PublishError::Unavailable(format!(
                    "{hint}invoking {function}: {}",
                    aws_sdk_lambda::error::DisplayErrorContext(&e)
                ))
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
        Ok(reply)
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
            let reply = self
                .invoke(route.function, &BusEntry::event(source, event))
                .await?;
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

/// Every function whose rule matches an action receives it (none, one or
/// several: the notifier, and in AWS any downstream subscriber).
impl PublishActions for LocalBus {
    async fn publish_actions(&self, messages: &[ActionMessage]) -> Result<(), PublishError> {
        for message in messages {
            let envelope = BusEntry::action(message);
            let routes = ACTION_ROUTES
                .iter()
                .filter(|r| r.types.contains(&message.action.as_str()));
            for route in routes {
                self.invoke(route.function, &envelope).await?;
            }
        }
        Ok(())
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

impl PublishActions for NoneBus {
    async fn publish_actions(&self, messages: &[ActionMessage]) -> Result<(), PublishError> {
        log_unsent(messages, "EVENT_BUS=none");
        Ok(())
    }
}

/// The bus `EVENT_BUS` names, built once at init.
#[derive(Debug, Clone)]
pub enum AnyBus<A> {
    Inline(InlineBus<A>),
    Local(LocalBus),
    EventBridge(EventBridgeBus),
    None(NoneBus),
}

impl<A> AnyBus<A> {
    /// `inline` (the default when unset), `local`, `none`, or an EventBridge
    /// bus name; `applier` applies events when the bus is `inline`.
    pub fn from_env(applier: A, config: &aws_config::SdkConfig) -> Self {
        match crate::config::event_bus().as_str() {
            "inline" => Self::Inline(InlineBus::new(applier)),
            "local" => Self::Local(LocalBus::new(aws_sdk_lambda::Client::new(config))),
            "none" => Self::None(NoneBus),
            name => Self::EventBridge(EventBridgeBus::new(
                aws_sdk_eventbridge::Client::new(config),
                name.to_owned(),
            )),
        }
    }
}

impl<A: Send + Sync> PublishActions for AnyBus<A> {
    async fn publish_actions(&self, messages: &[ActionMessage]) -> Result<(), PublishError> {
        match self {
            Self::Inline(b) => b.publish_actions(messages).await,
            Self::Local(b) => b.publish_actions(messages).await,
            Self::EventBridge(b) => b.publish_actions(messages).await,
            Self::None(b) => b.publish_actions(messages).await,
        }
    }
}

impl<A: ApplyEvents> Publish for AnyBus<A> {
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
