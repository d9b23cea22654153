//! Processor adapters. Each processor is a folder behind one trait,
//! [`Processor`]: it verifies a delivery with its signature scheme and maps
//! the body to canonical events. `ingest` finds the processor for a path in
//! the [`Processors`] registry, built once at init.

pub mod gocardless;
pub mod numbered;
pub mod paypal;
pub mod registry;
pub mod standard;
pub mod stripe;
pub mod verify;

pub use registry::{Processors, Registered};

use crate::domain::event::EventError;
use crate::domain::fields::FieldError;
use crate::domain::{Account, AccountId, ActionMessage, EmailAddress, Event, InvoiceId};
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
    /// Canonical events of a customer the processor names by its own id,
    /// which may already be an account of pastdue's under another id (a
    /// Stripe customer who also pays by PayPal). The events and `account`
    /// carry the processor's namespaced id; taking them resolves `hints`
    /// to the account they belong to and rewrites them to it.
    Linked {
        events: Vec<Event>,
        account: Account,
        hints: AccountHints,
    },
}

/// How a processor's customer is matched to an existing account, in the
/// order taking a [`Mapped::Linked`] tries: the customer linked before,
/// the account the business named in the processor's metadata, an account
/// with a contact at one of `emails`; else the processor's id is a new
/// account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountHints {
    /// The processor's own key for the customer, namespaced so it never
    /// meets another processor's: `paypal:<payer id>`, `gocardless:CU…`.
    pub customer: String,
    /// An account id the business put on the customer, payment or invoice
    /// (a metadata field the README documents).
    pub named: Option<AccountId>,
    /// The customer's email addresses, most specific first.
    pub emails: Vec<EmailAddress>,
}

/// An object a delivery's mapping needs read from the processor's API
/// first (GoCardless events name a payment without its amount).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// The processor's kind of object (`payments`, `mandates`).
    pub kind: &'static str,
    pub id: String,
}

/// The objects read for a delivery: the API's body of each, `None` when
/// the processor has no such object.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    /// A delivery names one or two: a list.
    read: Vec<(ObjectRef, Option<Vec<u8>>)>,
}

impl Objects {
    pub fn insert(&mut self, object: ObjectRef, body: Option<Vec<u8>>) {
        self.read.retain(|(o, _)| o != &object);
        self.read.push((object, body));
    }

    /// `None`: not read; `Some(None)`: the processor has none.
    pub fn get(&self, kind: &str, id: &str) -> Option<Option<&[u8]>> {
        self.read
            .iter()
            .find(|(k, _)| k.kind == kind && k.id == id)
            .map(|(_, body)| body.as_deref())
    }
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
    /// Its signature scheme, when it is an HMAC under shared secrets.
    fn verifier(&self) -> Option<&dyn WebhookVerifier> {
        None
    }

    /// Whether the raw delivery is authentic: signed with a configured
    /// secret, within the timestamp tolerance.
    fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
        match self.verifier() {
            Some(verifier) => verifier.verify(headers, body, now),
            None => Err(VerifyError::BadSignature),
        }
    }

    /// The certificate the delivery's signature is checked against, when
    /// the scheme signs with a processor's key (PayPal): its URL, as the
    /// headers name it, once what can be checked without it holds (the
    /// headers, the time at `now`), so a delivery refused anyway fetches
    /// nothing. The handler fetches it through its `Certificates` port,
    /// which allows only the processor's own hosts, and calls
    /// [`Processor::verify_certified`].
    fn certificate_url(
        &self,
        _headers: &HeaderMap,
        _now: i64,
    ) -> Result<Option<String>, VerifyError> {
        Ok(None)
    }

    /// The id of the signed transmission, for a scheme whose signature
    /// binds the body only weakly (PayPal signs its CRC-32): the handler
    /// lets each id carry one body, so a captured delivery cannot be
    /// replayed with another body of the same CRC.
    fn transmission_id<'h>(&self, _headers: &'h HeaderMap) -> Option<&'h str> {
        None
    }

    /// For a processor that can also say itself whether a delivery is
    /// its own (PayPal's verification API, when configured): checks what
    /// can be checked here (the headers, the transmission time) and names
    /// the configured webhook ids to ask about. Others have no such API.
    fn remote_verification(
        &self,
        _headers: &HeaderMap,
        _now: i64,
    ) -> Result<Vec<String>, VerifyError> {
        Err(VerifyError::BadSignature)
    }

    /// [`Processor::verify`] for a scheme that names a certificate:
    /// `certificate` is the PEM the URL served.
    fn verify_certified(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
        _certificate: &[u8],
    ) -> Result<(), VerifyError> {
        self.verify(headers, body, now)
    }

    /// Reads an authentic body, borrowing from it: only the fields its
    /// mapping needs are decoded.
    fn read<'a>(
        &self,
        headers: &HeaderMap,
        body: &'a [u8],
    ) -> Result<Box<dyn Delivery + 'a>, MapError>;

    /// Reads an authentic body that carries several events (GoCardless
    /// batches them): each is its own delivery, claimed and applied once
    /// by its own id. Most processors send one.
    fn read_batch<'a>(
        &self,
        headers: &HeaderMap,
        body: &'a [u8],
    ) -> Result<Vec<Box<dyn Delivery + 'a>>, MapError> {
        Ok(vec![self.read(headers, body)?])
    }
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

    /// The objects the mapping needs read from the processor's API.
    fn objects_needed(&self) -> Vec<ObjectRef> {
        Vec::new()
    }

    /// [`Delivery::links_needed`] once the objects are read (a payment's
    /// metadata may name the invoice it pays).
    fn links_needed_with(&self, _objects: &Objects) -> Vec<String> {
        self.links_needed()
    }

    /// Maps the delivery with the objects [`Delivery::objects_needed`]
    /// named, as the API gave them.
    fn map_with(&self, link: Option<Link>, _objects: &Objects) -> Result<Mapped, MapError> {
        self.map(link)
    }
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

    /// Takes what else it reads from `ingest`'s settings (metadata keys).
    fn configure(self, _settings: &crate::config::IngestSettings) -> Result<Self, String> {
        Ok(self)
    }
}

#[cfg(test)]
mod tests;
