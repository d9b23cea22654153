//! Settings read from the environment once, at init.
//!
//! Endpoints are never configured here: the AWS SDK's standard configuration
//! (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SESV2`, `AWS_REGION`, ...)
//! decides where requests go, locally and in AWS alike.

mod portal;
mod processors;
pub use portal::{PORTAL_SECRET, link_signer, page_settings, portal_secrets};
pub use processors::{
    GOCARDLESS_ACCESS_TOKEN, PAYPAL_CLIENT_SECRET, gocardless_api, paypal_certificates,
    paypal_verify_api,
};

use std::fmt;

/// A setting that is missing or malformed. Never retryable: the function
/// cannot start until its configuration is fixed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {name} is not set")]
    Missing { name: &'static str },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Reads a required environment variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::Missing { name }),
    }
}

/// A DynamoDB table name, as DynamoDB accepts them: 3 to 255 characters of
/// `a-z A-Z 0-9 _ - .`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableName(String);

impl TableName {
    pub const ENV: &'static str = "TABLE_NAME";

    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok_len = (3..=255).contains(&raw.len());
        let ok_chars = raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if ok_len && ok_chars {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "{raw:?} is not a DynamoDB table name (3-255 characters of a-z A-Z 0-9 _ - .)"
            ))
        }
    }

    /// Reads `TABLE_NAME`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let raw = required(Self::ENV)?;
        Self::parse(&raw).map_err(|reason| ConfigError::Invalid {
            name: Self::ENV,
            reason,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where one processor's webhook secret is read from: a variable holding the
/// secret itself (local use), or one naming an SSM parameter that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretVars {
    /// The processor, as its `Processor::name` says.
    pub processor: &'static str,
    pub value: &'static str,
    pub param: &'static str,
}

/// One processor's configured webhook secret: several, comma-separated,
/// during a rotation. Debug output never shows the value.
#[derive(Clone)]
pub struct WebhookSecret {
    vars: SecretVars,
    value: String,
}

impl WebhookSecret {
    pub fn processor(&self) -> &'static str {
        self.vars.processor
    }

    /// The variable an invalid secret is reported under.
    pub fn var(&self) -> &'static str {
        self.vars.value
    }

    pub fn expose(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecret({}: ***)", self.vars.processor)
    }
}

/// `ingest`'s settings, read once at init. A processor whose secret is not
/// set is not accepted (404). A secret comes from `STRIPE_WEBHOOK_SECRET` /
/// `STANDARD_WEBHOOK_SECRET` (local use), or by reference from SSM Parameter
/// Store: `STRIPE_WEBHOOK_SECRET_PARAM` / `STANDARD_WEBHOOK_SECRET_PARAM`
/// name a SecureString parameter (or `/aws/reference/secretsmanager/<id>`,
/// which reads a Secrets Manager secret through the same call). Either way
/// the value may hold several comma-separated secrets during a rotation.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// Allowed |now − timestamp| of a delivery (`WEBHOOK_TOLERANCE_SECS`).
    pub tolerance_secs: i64,
    secrets: Vec<WebhookSecret>,
    /// The metadata key on a processor's payment that names the invoice
    /// pastdue already knows it pays (`INVOICE_METADATA_KEY`, default
    /// `invoice`; GoCardless).
    pub invoice_metadata_key: String,
    /// The metadata key on a processor's customer or payment that names
    /// the pastdue account it belongs to (`ACCOUNT_METADATA_KEY`, default
    /// `pastdue_account`; GoCardless).
    pub account_metadata_key: String,
}

impl IngestSettings {
    pub const TOLERANCE_VAR: &'static str = "WEBHOOK_TOLERANCE_SECS";
    pub const INVOICE_KEY_VAR: &'static str = "INVOICE_METADATA_KEY";
    pub const ACCOUNT_KEY_VAR: &'static str = "ACCOUNT_METADATA_KEY";
    pub const DEFAULT_TOLERANCE_SECS: i64 = 300;
    /// Every processor's secret variables.
    pub const WEBHOOK_SECRETS: [SecretVars; 4] = [
        SecretVars {
            processor: "stripe",
            value: "STRIPE_WEBHOOK_SECRET",
            param: "STRIPE_WEBHOOK_SECRET_PARAM",
        },
        SecretVars {
            processor: "standard",
            value: "STANDARD_WEBHOOK_SECRET",
            param: "STANDARD_WEBHOOK_SECRET_PARAM",
        },
        // PayPal signs with its own key: what is configured is the
        // webhook's id, which every signature covers.
        SecretVars {
            processor: "paypal",
            value: "PAYPAL_WEBHOOK_ID",
            param: "PAYPAL_WEBHOOK_ID_PARAM",
        },
        SecretVars {
            processor: "gocardless",
            value: "GOCARDLESS_WEBHOOK_SECRET",
            param: "GOCARDLESS_WEBHOOK_SECRET_PARAM",
        },
    ];

    /// Reads the settings from the process environment (and SSM).
    pub async fn from_env(config: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        Self::load(|name| std::env::var(name).ok(), config).await
    }

    /// Reads the settings through `var` (an environment lookup), fetching
    /// referenced secrets from SSM with `config`. The SSM client is built
    /// only when a parameter is named.
    pub async fn load(
        var: impl Fn(&str) -> Option<String>,
        config: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        let tolerance_secs = match var(Self::TOLERANCE_VAR) {
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|t| *t > 0)
                .ok_or(ConfigError::Invalid {
                    name: Self::TOLERANCE_VAR,
                    reason: "expected a positive number of seconds".into(),
                })?,
            None => Self::DEFAULT_TOLERANCE_SECS,
        };
        let ssm = std::sync::OnceLock::new();
        let mut secrets = Vec::new();
        for vars in Self::WEBHOOK_SECRETS {
            let client = || ssm.get_or_init(|| aws_sdk_ssm::Client::new(config));
            if let Some(value) = webhook_secret(&var, &vars, client).await? {
                secrets.push(WebhookSecret { vars, value });
            }
        }
        let key = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            let value = var(name).unwrap_or_else(|| default.to_owned());
            let value = value.trim();
            if value.is_empty() || value.len() > 50 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "a metadata key is 1 to 50 characters".into(),
                });
            }
            Ok(value.to_owned())
        };
        Ok(Self {
            tolerance_secs,
            secrets,
            invoice_metadata_key: key(Self::INVOICE_KEY_VAR, "invoice")?,
            account_metadata_key: key(Self::ACCOUNT_KEY_VAR, "pastdue_account")?,
        })
    }

    /// The secret configured for `processor`, if any.
    pub fn webhook_secret(&self, processor: &str) -> Option<&WebhookSecret> {
        self.secrets.iter().find(|s| s.processor() == processor)
    }
}

/// One secret: the variable's value, else the named parameter's, else none.
/// The value is never logged; a failure names only the parameter.
async fn webhook_secret<'c>(
    var: &impl Fn(&str) -> Option<String>,
    vars: &SecretVars,
    ssm: impl FnOnce() -> &'c aws_sdk_ssm::Client,
) -> Result<Option<String>, ConfigError> {
    let set = |name: &str| var(name).filter(|s| !s.trim().is_empty());
    if let Some(value) = set(vars.value) {
        return Ok(Some(value));
    }
    let Some(param) = set(vars.param) else {
        return Ok(None);
    };
    let value = crate::adapters::ssm::secure_string(ssm(), &param)
        .await
        .map_err(|reason| ConfigError::Invalid {
            name: vars.param,
            reason,
        })?;
    tracing::info!(parameter = %param, setting = vars.value, "secret read from SSM");
    Ok(Some(value))
}

/// Where Stripe's API key for reconciliation is read from.
pub const STRIPE_API_KEY: SecretVars = SecretVars {
    processor: "stripe",
    value: "STRIPE_API_KEY",
    param: "STRIPE_API_KEY_PARAM",
};

/// Stripe's API at `STRIPE_API_BASE` (default Stripe's own), with the
/// restricted key from `STRIPE_API_KEY` (local use) or the SSM SecureString
/// `STRIPE_API_KEY_PARAM` names, read once at init. `None` when no key is
/// configured. The key never appears in an error or a log.
pub async fn stripe_api(
    var: impl Fn(&str) -> Option<String>,
    config: &aws_config::SdkConfig,
) -> Result<Option<crate::adapters::stripe_api::StripeApi>, ConfigError> {
    use crate::adapters::stripe_api::{ApiKey, DEFAULT_BASE, Retries, StripeApi};
    let ssm = std::sync::OnceLock::new();
    let client = || ssm.get_or_init(|| aws_sdk_ssm::Client::new(config));
    let Some(raw) = webhook_secret(&var, &STRIPE_API_KEY, client).await? else {
        return Ok(None);
    };
    let key = ApiKey::parse(&raw).map_err(|reason| ConfigError::Invalid {
        name: STRIPE_API_KEY.value,
        reason,
    })?;
    let base = var("STRIPE_API_BASE")
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BASE.to_owned());
    StripeApi::new(&base, key, Retries::default())
        .map(Some)
        .map_err(|reason| ConfigError::Invalid {
            name: "STRIPE_API_BASE",
            reason,
        })
}

/// The dunning policy: `PASTDUE_POLICY` names a TOML file, else the default;
/// `RUN_HOUR` (0 to 23), when set, replaces its `run_hour` (the template's
/// `RunHour` parameter).
pub fn policy_from_env() -> Result<crate::domain::Policy, ConfigError> {
    use ConfigError;
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
pub fn parallelism_from_env(name: &'static str, default: usize) -> Result<usize, ConfigError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=256).contains(n))
            .ok_or(ConfigError::Invalid {
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
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            sender: env_email("SENDER_EMAIL")?,
            staff: env_email("STAFF_EMAIL")?,
            configuration_set: std::env::var("SES_CONFIGURATION_SET")
                .ok()
                .filter(|s| !s.is_empty()),
            links: crate::notify::render::Links {
                pay_url: env_url("PAY_URL", DEFAULT_PAY_URL)?,
                card_url: env_url("CARD_URL", DEFAULT_CARD_URL)?,
                portal: None,
            },
        })
    }
}

const DEFAULT_PAY_URL: &str = "https://billing.example.com/pay/{account}";
const DEFAULT_CARD_URL: &str = "https://billing.example.com/card/{account}";

/// An email address from the environment variable `name`.
fn env_email(name: &'static str) -> Result<crate::domain::EmailAddress, ConfigError> {
    let raw = std::env::var(name).map_err(|_| ConfigError::Invalid {
        name,
        reason: "not set".into(),
    })?;
    crate::domain::EmailAddress::parse(&raw).map_err(|e| ConfigError::Invalid {
        name,
        reason: e.to_string(),
    })
}

/// An http(s) URL from the environment variable `name`, else `default`.
fn env_url(name: &'static str, default: &str) -> Result<String, ConfigError> {
    let v = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    if v.starts_with("https://") || v.starts_with("http://") {
        Ok(v)
    } else {
        Err(ConfigError::Invalid {
            name,
            reason: "expected an http(s) URL".into(),
        })
    }
}

/// `STAFF_TIMEZONE`: the staff's IANA time zone, in which the morning
/// digest goes out at the policy's `run_hour`. `None` when unset: no digest.
pub fn staff_timezone() -> Result<Option<chrono_tz::Tz>, ConfigError> {
    match std::env::var("STAFF_TIMEZONE") {
        Ok(name) if !name.trim().is_empty() => crate::domain::fields::parse_timezone(&name)
            .map(Some)
            .map_err(|reason| ConfigError::Invalid {
                name: "STAFF_TIMEZONE",
                reason,
            }),
        _ => Ok(None),
    }
}

/// `EVENT_BUS`: `inline` (also when unset or empty), `local`, `none`, or an
/// EventBridge bus name (see [`crate::adapters::bus`]).
pub fn event_bus() -> String {
    std::env::var("EVENT_BUS")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "inline".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_follow_dynamodb_rules() {
        assert!(TableName::parse("pastdue-local").is_ok());
        assert!(TableName::parse("a.b_c-1").is_ok());
        assert!(TableName::parse("ab").is_err());
        assert!(TableName::parse("has space").is_err());
        assert!(TableName::parse("semi;colon").is_err());
        assert!(TableName::parse(&"x".repeat(256)).is_err());
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    /// Without any parameter named, no SSM client is built or called.
    async fn ingest(pairs: &[(&str, &str)]) -> Result<IngestSettings, ConfigError> {
        IngestSettings::load(vars(pairs), &aws_config::SdkConfig::builder().build()).await
    }

    #[tokio::test]
    async fn webhook_secrets_come_from_their_variables_and_never_show() {
        let none = ingest(&[]).await.unwrap();
        assert_eq!(none.tolerance_secs, 300);
        assert!(none.webhook_secret("stripe").is_none());
        let settings = ingest(&[
            ("STRIPE_WEBHOOK_SECRET", "whsec_new,whsec_old"),
            // The value wins over a parameter: SSM is not asked.
            ("STRIPE_WEBHOOK_SECRET_PARAM", "/never/read"),
            ("STANDARD_WEBHOOK_SECRET", "  "),
            ("WEBHOOK_TOLERANCE_SECS", "60"),
        ])
        .await
        .unwrap();
        assert_eq!(settings.tolerance_secs, 60);
        let stripe = settings.webhook_secret("stripe").unwrap();
        assert_eq!(
            (stripe.expose(), stripe.var()),
            ("whsec_new,whsec_old", "STRIPE_WEBHOOK_SECRET")
        );
        assert!(
            settings.webhook_secret("standard").is_none(),
            "blank is unset"
        );
        assert!(!format!("{settings:?}").contains("whsec_"));
    }

    #[tokio::test]
    async fn a_tolerance_must_be_a_positive_number_of_seconds() {
        for bad in ["0", "-5", "abc", ""] {
            let err = ingest(&[("WEBHOOK_TOLERANCE_SECS", bad)])
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        name: "WEBHOOK_TOLERANCE_SECS",
                        ..
                    }
                ),
                "{bad:?}: {err}"
            );
        }
    }
}

#[cfg(test)]
mod runtime_settings_tests {
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

/// Reconciliation's settings: `RECONCILE_START` (a UTC date, `YYYY-MM-DD`),
/// when set, is where the first pass starts instead of 30 days back
/// (Stripe keeps events 30 days, so an earlier date reads what it has).
pub fn reconcile_settings(
    var: impl Fn(&str) -> Option<String>,
) -> Result<crate::services::reconcile::Settings, ConfigError> {
    let start = var("RECONCILE_START")
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            crate::domain::fields::parse_date(v.trim())
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp())
                .ok_or_else(|| ConfigError::Invalid {
                    name: "RECONCILE_START",
                    reason: format!("{v:?} is not a date (YYYY-MM-DD)"),
                })
        })
        .transpose()?;
    Ok(crate::services::reconcile::Settings {
        start,
        ..crate::services::reconcile::Settings::default()
    })
}

#[cfg(test)]
mod reconcile_settings_tests {
    use super::*;

    #[test]
    fn a_configured_start_is_read_and_a_bad_one_refused_by_name() {
        let with = |v: &'static str| reconcile_settings(move |_| Some(v.to_owned()));
        assert_eq!(with("2026-11-01").unwrap().start, Some(1_793_491_200));
        assert_eq!(with("").unwrap().start, None);
        assert_eq!(reconcile_settings(|_| None).unwrap().start, None);
        let bad = with("November").unwrap_err().to_string();
        assert!(bad.contains("RECONCILE_START"), "{bad}");
    }
}
