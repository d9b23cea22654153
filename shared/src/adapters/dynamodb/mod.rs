//! DynamoDB: the table schema (read from `infra/template.yaml`), the key
//! layout, and the port implementations.

mod due;
pub mod item_json;
pub mod keys;
pub mod schema;
pub mod store;

pub use due::DynamoDueIndex;
pub use store::{DynamoStore, Loaded, MailRecord, TimelineEntry, UpdateFailure, Upsert};

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

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
