//! GoCardless: its signature scheme ([`signature`]), its webhooks of
//! batched events ([`events`]), the API resources an event names
//! ([`resources`], read by the caller), and their mapping to canonical
//! events ([`mapping`]).
//!
//! A delivery is a batch: [`Processor::read_batch`] reads each event as a
//! delivery of its own, claimed and applied once by its `EV…` id.

pub mod events;
pub mod mapping;
pub mod resources;
pub mod signature;

use std::sync::Arc;

use lambda_http::http::HeaderMap;

use super::verify::WebhookVerifier;
use super::{Delivery, FromSecret, MapError, Processor};
use crate::domain::fields::FieldError;
pub use mapping::{GocardlessDelivery, MetadataKeys};
use signature::GocardlessVerifier;

/// GoCardless's webhooks, verified with the endpoint secret; their events
/// map once the payment or mandate each names is read from the API.
#[derive(Debug, Clone)]
pub struct GocardlessProcessor {
    verifier: GocardlessVerifier,
    keys: Arc<MetadataKeys>,
}

impl GocardlessProcessor {
    /// The metadata keys it reads (the defaults until configured).
    pub fn keys(&self) -> &MetadataKeys {
        &self.keys
    }

    /// Reads with other metadata keys.
    pub fn with_keys(mut self, keys: MetadataKeys) -> Self {
        self.keys = Arc::new(keys);
        self
    }
}

impl FromSecret for GocardlessProcessor {
    const NAME: &'static str = "gocardless";
    const PATH: &'static str = "/gocardless";

    /// `secrets`: one or more webhook endpoint secrets, comma-separated.
    fn from_secret(secrets: &str, tolerance_secs: i64) -> Result<Self, String> {
        Ok(Self {
            verifier: GocardlessVerifier::new(secrets, tolerance_secs)?,
            keys: Arc::new(MetadataKeys::default()),
        })
    }

    /// The invoice and account metadata keys (`INVOICE_METADATA_KEY`,
    /// `ACCOUNT_METADATA_KEY`).
    fn configure(self, settings: &crate::config::IngestSettings) -> Result<Self, String> {
        Ok(self.with_keys(MetadataKeys {
            invoice: settings.invoice_metadata_key.clone(),
            account: settings.account_metadata_key.clone(),
        }))
    }
}

/// Reads a webhook body into one delivery per event.
pub fn read_deliveries(
    body: &[u8],
    keys: Arc<MetadataKeys>,
) -> Result<Vec<GocardlessDelivery<'_>>, MapError> {
    Ok(events::read_batch(body)?
        .into_iter()
        .map(|read| GocardlessDelivery::new(read.id, read.event, keys.clone()))
        .collect())
}

impl Processor for GocardlessProcessor {
    fn verifier(&self) -> Option<&dyn WebhookVerifier> {
        Some(&self.verifier)
    }

    /// A webhook of exactly one event; GoCardless batches them, so
    /// `ingest` reads its webhooks with [`Processor::read_batch`].
    fn read<'a>(
        &self,
        _headers: &HeaderMap,
        body: &'a [u8],
    ) -> Result<Box<dyn Delivery + 'a>, MapError> {
        let mut deliveries = read_deliveries(body, self.keys.clone())?;
        match (deliveries.pop(), deliveries.len()) {
            (Some(one), 0) => Ok(Box::new(one)),
            (_, more) => Err(MapError::NotAnEvent(FieldError::new(
                "events",
                format!(
                    "this GoCardless webhook carries {} events: read it as a batch",
                    more + 1
                ),
            ))),
        }
    }

    fn read_batch<'a>(
        &self,
        _headers: &HeaderMap,
        body: &'a [u8],
    ) -> Result<Vec<Box<dyn Delivery + 'a>>, MapError> {
        Ok(read_deliveries(body, self.keys.clone())?
            .into_iter()
            .map(|d| Box::new(d) as Box<dyn Delivery + 'a>)
            .collect())
    }
}

#[cfg(test)]
mod tests;
