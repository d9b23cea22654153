//! Processor adapters. Each processor is a folder behind one trait,
//! [`Processor`]: it verifies a delivery with its signature scheme and maps
//! the body to canonical events. `ingest` finds the processor for a path in
//! the [`Processors`] registry, built once at init.

pub mod registry;
pub mod standard;
pub mod stripe;
pub mod verify;

pub use registry::{Processors, Registered};

use crate::domain::event::EventError;
use crate::domain::fields::FieldError;
use crate::domain::{Account, AccountId, ActionMessage, Event, InvoiceId};
use lambda_http::http::HeaderMap;
use verify::{VerifyError, WebhookVerifier};

/// The invoice a payment or charge paid, and its account, as the
/// `PaymentLinks` port resolves it.
pub type Link = (AccountId, InvoiceId);

/// What a delivery maps to, whichever processor sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// Canonical events to apply; `account` is the customer to create if new.
    Events {
        events: Vec<Event>,
        account: Option<Account>,
    },
    /// A type pastdue does not act on.
    Ignored { reason: String },
    /// A staff alert that changes no account (a dispute inquiry: no funds
    /// move).
    Alert(Box<ActionMessage>),
    /// A dispute or refund whose charge is not linked to an invoice yet: the
    /// payment that links it has not been applied. Retry later.
    WaitingForLink { ids: Vec<String> },
}

/// Why a delivery cannot be mapped. Permanent: `ingest` answers 400 with
/// this text.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MapError {
    /// The body is not JSON.
    #[error("body is not JSON: {0}")]
    NotJson(String),
    /// The body is not one of the processor's events at all.
    #[error(transparent)]
    NotAnEvent(FieldError),
    /// A field of one event is missing or malformed.
    #[error("{processor} {kind} {id}: {error}")]
    Field {
        processor: &'static str,
        id: String,
        kind: String,
        error: FieldError,
    },
    /// The body is a canonical event that does not read.
    #[error(transparent)]
    Event(#[from] EventError),
}

/// One payment processor posting webhooks to `ingest` at one path, modelled
/// on hyperswitch's `IncomingWebhook`: verify the source, then read the
/// body once into a [`Delivery`] that names itself and maps to canonical
/// events, where a type pastdue does not act on maps to
/// [`Mapped::Ignored`] rather than an error.
///
/// Object-safe and synchronous: between [`Delivery::links_needed`] and
/// [`Delivery::map`] the handler resolves payment links through its
/// `PaymentLinks` port. Every method takes what arrived over the network and
/// never panics on it.
///
/// Its name and path are constants of its type ([`FromSecret`]): the
/// registry knows them before, or without, a configured instance.
pub trait Processor: Send + Sync {
    /// Its signature scheme.
    fn verifier(&self) -> &dyn WebhookVerifier;

    /// Whether the raw delivery is authentic: signed with a configured
    /// secret, within the timestamp tolerance.
    fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
        self.verifier().verify(headers, body, now)
    }

    /// Reads an authentic body, borrowing from it: only the fields its
    /// mapping needs are decoded.
    fn read<'a>(
        &self,
        headers: &HeaderMap,
        body: &'a [u8],
    ) -> Result<Box<dyn Delivery + 'a>, MapError>;
}

/// One delivery as its processor read it.
pub trait Delivery: Send + Sync {
    /// The id the processor gives this delivery, the same on every retry.
    fn id(&self) -> &str;

    /// The processor's type of this delivery, for logs.
    fn kind(&self) -> Option<&str>;

    /// The payment/charge/invoice keys whose [`Link`] the mapping needs, in
    /// the order to try them.
    fn links_needed(&self) -> Vec<String> {
        Vec::new()
    }

    /// Maps the delivery; `link` is what the first of
    /// [`Delivery::links_needed`] that resolved resolved to.
    fn map(&self, link: Option<Link>) -> Result<Mapped, MapError>;
}

/// A processor the registry builds from its configured webhook secret.
pub trait FromSecret: Processor + Sized + 'static {
    /// Keys its delivery claims and its secret's settings, names it in logs
    /// and in the bus source (`pastdue.<name>`).
    const NAME: &'static str;
    /// The path its deliveries are posted to.
    const PATH: &'static str;

    /// `secrets`: the configured value (several, comma-separated, during a
    /// rotation); `tolerance_secs`: the allowed |now − timestamp|.
    fn from_secret(secrets: &str, tolerance_secs: i64) -> Result<Self, String>;
}

#[cfg(test)]
mod tests;
