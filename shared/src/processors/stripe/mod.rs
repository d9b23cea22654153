//! Stripe: its signature scheme ([`signature`]) and its event types mapped
//! to canonical events ([`mapping`]).

pub mod mapping;
pub mod signature;

use lambda_http::http::HeaderMap;
use serde_json::Value;

use super::verify::WebhookVerifier;
use super::{FromSecret, Link, MapError, Mapped, Processor};
use mapping::StripeEvent;
use signature::StripeVerifier;

/// Stripe's deliveries: the delivery id is the event's `id`; disputes and
/// refunds need the invoice their payment paid.
#[derive(Debug, Clone)]
pub struct StripeProcessor {
    verifier: StripeVerifier,
}

impl FromSecret for StripeProcessor {
    const NAME: &'static str = "stripe";
    const PATH: &'static str = "/stripe";

    /// `secrets`: one or more `whsec_…` strings, comma-separated.
    fn from_secret(secrets: &str, tolerance_secs: i64) -> Result<Self, String> {
        Ok(Self {
            verifier: StripeVerifier::new(secrets, tolerance_secs)?,
        })
    }
}

fn parse(body: &Value) -> Result<StripeEvent<'_>, MapError> {
    StripeEvent::parse(body).map_err(MapError::NotAnEvent)
}

impl Processor for StripeProcessor {
    fn verifier(&self) -> &dyn WebhookVerifier {
        &self.verifier
    }

    fn delivery_id(&self, _headers: &HeaderMap, body: &Value) -> Result<String, MapError> {
        Ok(parse(body)?.id.to_owned())
    }

    fn event_type<'a>(&self, body: &'a Value) -> Option<&'a str> {
        parse(body).ok().map(|stripe| stripe.kind)
    }

    fn links_needed(&self, body: &Value) -> Vec<String> {
        parse(body)
            .map(|stripe| mapping::link_ids(&stripe))
            .unwrap_or_default()
    }

    fn map(
        &self,
        _headers: &HeaderMap,
        body: &Value,
        link: Option<Link>,
    ) -> Result<Mapped, MapError> {
        mapping::map(&parse(body)?, link)
    }
}
