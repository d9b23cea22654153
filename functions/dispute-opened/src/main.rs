//! `dispute-opened`: applies the canonical events the bus routes here
//! (`pastdue_shared::routing`), exactly once, through the store.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pastdue_shared::runtime::serve_event_handler("dispute-opened").await
}
