//! Standard Webhooks: its signature scheme ([`signature`]); the body is a
//! canonical event ([`mapping`]).

pub mod mapping;
pub mod signature;

use lambda_http::http::HeaderMap;
use serde_json::Value;

use super::verify::WebhookVerifier;
use super::{Delivery, FromSecret, Link, MapError, Mapped, Processor};
use signature::StandardVerifier;

/// Deliveries that carry canonical events themselves, signed per
/// <https://www.standardwebhooks.com>.
#[derive(Debug, Clone)]
pub struct StandardProcessor {
    verifier: StandardVerifier,
}

impl FromSecret for StandardProcessor {
    const NAME: &'static str = "standard";
    const PATH: &'static str = "/standard";

    /// `secrets`: one or more `whsec_<base64>` strings, comma-separated.
    fn from_secret(secrets: &str, tolerance_secs: i64) -> Result<Self, String> {
        Ok(Self {
            verifier: StandardVerifier::new(secrets, tolerance_secs)?,
        })
    }
}

impl Processor for StandardProcessor {
    fn verifier(&self) -> Option<&dyn WebhookVerifier> {
        Some(&self.verifier)
    }

    fn read<'a>(
        &self,
        headers: &HeaderMap,
        body: &'a [u8],
    ) -> Result<Box<dyn Delivery + 'a>, MapError> {
        let body: Value =
            serde_json::from_slice(body).map_err(|e| MapError::NotJson(e.to_string()))?;
        Ok(Box::new(StandardDelivery {
            id: mapping::delivery_id(headers),
            body,
        }))
    }
}

/// A canonical event and the `webhook-id` it came under.
struct StandardDelivery {
    id: String,
    body: Value,
}

impl Delivery for StandardDelivery {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> Option<&str> {
        self.body.get("type").and_then(Value::as_str)
    }

    fn map(&self, _link: Option<Link>) -> Result<Mapped, MapError> {
        mapping::map(&self.body)
    }
}
