//! Asking the processor itself whether a delivery is authentic (PayPal's
//! `verify-webhook-signature` API), for a business that configures it in
//! place of verifying offline against the certificate.

use std::future::Future;

use lambda_http::http::HeaderMap;

/// Why the processor could not answer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RemoteVerifyError {
    /// Not reachable now, or it asked to retry: the processor retries the
    /// delivery.
    #[error("the processor's verification API could not be read: {0}")]
    Unavailable(String),
    /// It refused the request (bad credentials, a request it cannot read):
    /// retrying will not help; the delivery is not accepted.
    #[error("the processor's verification API refused: {0}")]
    Refused(String),
}

/// The processor's verification API.
pub trait VerifyRemotely: Send + Sync {
    /// Whether deliveries of `processor` are verified through its API.
    fn verifies(&self, processor: &str) -> bool;

    /// The processor's answer for the delivery (`headers`, raw `body`)
    /// under `webhook_id`: `true` when it says the signature is its own.
    fn verify_remotely(
        &self,
        processor: &str,
        webhook_id: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> impl Future<Output = Result<bool, RemoteVerifyError>> + Send;
}

/// No verification API configured: deliveries are verified offline.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

impl VerifyRemotely for Offline {
    fn verifies(&self, _: &str) -> bool {
        false
    }

    async fn verify_remotely(
        &self,
        processor: &str,
        _: &str,
        _: &HeaderMap,
        _: &[u8],
    ) -> Result<bool, RemoteVerifyError> {
        Err(RemoteVerifyError::Refused(format!(
            "no verification API is configured for {processor}"
        )))
    }
}

/// An API that may not be configured.
impl<T: VerifyRemotely> VerifyRemotely for Option<T> {
    fn verifies(&self, processor: &str) -> bool {
        self.as_ref().is_some_and(|t| t.verifies(processor))
    }

    async fn verify_remotely(
        &self,
        processor: &str,
        webhook_id: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<bool, RemoteVerifyError> {
        match self {
            Some(api) => {
                api.verify_remotely(processor, webhook_id, headers, body)
                    .await
            }
            None => {
                Offline
                    .verify_remotely(processor, webhook_id, headers, body)
                    .await
            }
        }
    }
}
