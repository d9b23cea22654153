//! DynamoDB: the table schema (read from `infra/template.yaml`), the key
//! layout, and the port implementations, one concern per file:
//!
//! - [`keys`] and [`states`]: every key, attribute and state the table holds;
//! - `codec`, `capacity`, `table`: items in and out, capacity metering, the
//!   store and its few calls;
//! - `accounts`: loading and committing an account (the repository);
//! - `deliveries`, `links`, `outbox`, `checkpoints`, `mail_log`: the
//!   bookkeeping each function needs;
//! - `operator`: timeline, lists, export and import; `restore`: an
//!   account back from an export as a whole;
//! - `due`: the due index the daily run reads.

mod accounts;
mod attention;
mod capacity;
mod checkpoints;
mod codec;
mod deliveries;
mod due;
pub mod item_json;
pub mod keys;
mod links;
mod mail_log;
mod operator;
mod outbox;
mod restore;
pub mod schema;
pub mod states;
mod table;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
pub use capacity::Capacity;
pub use codec::Item;
pub use due::DynamoDueIndex;
pub use mail_log::MailRecord;
pub use operator::AccountSummary;
pub use restore::Restored;
pub use table::DynamoStore;

use crate::ports::StoreError;

/// Error codes after which the same request can succeed later.
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Decides retryable vs not where the error arises.
pub(crate) fn classify<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let retryable = match &err {
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .is_some_and(|code| RETRYABLE_CODES.contains(&code)),
        SdkError::ConstructionFailure(_) => false,
        // Timeouts, dispatch (connection) failures, unparseable responses.
        _ => true,
    };
    let message = match &err {
        SdkError::ServiceError(service) => format!(
            "{}: {}",
            service.err().code().unwrap_or("unknown error"),
            service.err().message().unwrap_or("no message")
        ),
        other => DisplayErrorContext(other).to_string(),
    };
    if retryable {
        StoreError::Unavailable { operation, message }
    } else {
        StoreError::Rejected { operation, message }
    }
}
