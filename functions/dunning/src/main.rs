//! `dunning`: the hourly run. Wires the clients once, then hands every
//! Scheduled Event to `pastdue_shared::handlers::dunning`.

use lambda_runtime::{LambdaEvent, service_fn};
use pastdue_shared::adapters::bus::{AnyBus, InlineBus};
use pastdue_shared::adapters::dynamodb::{DynamoDueIndex, DynamoStore};
use pastdue_shared::adapters::stripe_api::StripeInvoices;
use pastdue_shared::config::{self, TableName};
use pastdue_shared::handlers::HandlerError;
use pastdue_shared::handlers::dunning::{self, Dunning, LambdaDeadline};
use pastdue_shared::processors::stripe::mapping::read_delivery;
use pastdue_shared::services::cutoff::CutOffCheck;
use pastdue_shared::services::daily_run::CheckedRuns;
use pastdue_shared::services::{Accounts, digest};
use pastdue_shared::{runtime, telemetry};
use serde_json::Value;

/// Time kept back from the Lambda deadline to finish accounts in flight.
const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(20);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let table = TableName::from_env()?;
    let config = runtime::aws_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let policy = runtime::policy_from_env()?;
    let run_hour = policy.run_hour;
    // With `STAFF_TIMEZONE`, the run of the staff's `run_hour` also sends
    // them the morning digest.
    let morning = config::staff_timezone()?.map(|tz| digest::Morning::new(tz, &policy));
    let store = DynamoStore::new(client.clone(), table.clone(), policy);
    let accounts = Accounts::new(store.clone(), store.shared_policy());
    // With Stripe's API configured (`STRIPE_API_KEY_PARAM`), every cut-off
    // is first confirmed with Stripe; what Stripe knew and pastdue did not
    // is applied here, in this process, before the run decides again.
    let check = config::stripe_api(|k| std::env::var(k).ok(), &config)
        .await?
        .map(|api| {
            CutOffCheck::new(
                StripeInvoices { api },
                store.clone(),
                accounts.clone(),
                InlineBus::new(runtime::applier(store.clone(), &config)),
                read_delivery,
            )
        });
    let deps = Dunning {
        due: DynamoDueIndex::new(client, table),
        runs: CheckedRuns { accounts, check },
        bus: AnyBus::from_env((), &config),
        store,
        run_hour,
        shard_parallelism: runtime::parallelism_from_env("DUNNING_SHARD_PARALLELISM", 4)?,
        account_parallelism: runtime::parallelism_from_env("DUNNING_ACCOUNT_PARALLELISM", 8)?,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let deps = &deps;
        async move {
            let now = dunning::scheduled_time(&event.payload)?;
            let deadline = LambdaDeadline::from_context(event.context.deadline, DEADLINE_MARGIN);
            let report = dunning::run(deps, now, &deadline).await?;
            if let Some(morning) = &morning {
                let policy = deps.store.policy();
                digest::send_if_due(&deps.due, &deps.store, &deps.bus, policy, morning, now)
                    .await
                    .map_err(HandlerError::from)?;
            }
            Ok::<_, HandlerError>(report)
        }
    }))
    .await
}
