//! What each Lambda runs, generic over the ports it needs. `main.rs` of each
//! function builds the clients once and calls in here.

pub mod dunning;
pub mod events;
pub mod ingest;
pub mod notifier;
pub mod portal;
pub mod reconcile;
#[cfg(test)]
mod tests;

use crate::ports::{PublishError, ReportError, StoreError};

/// A handler failure. Its Lambda error type tells retryable failures (the
/// bus or processor should redeliver) from permanent ones.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event does not have the shape this function accepts. Permanent.
    #[error("bad event: {0}")]
    BadEvent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bus did not take what this function publishes.
    #[error(transparent)]
    Bus(#[from] PublishError),
    /// Emails not sent yet (throttled, unavailable, claimed elsewhere): the
    /// bus redelivers and only the unsent ones go out. Retryable.
    #[error("{0}")]
    Mail(String),
    /// A processor's API could not be read, or another run moved first:
    /// the next run takes it up. Retryable.
    #[error("{0}")]
    Later(String),
    /// The event is well-formed but cannot be applied (unknown account,
    /// payment in another currency). Permanent.
    #[error("refused: {0}")]
    Refused(String),
}

impl From<crate::services::digest::DigestError> for HandlerError {
    fn from(e: crate::services::digest::DigestError) -> Self {
        match e {
            crate::services::digest::DigestError::Store(e) => Self::Store(e),
            crate::services::digest::DigestError::Bus(e) => Self::Bus(e),
        }
    }
}

impl HandlerError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::Bus(e) => matches!(e, PublishError::Unavailable(_)),
            Self::Mail(_) | Self::Later(_) => true,
            Self::BadEvent(_) | Self::Refused(_) => false,
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        let error_type = match &err {
            HandlerError::BadEvent(_) => "BadEvent",
            HandlerError::Refused(_) | HandlerError::Bus(PublishError::Refused(_)) => "Refused",
            HandlerError::Store(e) if !e.is_retryable() => "StoreRejected",
            HandlerError::Store(_)
            | HandlerError::Bus(_)
            | HandlerError::Mail(_)
            | HandlerError::Later(_) => "Retryable",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

impl From<ReportError> for HandlerError {
    fn from(err: ReportError) -> Self {
        match err {
            ReportError::Store(e) => Self::Store(e),
            ReportError::Bus(e) => Self::Bus(e),
        }
    }
}
