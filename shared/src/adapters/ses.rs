//! SES v2.

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{DisplayErrorContext, SdkError};

use crate::domain::EmailAddress;

#[derive(Debug, thiserror::Error)]
#[error("SES refused {operation}: {message}")]
pub struct SesError {
    pub operation: &'static str,
    pub message: String,
}

/// What [`verify_sender`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderSetup {
    Created,
    AlreadyThere,
}

/// Starts verification of the sender identity (`CreateEmailIdentity`);
/// idempotent. On AWS, SES then mails a confirmation link (or checks the
/// domain's DNS); the SES emulator verifies at once.
pub async fn verify_sender(
    client: &Client,
    sender: &EmailAddress,
) -> Result<SenderSetup, SesError> {
    match client
        .create_email_identity()
        .email_identity(sender.as_str())
        .send()
        .await
    {
        Ok(_) => Ok(SenderSetup::Created),
        Err(SdkError::ServiceError(e)) if e.err().is_already_exists_exception() => {
            Ok(SenderSetup::AlreadyThere)
        }
        Err(e) => Err(SesError {
            operation: "CreateEmailIdentity",
            message: DisplayErrorContext(&e).to_string(),
        }),
    }
}
