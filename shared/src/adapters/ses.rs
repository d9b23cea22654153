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

/// Sends email with SES v2 `SendEmail`: HTML and text, from the sender,
/// through the configuration set (so bounces and complaints reach the bus),
/// tagged with account, action and episode.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    sender: EmailAddress,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: Client, sender: EmailAddress, configuration_set: Option<String>) -> Self {
        Self {
            client,
            sender,
            configuration_set,
        }
    }
}

/// What an SES v2 `SendEmail` error code means for the one email and for
/// the contact. SES refuses a bad address at send time only when it is
/// malformed (`BadRequestException`); an address that does not exist
/// bounces later (feedback). `MessageRejected` is about us: an unverified
/// sender, the sandbox (every unverified recipient), or the content.
pub(crate) fn classify_send_error(code: Option<&str>, message: String) -> crate::ports::SendError {
    use crate::ports::SendError;
    match code {
        Some("BadRequestException" | "InvalidParameterValue") => SendError::Refused(message),
        Some(
            "MessageRejected"
            | "MailFromDomainNotVerifiedException"
            | "AccountSuspendedException"
            | "SendingPausedException"
            | "NotFoundException",
        ) => SendError::Systemic(message),
        _ => SendError::Retry(message),
    }
}

impl crate::ports::SendEmail for SesMailer {
    async fn send_email(
        &self,
        email: &crate::ports::OutgoingEmail,
    ) -> Result<String, crate::ports::SendError> {
        use crate::ports::SendError;
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| SendError::Refused(e.to_string()))
        };
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .html(content(&email.html)?)
                    .text(content(&email.text)?)
                    .build(),
            )
            .build();
        let mut tags = Vec::with_capacity(email.tags.len());
        for (name, value) in &email.tags {
            tags.push(
                MessageTag::builder()
                    .name(name)
                    .value(crate::domain::tag_value(value))
                    .build()
                    .map_err(|e| SendError::Refused(e.to_string()))?,
            );
        }
        let sent = self
            .client
            .send_email()
            .from_email_address(self.sender.as_str())
            .destination(
                Destination::builder()
                    .to_addresses(email.to.as_str())
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .set_email_tags(Some(tags))
            .send()
            .await;
        match sent {
            Ok(out) => out
                .message_id()
                .map(str::to_owned)
                .ok_or_else(|| SendError::Retry("SES returned no MessageId".into())),
            Err(e) => {
                let code = e.as_service_error().and_then(|s| {
                    use aws_sdk_sesv2::error::ProvideErrorMetadata;
                    s.code().map(str::to_owned)
                });
                let message = DisplayErrorContext(&e).to_string();
                Err(classify_send_error(code.as_deref(), message))
            }
        }
    }
}

#[cfg(test)]
mod send_error_tests {
    use super::classify_send_error;
    use crate::ports::SendError;

    #[test]
    fn our_own_setup_is_systemic_and_only_a_malformed_address_is_the_contacts() {
        let kind = |code: &str| classify_send_error(Some(code), code.to_owned());
        for code in [
            "MessageRejected",
            "MailFromDomainNotVerifiedException",
            "AccountSuspendedException",
            "SendingPausedException",
            "NotFoundException",
        ] {
            assert!(matches!(kind(code), SendError::Systemic(_)), "{code}");
        }
        assert!(matches!(kind("BadRequestException"), SendError::Refused(_)));
        assert!(matches!(
            kind("TooManyRequestsException"),
            SendError::Retry(_)
        ));
        assert!(matches!(
            classify_send_error(None, "timeout".into()),
            SendError::Retry(_)
        ));
    }
}
