//! Lambda runtime glue shared by the function binaries.

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::adapters::bus::AnyBus;
use crate::adapters::dynamodb::DynamoStore;
use crate::services::{Accounts, Applier};

/// The AWS SDK configuration from the standard sources (environment,
/// profile, instance role). Endpoints come from there too
/// (`AWS_ENDPOINT_URL_<SERVICE>`), never from a custom flag.
pub async fn aws_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// The path every canonical event takes in this process: applied exactly
/// once through the store, its actions put on the bus `EVENT_BUS` names.
pub type StoreApplier = Applier<DynamoStore, AnyBus<()>>;

/// The [`StoreApplier`] over `store` (deciding with the store's policy).
pub fn applier(store: DynamoStore, config: &SdkConfig) -> StoreApplier {
    Applier {
        accounts: Accounts::new(store.clone(), store.shared_policy()),
        bus: AnyBus::from_env((), config),
    }
}

/// The bus canonical events are published on (`EVENT_BUS`); when it is
/// `inline`, they are applied in this process through [`applier`].
pub fn event_bus(store: DynamoStore, config: &SdkConfig) -> AnyBus<StoreApplier> {
    AnyBus::from_env(applier(store, config), config)
}

/// Runs a per-kind handler function: builds the store and the applier once,
/// then applies every bus event routed to `function` (see
/// [`crate::routing`]).
pub async fn serve_event_handler(function: &'static str) -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    let route =
        crate::routing::route(function).ok_or_else(|| format!("no route for {function}"))?;
    let table = crate::config::TableName::from_env()?;
    let config = aws_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
        policy_from_env()?,
    );
    let applier = applier(store, &config);
    // Boxed: the apply future is deep, and its layout would otherwise be
    // computed inside every binary's `main`.
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        Box::pin(crate::handlers::events::handle_bus_event(
            &applier,
            route,
            event.payload,
        ))
    }))
    .await
}

/// Seconds since the Unix epoch, for signature tolerance checks.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The dunning policy: `PASTDUE_POLICY` names a TOML file, else the default;
/// `RUN_HOUR` (0 to 23), when set, replaces its `run_hour` (the template's
/// `RunHour` parameter).
pub fn policy_from_env() -> Result<crate::domain::Policy, crate::config::ConfigError> {
    use crate::config::ConfigError;
    let mut policy = match std::env::var("PASTDUE_POLICY") {
        Err(_) => crate::domain::Policy::default(),
        Ok(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                name: "PASTDUE_POLICY",
                reason: format!("cannot read {path}: {e}"),
            })?;
            crate::domain::Policy::from_toml(&text).map_err(|e| ConfigError::Invalid {
                name: "PASTDUE_POLICY",
                reason: e.to_string(),
            })?
        }
    };
    if let Ok(raw) = std::env::var("RUN_HOUR") {
        policy.run_hour = parse_run_hour(&raw).map_err(|reason| ConfigError::Invalid {
            name: "RUN_HOUR",
            reason,
        })?;
    }
    Ok(policy)
}

fn parse_run_hour(raw: &str) -> Result<u32, String> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|h| *h < 24)
        .ok_or_else(|| format!("expected an hour from 0 to 23, got {raw:?}"))
}

/// A positive count from the environment (bounded concurrency), else `default`.
pub fn parallelism_from_env(
    name: &'static str,
    default: usize,
) -> Result<usize, crate::config::ConfigError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=256).contains(n))
            .ok_or(crate::config::ConfigError::Invalid {
                name,
                reason: "expected a number from 1 to 256".into(),
            }),
    }
}

/// The notifier's settings, read once at init.
pub struct MailSettings {
    pub sender: crate::domain::EmailAddress,
    pub staff: crate::domain::EmailAddress,
    /// The SES configuration set (bounce and complaint events); optional
    /// locally.
    pub configuration_set: Option<String>,
    pub links: crate::notify::render::Links,
}

impl MailSettings {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        use crate::config::ConfigError;
        let email = |name: &'static str| {
            let raw = std::env::var(name).map_err(|_| ConfigError::Invalid {
                name,
                reason: "not set".into(),
            })?;
            crate::domain::EmailAddress::parse(&raw).map_err(|e| ConfigError::Invalid {
                name,
                reason: e.to_string(),
            })
        };
        let url = |name: &'static str, default: &str| {
            let v = std::env::var(name).unwrap_or_else(|_| default.to_owned());
            if v.starts_with("https://") || v.starts_with("http://") {
                Ok(v)
            } else {
                Err(ConfigError::Invalid {
                    name,
                    reason: "expected an http(s) URL".into(),
                })
            }
        };
        Ok(Self {
            sender: email("SENDER_EMAIL")?,
            staff: email("STAFF_EMAIL")?,
            configuration_set: std::env::var("SES_CONFIGURATION_SET")
                .ok()
                .filter(|s| !s.is_empty()),
            links: crate::notify::render::Links {
                pay_url: url("PAY_URL", "https://billing.example.com/pay/{account}")?,
                card_url: url("CARD_URL", "https://billing.example.com/card/{account}")?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_run_hour;

    #[test]
    fn the_run_hour_is_an_hour_of_the_day() {
        assert_eq!(parse_run_hour("9"), Ok(9));
        assert_eq!(parse_run_hour("0"), Ok(0));
        assert_eq!(parse_run_hour(" 23 "), Ok(23));
        for bad in ["24", "-1", "nine", ""] {
            assert!(parse_run_hour(bad).is_err(), "{bad}");
        }
    }
}
