//! `reconcile`: every 15 minutes, Stripe's events since the checkpoint,
//! through the webhook's own path. Wires the clients once, then hands every
//! Scheduled Event to `pastdue_shared::handlers::reconcile`.

use lambda_runtime::{LambdaEvent, service_fn};
use pastdue_shared::adapters::dynamodb::DynamoStore;
use pastdue_shared::adapters::stripe_api::StripeEvents;
use pastdue_shared::config::{self, ConfigError, TableName};
use pastdue_shared::handlers::dunning::{self, LambdaDeadline};
use pastdue_shared::handlers::reconcile::{self, Reconcile, STRIPE_TYPES};
use pastdue_shared::services::Accounts;
use pastdue_shared::{runtime, telemetry};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let table = TableName::from_env()?;
    let config = runtime::aws_config().await;
    let api = config::stripe_api(|k| std::env::var(k).ok(), &config)
        .await?
        .ok_or(ConfigError::Missing {
            name: "STRIPE_API_KEY_PARAM",
        })?;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
        runtime::policy_from_env()?,
    );
    let deps = Reconcile {
        accounts: Accounts::new(store.clone(), store.shared_policy()),
        bus: runtime::event_bus(store.clone(), &config),
        store,
        log: StripeEvents {
            api,
            types: STRIPE_TYPES.iter().map(|t| (*t).to_owned()).collect(),
        },
        settings: config::reconcile_settings(|k| std::env::var(k).ok())?,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let deps = &deps;
        async move {
            let now = dunning::scheduled_time(&event.payload)?;
            // The run keeps its own margin for the page in flight
            // (`Settings::margin`), so none is taken here.
            let deadline =
                LambdaDeadline::from_context(event.context.deadline, std::time::Duration::ZERO);
            reconcile::run(deps, now.timestamp(), deadline.stop_at).await
        }
    }))
    .await
}
