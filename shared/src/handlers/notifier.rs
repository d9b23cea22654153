//! The `notifier` function: action messages from the bus become emails,
//! one per recipient, each greeting that person by their own name; SES
//! bounce and complaint events mark the contact undeliverable and ask staff
//! to phone the customer.
//!
//! At most once per (notice, recipient): the mail log is claimed before
//! sending, and a claim a crash left behind is taken over after its lease.
//! Throttling backs off and retries; a refused address is recorded, its
//! contact marked undeliverable and staff alerted, and the other recipients
//! are still written to.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tracing::Instrument;

use super::HandlerError;
use crate::adapters::ses::tag_value;
use crate::domain::{ActionMessage, EmailAddress, Event, EventId, EventKind};
use crate::notify::render::{Audience, Failure, Templates, UNDELIVERABLE};
use crate::ports::{
    ContactNames, MailClaim, MailKey, MailLog, MarkUndeliverable, OutgoingEmail, Publish,
    PublishError, SendEmail, SendError, StoreError, Undeliverable,
};

/// The bus source of the notifier's reports.
pub const SOURCE: &str = "pastdue.notifier";

/// Reports an unreachable contact as a `contact_undeliverable` event on the
/// bus; the function that owns account writes applies it, exactly once by
/// its id. The notifier itself may write only its mail log: never an
/// account, never an invoice.
#[derive(Debug, Clone)]
pub struct MarkByEvent<C, B> {
    pub contacts: C,
    pub bus: B,
}

impl<C: ContactNames, B: Publish> MarkUndeliverable for MarkByEvent<C, B> {
    async fn mark_undeliverable(
        &self,
        report: &Undeliverable<'_>,
    ) -> Result<Option<String>, StoreError> {
        let name = self
            .contacts
            .contact_name(report.account, report.email)
            .await?;
        let (Ok(email), Ok(id)) = (
            EmailAddress::parse(report.email),
            EventId::parse(&format!("undeliverable:{}", report.id)),
        ) else {
            tracing::warn!(
                email = %tag_value(report.email),
                "not an address an account can hold: nothing to mark"
            );
            return Ok(name);
        };
        let event = Event {
            id,
            at: report.at,
            account: report.account.clone(),
            kind: EventKind::ContactUndeliverable {
                email,
                reason: report.reason.to_owned(),
            },
        };
        // Boxed: the bus's future is deep, and the notifier's would carry it.
        Box::pin(self.bus.publish(SOURCE, std::slice::from_ref(&event)))
            .await
            .map_err(|e| match e {
                PublishError::Refused(message) => StoreError::Rejected {
                    operation: "publish contact_undeliverable",
                    message,
                },
                other => StoreError::Unavailable {
                    operation: "publish contact_undeliverable",
                    message: other.to_string(),
                },
            })?;
        Ok(name)
    }
}

/// Sends attempted per email before giving the notice back to the bus.
const SEND_ATTEMPTS: u32 = 4;

/// Everything the notifier needs, built once at init.
pub struct Notifier<S, M, U> {
    /// The mail log.
    pub store: S,
    pub mail: M,
    /// Where unreachable contacts are reported ([`MarkByEvent`] in AWS).
    pub marks: U,
    pub templates: Templates,
    /// Where staff-only notices and alerts go.
    pub staff: EmailAddress,
    /// How long a claim protects a send in progress.
    pub lease: chrono::Duration,
}

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NotifyReport {
    pub sent: usize,
    /// Already sent (or refused) before: a redelivery.
    pub skipped: usize,
    pub refused: usize,
    /// Left for the bus to retry (throttled, unavailable, claimed elsewhere).
    pub retry: usize,
}

/// The bus envelope: an action message from `pastdue.engine`, or an SES
/// event (`aws.ses`) about a bounce or complaint.
pub async fn handle<S, M, U>(
    deps: &Notifier<S, M, U>,
    envelope: &Value,
    now: DateTime<Utc>,
) -> Result<NotifyReport, HandlerError>
where
    S: MailLog,
    U: MarkUndeliverable,
    M: SendEmail,
{
    let detail = envelope
        .get("detail")
        .ok_or_else(|| HandlerError::BadEvent("no detail".into()))?;
    let report = if envelope.get("source").and_then(Value::as_str) == Some("aws.ses") {
        ses_feedback(deps, detail, now).await?
    } else {
        let message = ActionMessage::from_json(detail).map_err(HandlerError::BadEvent)?;
        notify(deps, &message, now).await?
    };
    if report.retry > 0 {
        // Sent ones are in the mail log; the redelivery sends only the rest.
        return Err(HandlerError::Store(StoreError::Unavailable {
            operation: "SendEmail",
            message: format!("{} email(s) not sent yet; retry", report.retry),
        }));
    }
    Ok(report)
}

/// Sends `message` to each recipient (staff when it has none).
pub async fn notify<S, M, U>(
    deps: &Notifier<S, M, U>,
    message: &ActionMessage,
    now: DateTime<Utc>,
) -> Result<NotifyReport, HandlerError>
where
    S: MailLog,
    U: MarkUndeliverable,
    M: SendEmail,
{
    let span = tracing::info_span!("notify", account = %message.account, action = message.action, message_id = message.id);
    async {
        let mut report = NotifyReport::default();
        let notice = Notice {
            message,
            template: &message.action,
            id: &message.id,
            failure: Failure::default(),
        };
        if message.recipients.is_empty() {
            count(&mut report, &deliver(deps, &notice, None, now).await?);
            return Ok(report);
        }
        for r in &message.recipients {
            let outcome = deliver(deps, &notice, Some((&r.email, &r.name)), now).await?;
            count(&mut report, &outcome);
            if let Delivery::Refused(reason) = &outcome {
                let alert = format!("{}:undeliverable:{}", message.id, r.email);
                let outcome =
                    undeliverable(deps, message, &alert, r.email.as_str(), reason, now).await?;
                count(&mut report, &outcome);
            }
        }
        Ok(report)
    }
    .instrument(span)
    .await
}

fn count(report: &mut NotifyReport, outcome: &Delivery) {
    match outcome {
        Delivery::Sent => report.sent += 1,
        Delivery::Skipped => report.skipped += 1,
        Delivery::Refused(_) => report.refused += 1,
        Delivery::Retry => report.retry += 1,
    }
}

enum Delivery {
    Sent,
    Skipped,
    Refused(String),
    Retry,
}

/// One email to write: the message it is about, its template, the id the
/// mail log keeps it under, and (for the undeliverable alert) what failed.
struct Notice<'a> {
    message: &'a ActionMessage,
    template: &'a str,
    id: &'a str,
    failure: Failure<'a>,
}

/// Claims, renders, sends and records one email, to a contact (address and
/// name) or, for `None`, to staff.
async fn deliver<S, M, U>(
    deps: &Notifier<S, M, U>,
    notice: &Notice<'_>,
    contact: Option<(&EmailAddress, &str)>,
    now: DateTime<Utc>,
) -> Result<Delivery, HandlerError>
where
    S: MailLog,
    M: SendEmail,
{
    let message = notice.message;
    let (to, audience) = match contact {
        Some((email, name)) => (email, Audience::Contact { name }),
        None => (&deps.staff, Audience::Staff),
    };
    let key = MailKey {
        account: &message.account,
        message: notice.id,
        recipient: to.as_str(),
    };
    match deps.store.claim_mail(&key, now, deps.lease).await? {
        MailClaim::Claimed => {}
        MailClaim::Done => return Ok(Delivery::Skipped),
        MailClaim::Busy => return Ok(Delivery::Retry),
    }
    let rendered = deps
        .templates
        .render(notice.template, message, audience, &notice.failure)
        .map_err(|e| HandlerError::BadEvent(e.to_string()))?;
    let email = OutgoingEmail {
        to: to.clone(),
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
        tags: vec![
            ("account".into(), message.account.to_string()),
            ("action".into(), notice.template.to_owned()),
            (
                "episode".into(),
                message
                    .episode
                    .map_or_else(|| "none".to_owned(), |e| e.to_string()),
            ),
        ],
    };
    let mut attempt = 0;
    loop {
        match deps.mail.send_email(&email).await {
            Ok(id) => {
                let (name, audience) = match audience {
                    Audience::Contact { name } => (name, "contact"),
                    Audience::Staff => ("staff", "staff"),
                };
                let detail = json!({
                    "action": notice.template, "episode": message.episode, "date": message.date,
                    "name": name, "audience": audience, "subject": email.subject,
                });
                deps.store.mail_sent(&key, &id, now, &detail).await?;
                tracing::info!(recipient = %tag_value(to.as_str()), ses_message_id = id, "email sent");
                return Ok(Delivery::Sent);
            }
            Err(SendError::Refused(reason)) => {
                tracing::warn!(reason, "email refused");
                deps.store.mail_refused(&key, &reason, now).await?;
                return Ok(Delivery::Refused(reason));
            }
            Err(SendError::Retry(reason)) => {
                attempt += 1;
                if attempt >= SEND_ATTEMPTS {
                    tracing::warn!(
                        reason,
                        attempts = attempt,
                        "email not sent; left for a retry"
                    );
                    deps.store.mail_release(&key).await?;
                    return Ok(Delivery::Retry);
                }
                let cap = 100u64 << (2 * attempt);
                tokio::time::sleep(std::time::Duration::from_millis(fastrand::u64(
                    cap / 2..=cap,
                )))
                .await;
            }
        }
    }
}

/// A contact cannot receive mail (refused, bounced, complained): mark it on
/// the account and ask staff, once per `alert` id, to phone the customer.
async fn undeliverable<S, M, U>(
    deps: &Notifier<S, M, U>,
    message: &ActionMessage,
    alert: &str,
    email: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Delivery, HandlerError>
where
    S: MailLog,
    U: MarkUndeliverable,
    M: SendEmail,
{
    let report = Undeliverable {
        id: alert,
        account: &message.account,
        email,
        reason,
        at: now,
    };
    let name = deps
        .marks
        .mark_undeliverable(&report)
        .await?
        .unwrap_or_else(|| email.to_owned());
    let notice = Notice {
        message,
        template: UNDELIVERABLE,
        id: alert,
        failure: Failure {
            name: &name,
            email,
            reason,
        },
    };
    deliver(deps, &notice, None, now).await
}

/// An SES event on the bus: a permanent bounce or a complaint marks the
/// recipients undeliverable and alerts staff. Transient bounces are left
/// to SES's own retries.
async fn ses_feedback<S, M, U>(
    deps: &Notifier<S, M, U>,
    detail: &Value,
    now: DateTime<Utc>,
) -> Result<NotifyReport, HandlerError>
where
    S: MailLog,
    U: MarkUndeliverable,
    M: SendEmail,
{
    let kind = detail
        .get("eventType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (recipients, reason) = match kind {
        "Bounce" => {
            let bounce = &detail["bounce"];
            if bounce["bounceType"].as_str() != Some("Permanent") {
                return Ok(NotifyReport::default());
            }
            let why = format!(
                "bounced ({})",
                bounce["bounceSubType"].as_str().unwrap_or("permanent")
            );
            (&bounce["bouncedRecipients"], why)
        }
        "Complaint" => (
            &detail["complaint"]["complainedRecipients"],
            "marked our mail as spam".to_owned(),
        ),
        _ => return Ok(NotifyReport::default()),
    };
    let account = detail["mail"]["tags"]["account"][0]
        .as_str()
        .and_then(|a| crate::domain::AccountId::parse(a).ok())
        .ok_or_else(|| HandlerError::BadEvent("SES event without an account tag".into()))?;
    let ses_id = detail["mail"]["messageId"].as_str().unwrap_or("unknown");
    let message = ActionMessage::staff_note(account, now, &format!("ses {ses_id}"));
    let mut report = NotifyReport::default();
    for r in recipients.as_array().map(Vec::as_slice).unwrap_or_default() {
        let Some(email) = r["emailAddress"].as_str() else {
            continue;
        };
        let alert = format!("ses:{ses_id}:{kind}:{email}");
        let outcome = undeliverable(deps, &message, &alert, email, &reason, now).await?;
        count(&mut report, &outcome);
    }
    Ok(report)
}
