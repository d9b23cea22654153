//! Shared helpers for the integration tests: the local stack's configuration
//! and a fresh table per test, created from `infra/template.yaml`.

#![allow(dead_code)] // each test target uses a different subset

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_config::SdkConfig;
use pastdue_shared::adapters::bus::InlineBus;
use pastdue_shared::adapters::dynamodb::DynamoStore;
use pastdue_shared::adapters::dynamodb::schema::{TableSchema, TableSetup, ensure_table};
use pastdue_shared::config::TableName;
use pastdue_shared::domain::{ApplyOutcome, Event};
use pastdue_shared::ports::{ApplyFailure, PublishActions};
use pastdue_shared::services::{Accounts, Applier};

pub const HOW_TO_START: &str = "the integration tests need the local stack: run `make test`, \
    or `make stack` and then `eval \"$(make env)\"` in this shell before `cargo test`";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The loopback address behind an endpoint variable; fails loudly (never
/// skips) when it is unset, not on this machine, or nothing answers there.
pub fn local_endpoint(var: &str) -> String {
    let url = std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set; {HOW_TO_START}"));
    let host_port = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{var}={url} is not a local http endpoint; {HOW_TO_START}"))
        .trim_end_matches('/');
    let addrs: Vec<SocketAddr> = host_port
        .to_socket_addrs()
        .unwrap_or_else(|e| panic!("{var}={url}: {e}; {HOW_TO_START}"))
        .collect();
    assert!(
        !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()),
        "{var}={url} is not a loopback address: tests only ever talk to the local stack"
    );
    let reachable = addrs
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_secs(2)).is_ok());
    assert!(reachable, "nothing answers at {var}={url}; {HOW_TO_START}");
    url
}

/// SDK configuration for the local stack, after checking it is there.
pub async fn sdk_config() -> SdkConfig {
    local_endpoint("AWS_ENDPOINT_URL_DYNAMODB");
    local_endpoint("AWS_ENDPOINT_URL_SESV2");
    pastdue_shared::runtime::aws_config().await
}

pub fn schema() -> TableSchema {
    TableSchema::from_template_file(&repo_root().join("infra/template.yaml"))
        .expect("infra/template.yaml defines the table")
}

/// A name no other test (or earlier run) uses.
pub fn unique_table_name(label: &str) -> TableName {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let name = format!(
        "t-{label}-{}-{}-{nanos}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    TableName::parse(&name).expect("valid table name")
}

/// A new, empty table with the template's schema.
pub async fn fresh_table(label: &str) -> (aws_sdk_dynamodb::Client, TableName) {
    let config = sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = unique_table_name(label);
    let setup = ensure_table(&client, &table, &schema())
        .await
        .unwrap_or_else(|e| panic!("creating {table}: {e}"));
    assert_eq!(setup, TableSetup::Created);
    (client, table)
}

/// Every email the SES emulator (moto) has accepted, oldest first: objects
/// with `id`, `source`, `destinations`, `subject` and `body` (the HTML part
/// when there is one).
pub fn ses_messages(endpoint: &str) -> Vec<serde_json::Value> {
    let data: serde_json::Value = ureq::get(&format!("{endpoint}/moto-api/data.json"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The emails the emulator accepted for `address`.
pub fn ses_messages_to(endpoint: &str, address: &str) -> Vec<serde_json::Value> {
    ses_messages(endpoint)
        .into_iter()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|to| to.iter().any(|a| a == address))
        })
        .collect()
}

/// The account use cases over `store`, deciding with its policy.
pub fn accounts(store: &DynamoStore) -> Accounts<DynamoStore> {
    Accounts::new(store.clone(), store.shared_policy())
}

/// Applies `event` exactly once and publishes its actions on `bus`: the
/// path every canonical event takes.
pub async fn apply_and_announce<B: PublishActions>(
    store: &DynamoStore,
    bus: &B,
    event: &Event,
) -> Result<ApplyOutcome, ApplyFailure> {
    Applier {
        accounts: accounts(store),
        bus,
    }
    .apply_and_announce(event)
    .await
}

/// What the per-kind functions run, in this process: events applied through
/// the store, their actions logged (nothing serves them here).
pub type InlineApplier = Applier<DynamoStore, InlineBus<()>>;

/// A bus that applies every event it is given right here, as the routed
/// function would in AWS.
pub fn inline_bus(store: &DynamoStore) -> InlineBus<InlineApplier> {
    InlineBus::new(Applier {
        accounts: accounts(store),
        bus: InlineBus::new(()),
    })
}

/// A `/_test/<what>` control request to the loopback Stripe API
/// (`dev/stripe_api.py`) for the Stripe account of `key`: sets its events,
/// invoices, invoice payments or faults.
pub fn stripe_api_set(key: &str, what: &str, body: &serde_json::Value) {
    ureq::post(&format!(
        "{}/_test/{what}",
        local_endpoint("STRIPE_API_BASE")
    ))
    .header("Authorization", &format!("Bearer {key}"))
    .send_json(body)
    .unwrap_or_else(|e| panic!("/_test/{what}: {e}"));
}

/// What the loopback Stripe API was asked for `key`'s account, in order:
/// each request's method, path, query and `Stripe-Version`.
pub fn stripe_api_requests(key: &str) -> Vec<serde_json::Value> {
    let answer: serde_json::Value = ureq::get(&format!(
        "{}/_test/requests",
        local_endpoint("STRIPE_API_BASE")
    ))
    .header("Authorization", &format!("Bearer {key}"))
    .call()
    .unwrap()
    .body_mut()
    .read_json()
    .unwrap();
    answer.as_array().unwrap().clone()
}

/// Stripe's event log of `key`'s account on the loopback API, listing
/// `types`, as the `reconcile` function reads it.
pub fn stripe_events(
    key: &str,
    types: &[&str],
) -> pastdue_shared::adapters::stripe_api::StripeEvents {
    use pastdue_shared::adapters::stripe_api::{ApiKey, Retries, StripeApi, StripeEvents};
    let api = StripeApi::new(
        &local_endpoint("STRIPE_API_BASE"),
        ApiKey::parse(key).unwrap(),
        Retries::default(),
    )
    .unwrap();
    StripeEvents {
        api,
        types: types.iter().map(|t| (*t).to_owned()).collect(),
    }
}

/// A bench's count from the environment variable `name`, else `default`.
#[allow(dead_code)] // the benches use it
pub fn bench_setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
