//! Lambda runtime glue shared by the function binaries. The settings they
//! read live in [`crate::config`] (re-exported here for the mains).

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::adapters::bus::AnyBus;
use crate::adapters::dynamodb::DynamoStore;
use crate::services::{Accounts, Applier};

pub use crate::config::{MailSettings, parallelism_from_env, policy_from_env};

/// The AWS SDK configuration from the standard sources (environment,
/// profile, instance role). Endpoints come from there too
/// (`AWS_ENDPOINT_URL_<SERVICE>`), never from a custom flag.
pub async fn aws_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// The path every canonical event takes in this process: applied exactly
/// once through the store, its actions put on the bus `EVENT_BUS` names.
pub type StoreApplier = Applier<DynamoStore, AnyBus<()>>;

/// The [`StoreApplier`] over `store` (deciding with the store's policy).
pub fn applier(store: DynamoStore, config: &SdkConfig) -> StoreApplier {
    Applier {
        accounts: Accounts::new(store.clone(), store.shared_policy()),
        bus: AnyBus::from_env((), config),
    }
}

/// The bus canonical events are published on (`EVENT_BUS`); when it is
/// `inline`, they are applied in this process through [`applier`].
pub fn event_bus(store: DynamoStore, config: &SdkConfig) -> AnyBus<StoreApplier> {
    AnyBus::from_env(applier(store, config), config)
}

/// Runs a per-kind handler function: builds the store and the applier once,
/// then applies every bus event routed to `function` (see
/// [`crate::routing`]).
pub async fn serve_event_handler(function: &'static str) -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    let route =
        crate::routing::route(function).ok_or_else(|| format!("no route for {function}"))?;
    let table = crate::config::TableName::from_env()?;
    let config = aws_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
        policy_from_env()?,
    );
    let applier = applier(store, &config);
    // Boxed: the apply future is deep, and its layout would otherwise be
    // computed inside every binary's `main`.
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        Box::pin(crate::handlers::events::handle_bus_event(
            &applier,
            route,
            event.payload,
        ))
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
