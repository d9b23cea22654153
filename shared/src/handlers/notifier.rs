//! The `notifier` function: action messages from the bus become emails,
//! one per recipient, each greeting that person by their own name; SES
//! bounce and complaint events mark the contact undeliverable and ask staff
//! to phone the customer.
//!
//! At most once per (notice, recipient): the mail log is claimed before
//! sending, and a claim a crash left behind is taken over after its lease.
//! Throttling backs off and retries; a refused address is recorded, its
//! contact marked undeliverable and staff alerted (completed again on a
//! redelivery, should an attempt stop in between), and the other recipients
//! are still written to. SES refusing mail because of our own setup marks
//! nobody: it is retried and alarmed on. Feedback about the staff address
//! never makes staff mail (it would bounce again, for ever): it alarms.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tracing::Instrument;

use super::HandlerError;
use crate::domain::{ActionMessage, EmailAddress, tag_value};
use crate::notify::render::{Audience, Failure, Templates, UNDELIVERABLE};
use crate::ports::{
    MailClaim, MailKey, MailLog, MarkUndeliverable, OutgoingEmail, SendEmail, SendError,
    Undeliverable,
};

/// The signer of the customer-page links in the emails, or `None` with an
/// error logged (`portal_links_disabled`, which `NotifierMailSetupAlarm`
/// watches) when the page's settings cannot be read: a missing link must
/// not stop the emails themselves.
pub async fn portal_links(
    var: impl Fn(&str) -> Option<String>,
    config: &aws_config::SdkConfig,
) -> Option<crate::portal::link::LinkSigner> {
    crate::config::link_signer(var, config)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(
                error = %e,
                portal_links_disabled = true,
                "emails go out without the customer-page link"
            );
            None
        })
}

/// Sends attempted per email before giving the notice back to the bus.
const SEND_ATTEMPTS: u32 = 4;

/// Everything the notifier needs, built once at init.
pub struct Notifier<S, M, U> {
    /// The mail log.
    pub store: S,
    pub mail: M,
    /// Where unreachable contacts are reported ([`crate::services::ReportUndeliverable`] in AWS).
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
        return Err(HandlerError::Mail(format!(
            "{} email(s) not sent yet; retry",
            report.retry
        )));
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
            count(&mut report, &send_notice(deps, &notice, None, now).await?);
            return Ok(report);
        }
        for r in &message.recipients {
            let outcome = send_notice(deps, &notice, Some((&r.email, &r.name)), now).await?;
            count(&mut report, &outcome);
            if let EmailOutcome::Refused(reason) | EmailOutcome::RefusedBefore(reason) = &outcome {
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

fn count(report: &mut NotifyReport, outcome: &EmailOutcome) {
    match outcome {
        EmailOutcome::Sent => report.sent += 1,
        EmailOutcome::Skipped | EmailOutcome::RefusedBefore(_) => report.skipped += 1,
        EmailOutcome::Refused(_) => report.refused += 1,
        EmailOutcome::Retry => report.retry += 1,
    }
}

/// What became of one email.
enum EmailOutcome {
    Sent,
    Skipped,
    Refused(String),
    /// Refused on an earlier delivery of the same notice.
    RefusedBefore(String),
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
async fn send_notice<S, M, U>(
    deps: &Notifier<S, M, U>,
    notice: &Notice<'_>,
    contact: Option<(&EmailAddress, &str)>,
    now: DateTime<Utc>,
) -> Result<EmailOutcome, HandlerError>
where
    S: MailLog,
    M: SendEmail,
{
    let message = notice.message;
    let (to, audience) = match contact {
        Some((email, name)) => (email, Audience::Contact { name, email }),
        None => (&deps.staff, Audience::Staff),
    };
    let key = MailKey {
        account: &message.account,
        message: notice.id,
        recipient: to.as_str(),
    };
    match deps.store.claim_mail(&key, now, deps.lease).await? {
        MailClaim::Claimed => {}
        MailClaim::Sent => return Ok(EmailOutcome::Skipped),
        MailClaim::Refused(reason) => return Ok(EmailOutcome::RefusedBefore(reason)),
        MailClaim::Busy => return Ok(EmailOutcome::Retry),
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
                    Audience::Contact { name, .. } => (name, "contact"),
                    Audience::Staff => ("staff", "staff"),
                };
                let detail = json!({
                    "action": notice.template, "episode": message.episode, "date": message.date,
                    "name": name, "audience": audience, "subject": email.subject,
                });
                deps.store.mail_sent(&key, &id, now, &detail).await?;
                tracing::info!(recipient = %tag_value(to.as_str()), ses_message_id = id, "email sent");
                return Ok(EmailOutcome::Sent);
            }
            Err(SendError::Refused(reason)) => {
                tracing::warn!(reason, "email refused");
                deps.store.mail_refused(&key, &reason, now).await?;
                return Ok(EmailOutcome::Refused(reason));
            }
            Err(SendError::Systemic(reason)) => {
                // `systemic`: the template's alarm filter.
                tracing::error!(
                    reason,
                    systemic = true,
                    "SES refuses all mail (our sending setup): nobody is marked; retry later"
                );
                deps.store.mail_release(&key).await?;
                return Err(HandlerError::Mail(format!(
                    "SES refuses all mail: {reason}"
                )));
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
                    return Ok(EmailOutcome::Retry);
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
) -> Result<EmailOutcome, HandlerError>
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
    send_notice(deps, &notice, None, now).await
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
        if email.eq_ignore_ascii_case(deps.staff.as_str()) {
            // `staff_undeliverable`: the template's alarm filter.
            tracing::error!(
                kind,
                ses_message_id = ses_id,
                staff_undeliverable = true,
                "the staff address cannot receive mail: no staff alert is sent about it"
            );
            continue;
        }
        let alert = format!("ses:{ses_id}:{kind}:{email}");
        let outcome = undeliverable(deps, &message, &alert, email, &reason, now).await?;
        count(&mut report, &outcome);
    }
    Ok(report)
}
