//! PayPal: its signature scheme, an RSA signature by a certificate PayPal
//! names in each delivery ([`signature`]), its webhook events read
//! borrowing from the body ([`event`]), and mapped to canonical events
//! ([`mapping`]).

pub mod disputes;
pub mod event;
pub mod invoices;
pub mod mapping;
pub mod signature;

use lambda_http::http::HeaderMap;

use super::verify::VerifyError;
use super::{Delivery, FromSecret, MapError, Processor};
use mapping::PaypalDelivery;
use signature::WebhookId;

/// PayPal's deliveries: the delivery id is the event's `id` (`WH-…`);
/// captures, refunds, subscription failures and disputes need the invoice
/// their payment paid, invoices name their customer.
///
/// Verification needs the certificate the delivery names
/// ([`Processor::certificate_url`]): [`Processor::verify`] without one
/// refuses every delivery.
#[derive(Debug, Clone)]
pub struct PaypalProcessor {
    webhook_ids: Vec<WebhookId>,
    tolerance: i64,
}

impl FromSecret for PaypalProcessor {
    const NAME: &'static str = "paypal";
    const PATH: &'static str = "/paypal";

    /// `secrets`: the listener's webhook id, or several comma-separated
    /// during a rotation (any may match).
    fn from_secret(secrets: &str, tolerance_secs: i64) -> Result<Self, String> {
        Ok(Self {
            webhook_ids: signature::parse_webhook_ids(secrets)?,
            tolerance: tolerance_secs,
        })
    }
}

impl Processor for PaypalProcessor {
    fn certificate_url(
        &self,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<Option<String>, VerifyError> {
        signature::fresh_transmission(headers, now, self.tolerance)?;
        signature::certificate_url(headers).map(|url| Some(url.to_owned()))
    }

    fn transmission_id<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        signature::transmission(headers).ok().map(|t| t.id)
    }

    fn remote_verification(
        &self,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<Vec<String>, VerifyError> {
        signature::fresh_transmission(headers, now, self.tolerance)?;
        Ok(self
            .webhook_ids
            .iter()
            .map(|w| w.as_str().to_owned())
            .collect())
    }

    fn verify_certified(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
        certificate: &[u8],
    ) -> Result<(), VerifyError> {
        signature::verify(
            headers,
            body,
            now,
            certificate,
            &self.webhook_ids,
            self.tolerance,
        )
    }

    fn read<'a>(
        &self,
        _headers: &HeaderMap,
        body: &'a [u8],
    ) -> Result<Box<dyn Delivery + 'a>, MapError> {
        Ok(Box::new(PaypalDelivery::read(body)?))
    }
}

#[cfg(test)]
mod tests;
