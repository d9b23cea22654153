//! Thin events: notifications that name an object without carrying it
//! (Stripe's event destinations, endive's `v1.*` types). With the
//! processor's API at hand, `ingest` reads the object and takes the event
//! as the snapshot it stands for.

use std::future::Future;

/// Why a thin event could not be made whole.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ThinError {
    /// The API could not be read now: the processor retries the delivery.
    #[error("the processor's API could not be read: {0}")]
    Unavailable(String),
    /// It never will be (the object is gone, or the answer does not read).
    #[error("{0}")]
    Refused(String),
}

/// Makes a thin event whole.
pub trait Thicken: Send + Sync {
    /// `Some`: the snapshot event `body` stands for, its object read from
    /// `processor`'s API; `None`: `body` is not a thin event this can read.
    fn thicken(
        &self,
        processor: &str,
        body: &[u8],
    ) -> impl Future<Output = Result<Option<Vec<u8>>, ThinError>> + Send;
}

/// No processor API configured: thin events are read as they are (and
/// refused, with what to change).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoThin;

impl Thicken for NoThin {
    async fn thicken(&self, _: &str, _: &[u8]) -> Result<Option<Vec<u8>>, ThinError> {
        Ok(None)
    }
}

/// A processor API that may not be configured.
impl<T: Thicken> Thicken for Option<T> {
    async fn thicken(&self, processor: &str, body: &[u8]) -> Result<Option<Vec<u8>>, ThinError> {
        match self {
            Some(thin) => thin.thicken(processor, body).await,
            None => Ok(None),
        }
    }
}
