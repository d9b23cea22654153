//! `notifier`: action messages and SES feedback from the bus become emails
//! through SES v2; unreachable contacts are reported on the bus. Builds the
//! store, SES client, bus and templates once, then
//! hands every event to `pastdue_shared::handlers::notifier`.

use lambda_runtime::{LambdaEvent, service_fn};
use pastdue_shared::adapters::dynamodb::DynamoStore;
use pastdue_shared::adapters::ses::SesMailer;
use pastdue_shared::config::TableName;
use pastdue_shared::handlers::notifier::{self, Notifier};
use pastdue_shared::notify::render::Templates;
use pastdue_shared::services::ReportUndeliverable;
use pastdue_shared::{runtime, telemetry};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let mut settings = runtime::MailSettings::from_env()?;
    let table = TableName::from_env()?;
    let config = runtime::aws_config().await;
    // With `PORTAL_URL`, reminders carry each contact's signed page link.
    // Without its secret the emails still go out, without the link (and
    // an alarm says so).
    settings.links.portal = notifier::portal_links(|k| std::env::var(k).ok(), &config).await;
    let policy = runtime::policy_from_env()?;
    let templates = Templates::new(settings.links, &policy)?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table, policy);
    let deps = Notifier {
        marks: ReportUndeliverable {
            contacts: store.clone(),
            bus: runtime::event_bus(store.clone(), &config),
        },
        store,
        mail: SesMailer::new(
            aws_sdk_sesv2::Client::new(&config),
            settings.sender,
            settings.configuration_set,
        ),
        templates,
        staff: settings.staff,
        lease: chrono::Duration::minutes(10),
    };
    // Boxed: the handler's future is deep, and its layout would otherwise
    // be computed inside `main`.
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let deps = &deps;
        Box::pin(async move { notifier::handle(deps, &event.payload, chrono::Utc::now()).await })
    }))
    .await
}
