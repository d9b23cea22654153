//! What `ingest` reads for PayPal and GoCardless besides their webhook
//! secrets: GoCardless's API (its base and access token), and the hosts
//! PayPal's signing certificates may come from.

use super::{ConfigError, SecretVars, webhook_secret};
use crate::adapters::gocardless_api::{AccessToken, DEFAULT_BASE, GoCardlessApi};
use crate::adapters::paypal_certs::{AllowedOrigins, DEFAULT_ALLOWED, PaypalCertificates};
use crate::adapters::stripe_api::Retries;

/// Where GoCardless's access token is read from: `GOCARDLESS_ACCESS_TOKEN`
/// (local use) or the SSM SecureString `GOCARDLESS_ACCESS_TOKEN_PARAM`
/// names.
pub const GOCARDLESS_ACCESS_TOKEN: SecretVars = SecretVars {
    processor: "gocardless",
    value: "GOCARDLESS_ACCESS_TOKEN",
    param: "GOCARDLESS_ACCESS_TOKEN_PARAM",
};

/// GoCardless's API at `GOCARDLESS_API_BASE` (default GoCardless's own)
/// with the access token, read once at init; `None` when no token is
/// configured. The token never appears in an error or a log.
pub async fn gocardless_api(
    var: impl Fn(&str) -> Option<String>,
    config: &aws_config::SdkConfig,
) -> Result<Option<GoCardlessApi>, ConfigError> {
    let ssm = std::sync::OnceLock::new();
    let client = || ssm.get_or_init(|| aws_sdk_ssm::Client::new(config));
    let Some(raw) = webhook_secret(&var, &GOCARDLESS_ACCESS_TOKEN, client).await? else {
        return Ok(None);
    };
    let token = AccessToken::parse(&raw).map_err(|reason| ConfigError::Invalid {
        name: GOCARDLESS_ACCESS_TOKEN.value,
        reason,
    })?;
    let base = var("GOCARDLESS_API_BASE")
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BASE.to_owned());
    // Short: it is read while GoCardless waits for the webhook's answer,
    // within the function's 10 s (a batch starts no event after 6 s).
    let retries = Retries {
        attempts: 3,
        base: std::time::Duration::from_millis(200),
        cap: std::time::Duration::from_secs(1),
        timeout: std::time::Duration::from_secs(2),
    };
    GoCardlessApi::new(&base, token, retries)
        .map(Some)
        .map_err(|reason| ConfigError::Invalid {
            name: "GOCARDLESS_API_BASE",
            reason,
        })
}

/// PayPal's certificate hosts: `PAYPAL_CERT_ORIGINS` (comma-separated
/// origins), by default PayPal's live and sandbox API hosts only.
pub fn paypal_certificates(
    var: impl Fn(&str) -> Option<String>,
) -> Result<PaypalCertificates, ConfigError> {
    let raw = var("PAYPAL_CERT_ORIGINS")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ALLOWED.to_owned());
    let invalid = |reason| ConfigError::Invalid {
        name: "PAYPAL_CERT_ORIGINS",
        reason,
    };
    let allowed = AllowedOrigins::parse(&raw).map_err(invalid)?;
    PaypalCertificates::new(allowed, Retries::default().timeout).map_err(invalid)
}

/// Where PayPal's REST app secret is read from (API verification only):
/// `PAYPAL_CLIENT_SECRET` (local use) or the SSM SecureString
/// `PAYPAL_CLIENT_SECRET_PARAM` names.
pub const PAYPAL_CLIENT_SECRET: SecretVars = SecretVars {
    processor: "paypal",
    value: crate::adapters::paypal_verify::CLIENT_SECRET_VAR,
    param: crate::adapters::paypal_verify::CLIENT_SECRET_PARAM_VAR,
};

/// PayPal's `verify-webhook-signature` API, when `PAYPAL_VERIFY=api`
/// (`None` when it is `offline` or unset): the REST app's
/// `PAYPAL_CLIENT_ID` and secret (see [`PAYPAL_CLIENT_SECRET`]; the SSM
/// parameter is read only in API mode), at `PAYPAL_API_BASE` (default
/// PayPal's live API). Neither the secret nor a token appears in an error
/// or a log.
pub async fn paypal_verify_api(
    var: impl Fn(&str) -> Option<String>,
    config: &aws_config::SdkConfig,
) -> Result<Option<crate::adapters::paypal_verify::PaypalVerifyApi>, ConfigError> {
    use crate::adapters::paypal_verify;
    if !paypal_verify::api_mode(&var)? {
        return Ok(None);
    }
    let ssm = std::sync::OnceLock::new();
    let client = || ssm.get_or_init(|| aws_sdk_ssm::Client::new(config));
    let secret = webhook_secret(&var, &PAYPAL_CLIENT_SECRET, client).await?;
    paypal_verify::from_settings(&var, secret, Retries::default()).map(Some)
}
