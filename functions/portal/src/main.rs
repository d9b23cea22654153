//! `portal`: the customer page (its own Lambda Function URL). Reads its
//! secret, builds the store, bus, Stripe client and templates once, then
//! hands every request to `pastdue_shared::handlers::portal`.

use lambda_http::{Request, service_fn};
use pastdue_shared::adapters::dynamodb::DynamoStore;
use pastdue_shared::config::{self, TableName};
use pastdue_shared::handlers::portal::{self, PortalHttp};
use pastdue_shared::portal::page::Pages;
use pastdue_shared::portal::service::Portal;
use pastdue_shared::{runtime, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = runtime::aws_config().await;
    let var = |k: &str| std::env::var(k).ok();
    let secrets = config::portal_secrets(var, &config).await?;
    let (contact, links) = config::page_settings()?;
    let policy = runtime::policy_from_env()?;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        TableName::from_env()?,
        policy.clone(),
    );
    // With a Stripe API key, "Update card" opens Stripe's customer portal.
    let cards = config::stripe_api(var, &config).await?;
    let pages = Pages::new(contact, cards.is_some(), &links.card_url)?;
    let deps = PortalHttp {
        portal: Portal {
            accounts: store.clone(),
            bus: runtime::event_bus(store, &config),
            cards,
            secrets,
            policy,
            links,
        },
        pages,
    };
    lambda_http::run(service_fn(|request: Request| {
        let deps = &deps;
        async move {
            Ok::<_, std::convert::Infallible>(
                portal::handle(deps, &request, chrono::Utc::now()).await,
            )
        }
    }))
    .await
}
