//! `ingest`: the webhook endpoint (Lambda Function URL). Hands every request
//! to `pastdue_shared::handlers::ingest`.

use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    pastdue_shared::telemetry::init();
    lambda_http::run(service_fn(|request: Request| async move {
        Ok::<_, std::convert::Infallible>(pastdue_shared::handlers::ingest::handle(&request))
    }))
    .await
}
