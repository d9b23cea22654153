//! The customer page's settings: its secret (`PORTAL_SECRET` locally, else
//! the SSM SecureString `PORTAL_SECRET_PARAM` names; comma-separated during
//! a rotation), and its address for the emails (`PORTAL_URL`).

use super::{
    ConfigError, DEFAULT_CARD_URL, DEFAULT_PAY_URL, SecretVars, env_email, env_url, webhook_secret,
};
use crate::domain::EmailAddress;
use crate::portal::link::{LinkSigner, parse_secrets};
use crate::portal::service::PageLinks;
use crate::processors::verify::Secret;

/// Where the portal secret is read from.
pub const PORTAL_SECRET: SecretVars = SecretVars {
    processor: "portal",
    value: "PORTAL_SECRET",
    param: "PORTAL_SECRET_PARAM",
};

/// The secrets that open the page's links, read once at init; an error
/// when none is configured (the page cannot open anything without one).
pub async fn portal_secrets(
    var: impl Fn(&str) -> Option<String>,
    config: &aws_config::SdkConfig,
) -> Result<Vec<Secret>, ConfigError> {
    let ssm = std::sync::OnceLock::new();
    let client = || ssm.get_or_init(|| aws_sdk_ssm::Client::new(config));
    let raw = webhook_secret(&var, &PORTAL_SECRET, client)
        .await?
        .ok_or(ConfigError::Invalid {
            name: PORTAL_SECRET.param,
            reason: "not set: the customer page needs its secret".into(),
        })?;
    parse_secrets(&raw).map_err(|reason| ConfigError::Invalid {
        name: PORTAL_SECRET.value,
        reason,
    })
}

/// What signs the links in the emails: `None` when `PORTAL_URL` is not set
/// (the emails then carry no link to the page).
pub async fn link_signer(
    var: impl Fn(&str) -> Option<String>,
    config: &aws_config::SdkConfig,
) -> Result<Option<LinkSigner>, ConfigError> {
    let Some(url) = var("PORTAL_URL").filter(|u| !u.trim().is_empty()) else {
        return Ok(None);
    };
    let secrets = portal_secrets(&var, config).await?;
    LinkSigner::new(&url, &secrets)
        .map(Some)
        .map_err(|reason| ConfigError::Invalid {
            name: "PORTAL_URL",
            reason,
        })
}

/// The page's own settings: the address customers write to
/// (`SENDER_EMAIL`) and where its plain buttons go (`PAY_URL`, `CARD_URL`).
pub fn page_settings() -> Result<(EmailAddress, PageLinks), ConfigError> {
    Ok((
        env_email("SENDER_EMAIL")?,
        PageLinks {
            pay_url: env_url("PAY_URL", DEFAULT_PAY_URL)?,
            card_url: env_url("CARD_URL", DEFAULT_CARD_URL)?,
        },
    ))
}
