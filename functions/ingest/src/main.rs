//! `ingest`: the webhook endpoint (Lambda Function URL). Builds the processor
//! registry, store, bus and processor API clients once, then hands every
//! request to `pastdue_shared::handlers::ingest`.

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
    let env = |k: &str| std::env::var(k).ok();
    let settings = IngestSettings::from_env(&config).await?;
    let processors = Processors::from_settings(&settings)?;
    let table = TableName::from_env()?;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
        runtime::policy_from_env()?,
    );
    // With a Stripe API key (`STRIPE_API_KEY_PARAM`), thin events are
    // read whole through the API; without one they are refused, saying so.
    let thin = config::stripe_api(env, &config)
        .await?
        .map(|api| StripeThin { api });
    // GoCardless's events name payments without amounts: its webhook needs
    // its API (`GOCARDLESS_ACCESS_TOKEN_PARAM`).
    let objects = config::gocardless_api(env, &config).await?;
    if settings.webhook_secret("gocardless").is_some() && objects.is_none() {
        return Err(format!(
            "GoCardless webhooks are configured without {}: its events cannot be read",
            config::GOCARDLESS_ACCESS_TOKEN.param
        )
        .into());
    }
    let deps = Ingest {
        processors,
        accounts: Accounts::new(store.clone(), store.shared_policy()),
        bus: runtime::event_bus(store.clone(), &config),
        store,
        thin,
        certificates: config::paypal_certificates(env)?,
        objects,
        // PayPal's deliveries are verified offline against its certificate,
        // or through its API when `PAYPAL_VERIFY=api`.
        remote: config::paypal_verify_api(env, &config).await?,
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
