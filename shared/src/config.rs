//! Settings read from the environment once, at init.
//!
//! Endpoints are never configured here: the AWS SDK's standard configuration
//! (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SESV2`, `AWS_REGION`, ...)
//! decides where requests go, locally and in AWS alike.

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
}

impl IngestSettings {
    pub const TOLERANCE_VAR: &'static str = "WEBHOOK_TOLERANCE_SECS";
    pub const DEFAULT_TOLERANCE_SECS: i64 = 300;
    /// Every processor's secret variables.
    pub const WEBHOOK_SECRETS: [SecretVars; 2] = [
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
        Ok(Self {
            tolerance_secs,
            secrets,
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
    tracing::info!(parameter = %param, "webhook secret read from SSM");
    Ok(Some(value))
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
