//! `dunning`: the scheduled run. Wires the clients once, then hands every
//! Scheduled Event to `pastdue_shared::handlers::dunning`.

use lambda_runtime::{LambdaEvent, service_fn};
use pastdue_shared::adapters::dynamodb::DynamoDueIndex;
use pastdue_shared::config::TableName;
use pastdue_shared::{handlers, runtime, telemetry};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let table = TableName::from_env()?;
    let config = runtime::aws_config().await;
    let due = DynamoDueIndex::new(aws_sdk_dynamodb::Client::new(&config), table);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        handlers::dunning::handle(&due, event.payload)
    }))
    .await
}
