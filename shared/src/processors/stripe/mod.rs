//! Stripe: its signature scheme ([`signature`]), its events read without a
//! JSON tree ([`event`], [`objects`]), in Stripe's currency units
//! ([`currency`]), and mapped to canonical events ([`mapping`], with
//! [`invoices`] and [`charges`]).

pub mod cards;
pub mod charges;
pub mod currency;
pub mod current;
pub mod event;
pub mod invoices;
pub mod mapping;
pub mod objects;
pub mod signature;
pub mod tagged;
pub mod thin;

use lambda_http::http::HeaderMap;

use super::verify::WebhookVerifier;
use super::{Delivery, FromSecret, MapError, Processor};
use mapping::StripeDelivery;
use signature::StripeVerifier;

/// Stripe's deliveries: the delivery id is the event's `id`; disputes and
/// refunds need the invoice their payment paid, invoice payments the
/// account of their invoice.
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

impl Processor for StripeProcessor {
    fn verifier(&self) -> Option<&dyn WebhookVerifier> {
        Some(&self.verifier)
    }

    fn read<'a>(
        &self,
        _headers: &HeaderMap,
        body: &'a [u8],
    ) -> Result<Box<dyn Delivery + 'a>, MapError> {
        Ok(Box::new(StripeDelivery::read(body)?))
    }
}
