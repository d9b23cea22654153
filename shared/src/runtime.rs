//! Lambda runtime glue shared by the function binaries.

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::handlers::HandlerError;

/// The AWS SDK configuration from the standard sources (environment,
/// profile, instance role). Endpoints come from there too
/// (`AWS_ENDPOINT_URL_<SERVICE>`), never from a custom flag.
pub async fn aws_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// Runs a per-kind handler function: builds the store once, then applies
/// every bus event routed to `function` (see [`crate::routing`]).
pub async fn serve_event_handler(function: &'static str) -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    let route =
        crate::routing::route(function).ok_or_else(|| format!("no route for {function}"))?;
    let table = crate::config::TableName::from_env()?;
    let config = aws_config().await;
    let store = crate::adapters::dynamodb::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
        policy_from_env()?,
    );
    // Actions the events cause go on the bus EVENT_BUS names.
    let bus = crate::adapters::bus::AnyBus::from_env(store.clone(), &config);
    // Boxed: the apply future is deep, and its layout would otherwise be
    // computed inside every binary's `main`.
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        Box::pin(crate::handlers::events::handle_bus_event(
            &store,
            &bus,
            route,
            event.payload,
        ))
    }))
    .await
}

/// Runs a function whose handling is not built yet: it starts the runtime
/// and answers every invocation with a permanent `NotBuilt` error, so no
/// event is acknowledged as handled when it was not.
pub async fn serve_not_built(function: &'static str) -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let detail_type = event.payload.get("detail-type").and_then(Value::as_str);
        tracing::warn!(function, request_id = %event.context.request_id, ?detail_type, "event refused: handler not built yet");
        Err::<Value, _>(HandlerError::NotBuilt { function })
    }))
    .await
}

/// Seconds since the Unix epoch, for signature tolerance checks.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The dunning policy: `PASTDUE_POLICY` names a TOML file, else the default.
pub fn policy_from_env() -> Result<crate::domain::Policy, crate::config::ConfigError> {
    use crate::config::ConfigError;
    match std::env::var("PASTDUE_POLICY") {
        Err(_) => Ok(crate::domain::Policy::default()),
        Ok(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                name: "PASTDUE_POLICY",
                reason: format!("cannot read {path}: {e}"),
            })?;
            crate::domain::Policy::from_toml(&text).map_err(|e| ConfigError::Invalid {
                name: "PASTDUE_POLICY",
                reason: e.to_string(),
            })
        }
    }
}

/// A positive count from the environment (bounded concurrency), else `default`.
pub fn parallelism_from_env(
    name: &'static str,
    default: usize,
) -> Result<usize, crate::config::ConfigError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=256).contains(n))
            .ok_or(crate::config::ConfigError::Invalid {
                name,
                reason: "expected a number from 1 to 256".into(),
            }),
    }
}
