//! `notifier`: emails the recipients of each action through SES v2. Its handling is not built yet; it
//! starts the Lambda runtime and refuses every event with a permanent error.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pastdue_shared::runtime::serve_not_built("notifier").await
}
