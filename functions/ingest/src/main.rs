//! `ingest`: the webhook endpoint (Lambda Function URL). Builds the processor
//! registry, store and bus once, then hands every request to
//! `pastdue_shared::handlers::ingest`.

use lambda_http::{Request, service_fn};
use pastdue_shared::adapters::dynamodb::DynamoStore;
use pastdue_shared::adapters::stripe_api::StripeThin;
use pastdue_shared::config::{self, IngestSettings, TableName};
use pastdue_shared::handlers::ingest::{self, Ingest};
use pastdue_shared::processors::Processors;
use pastdue_shared::services::Accounts;
use pastdue_shared::{runtime, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = runtime::aws_config().await;
    let processors = Processors::from_settings(&IngestSettings::from_env(&config).await?)?;
    let table = TableName::from_env()?;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
        runtime::policy_from_env()?,
    );
    // With a Stripe API key (`STRIPE_API_KEY_PARAM`), thin events are
    // read whole through the API; without one they are refused, saying so.
    let thin = config::stripe_api(|k| std::env::var(k).ok(), &config)
        .await?
        .map(|api| StripeThin { api });
    let deps = Ingest {
        processors,
        accounts: Accounts::new(store.clone(), store.shared_policy()),
        bus: runtime::event_bus(store.clone(), &config),
        store,
        thin,
    };
    lambda_http::run(service_fn(|request: Request| {
        let deps = &deps;
        async move {
            Ok::<_, std::convert::Infallible>(
                ingest::handle(deps, &request, runtime::unix_now()).await,
            )
        }
    }))
    .await
}
