//! Standard Webhooks: its signature scheme ([`signature`]); the body is a
//! canonical event ([`mapping`]).

pub mod mapping;
pub mod signature;

use lambda_http::http::HeaderMap;
use serde_json::Value;

use super::verify::WebhookVerifier;
use super::{FromSecret, Link, MapError, Mapped, Processor};
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
    fn verifier(&self) -> &dyn WebhookVerifier {
        &self.verifier
    }

    fn delivery_id(&self, headers: &HeaderMap, _body: &Value) -> Result<String, MapError> {
        Ok(mapping::delivery_id(headers))
    }

    fn event_type<'a>(&self, body: &'a Value) -> Option<&'a str> {
        body.get("type").and_then(Value::as_str)
    }

    fn map(
        &self,
        _headers: &HeaderMap,
        body: &Value,
        _link: Option<Link>,
    ) -> Result<Mapped, MapError> {
        mapping::map(body)
    }
}
