//! `dispute-opened`: applies dispute_opened events. Its handling is not built yet; it
//! starts the Lambda runtime and refuses every event with a permanent error.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pastdue_shared::runtime::serve_not_built("dispute-opened").await
}
