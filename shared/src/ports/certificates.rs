//! Certificates a processor signs its deliveries with (PayPal), fetched
//! from the processor's own hosts and cached.

use std::future::Future;
use std::sync::Arc;

/// Why a certificate could not be had.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    /// The URL is not on one of the allowed hosts, or not HTTPS: the
    /// delivery is not authentic.
    #[error("certificate URL not allowed: {0}")]
    NotAllowed(String),
    /// The host could not be read now: the processor retries.
    #[error("certificate could not be fetched: {0}")]
    Unavailable(String),
    /// The host answered something that is not a certificate.
    #[error("certificate did not read: {0}")]
    Malformed(String),
}

/// Fetches a signing certificate by URL.
pub trait Certificates: Send + Sync {
    /// The PEM served at `url`, from the cache when fetched before.
    fn certificate(
        &self,
        url: &str,
    ) -> impl Future<Output = Result<Arc<Vec<u8>>, CertificateError>> + Send;
}

/// No certificate host allowed: every certificate URL is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCertificates;

impl Certificates for NoCertificates {
    async fn certificate(&self, url: &str) -> Result<Arc<Vec<u8>>, CertificateError> {
        Err(CertificateError::NotAllowed(url.to_owned()))
    }
}
