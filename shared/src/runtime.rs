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
