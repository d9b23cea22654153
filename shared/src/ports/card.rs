//! Where a customer updates the card they pay with: the customer page's
//! "Update card" sends them to a page the processor hosts (Stripe's
//! customer portal), made for them alone and good for one visit.

use std::future::Future;

/// Why no card session was made.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CardSessionError {
    /// The processor could not be reached, or asked to be asked again
    /// later (429, 5xx): try again.
    #[error("the processor could not make a card session now: {0}")]
    Unavailable(String),
    /// The processor refused (no such customer, its portal not set up, a
    /// bad key): asking again will not help.
    #[error("the processor refused a card session: {0}")]
    Refused(String),
}

impl CardSessionError {
    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Where a customer updates their card: a processor's hosted page, made for one customer.
pub trait CardSessions: Send + Sync {
    /// A one-time URL where `customer` (the processor's customer id, e.g. `cus_…`) updates
    /// how they pay, coming back to `return_url` when done.
    fn card_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> impl Future<Output = Result<String, CardSessionError>> + Send;
}

/// No processor API is configured: there is nowhere to send the customer.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCardSessions;

impl CardSessions for NoCardSessions {
    async fn card_session(&self, _: &str, _: &str) -> Result<String, CardSessionError> {
        Err(CardSessionError::Refused(
            "no Stripe API key is configured".into(),
        ))
    }
}

/// A processor API that may not be configured: without one, as
/// [`NoCardSessions`].
impl<T: CardSessions> CardSessions for Option<T> {
    async fn card_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, CardSessionError> {
        match self {
            Some(sessions) => sessions.card_session(customer, return_url).await,
            None => NoCardSessions.card_session(customer, return_url).await,
        }
    }
}

impl<T: CardSessions> CardSessions for &T {
    async fn card_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, CardSessionError> {
        (**self).card_session(customer, return_url).await
    }
}
