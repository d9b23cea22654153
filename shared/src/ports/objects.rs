//! Objects a delivery names without carrying them, read from the
//! processor's API before it is mapped (GoCardless events name a payment;
//! its amount, currency and customer are the API's to tell).

use std::future::Future;

use crate::processors::ObjectRef;

/// Why an object could not be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    /// The API could not be read now: the processor retries the delivery.
    #[error("the processor's API could not be read: {0}")]
    Unavailable(String),
    /// It never will be (a refused token, an answer that does not read).
    #[error("{0}")]
    Refused(String),
}

/// Reads objects from processors' APIs.
pub trait FetchObjects: Send + Sync {
    /// The body `processor`'s API gives for `object`, or `None` when the
    /// processor has no such object.
    fn fetch(
        &self,
        processor: &str,
        object: &ObjectRef,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, FetchError>> + Send;
}

/// No processor API: a delivery that needs an object is refused, naming
/// what to configure.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObjects;

impl FetchObjects for NoObjects {
    async fn fetch(
        &self,
        processor: &str,
        object: &ObjectRef,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        Err(FetchError::Refused(format!(
            "{processor}'s API is not configured, so {} {} cannot be read",
            object.kind, object.id
        )))
    }
}

/// A processor API that may not be configured.
impl<T: FetchObjects> FetchObjects for Option<T> {
    async fn fetch(
        &self,
        processor: &str,
        object: &ObjectRef,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        match self {
            Some(api) => api.fetch(processor, object).await,
            None => NoObjects.fetch(processor, object).await,
        }
    }
}
