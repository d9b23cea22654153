//! The `ingest` function's HTTP boundary (a Lambda Function URL): route,
//! bound, verify the signature over the raw bytes, map to canonical events,
//! claim the delivery, publish, answer `{"outcome": …}`.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::config::{ConfigError, IngestSettings, WebhookSecret};
use crate::domain::{Account, ActionMessage, Event};
use crate::ports::{
    ApplyOutcome, Deliveries, DeliveryClaim, NewAccounts, PaymentLinks, Publish, PublishActions,
    PublishError, StoreError,
};
use crate::processors::Mapped;
use crate::processors::standard::signature::{ID_HEADER, StandardVerifier};
use crate::processors::stripe::mapping::{self, StripeEvent};
use crate::processors::stripe::signature::StripeVerifier;
use crate::processors::verify::WebhookVerifier;

/// Processors send small JSON documents; anything larger is refused unread.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The processors `ingest` accepts deliveries from, by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processor {
    Stripe,
    Standard,
}

impl Processor {
    pub fn from_path(path: &str) -> Option<Self> {
        match path.trim_end_matches('/') {
            "/stripe" => Some(Self::Stripe),
            "/standard" => Some(Self::Standard),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Standard => "standard",
        }
    }
}

/// Everything `ingest` needs, built once at init.
pub struct Ingest<S, B> {
    /// `None`: that endpoint is not configured (no secret) and answers 404.
    pub stripe: Option<StripeVerifier>,
    pub standard: Option<StandardVerifier>,
    pub store: S,
    pub bus: B,
}

fn reply(status: StatusCode, body: Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        lambda_http::http::header::CONTENT_TYPE,
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    response
}

fn refuse(status: StatusCode, outcome: &str, error: impl std::fmt::Display) -> Response<Body> {
    reply(
        status,
        json!({ "outcome": outcome, "error": error.to_string() }),
    )
}

fn unavailable(e: &StoreError) -> Response<Body> {
    tracing::error!(error = %e, retryable = e.is_retryable(), "store unavailable");
    refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        "retry",
        "storage is unavailable; nothing was applied, please retry",
    )
}

/// Answers one request. Never panics on what arrives over the network.
pub async fn handle<S, B>(deps: &Ingest<S, B>, request: &Request, now: i64) -> Response<Body>
where
    S: Deliveries + PaymentLinks + NewAccounts,
    B: Publish + PublishActions,
{
    let Some(processor) = Processor::from_path(request.uri().path()) else {
        return refuse(
            StatusCode::NOT_FOUND,
            "rejected",
            "unknown path: use /stripe or /standard",
        );
    };
    if request.method() != Method::POST {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "rejected",
            "webhooks are POSTed",
        );
    }
    let body: &[u8] = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "rejected",
            "body over 256 KiB",
        );
    }
    let verifier: Option<&dyn WebhookVerifier> = match processor {
        Processor::Stripe => deps.stripe.as_ref().map(|v| v as &dyn WebhookVerifier),
        Processor::Standard => deps.standard.as_ref().map(|v| v as &dyn WebhookVerifier),
    };
    let Some(verifier) = verifier else {
        return refuse(
            StatusCode::NOT_FOUND,
            "rejected",
            format!("{} webhooks are not configured", processor.name()),
        );
    };
    if let Err(e) = verifier.verify(request.headers(), body, now) {
        tracing::warn!(processor = processor.name(), reason = %e, "delivery refused: not authentic");
        return refuse(StatusCode::UNAUTHORIZED, "rejected", e);
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "rejected",
                format!("body is not JSON: {e}"),
            );
        }
    };
    let (delivery, events, account) = match processor {
        Processor::Stripe => match stripe_events(deps, &value).await {
            Ok(Delivery::Events(delivery, events, account)) => (delivery, events, account),
            Ok(Delivery::Alert(delivery, message)) => {
                return alert(deps, processor, &delivery, &message).await;
            }
            Err(response) => return response,
        },
        Processor::Standard => {
            let delivery = request
                .headers()
                .get(ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            match Event::from_json(&value) {
                Ok(event) => (delivery, vec![event], None),
                Err(e) => return refuse(StatusCode::BAD_REQUEST, "rejected", e),
            }
        }
    };
    deliver(deps, processor, &delivery, &events, account.as_ref()).await
}

/// What a Stripe delivery carries, with its delivery id.
enum Delivery {
    /// Canonical events, and the customer to create if new.
    Events(String, Vec<Event>, Option<Account>),
    /// A staff alert that changes no account (a dispute inquiry).
    Alert(String, ActionMessage),
}

async fn stripe_events<S, B>(deps: &Ingest<S, B>, value: &Value) -> Result<Delivery, Response<Body>>
where
    S: PaymentLinks,
{
    let env =
        StripeEvent::parse(value).map_err(|e| refuse(StatusCode::BAD_REQUEST, "rejected", e))?;
    let mut link = None;
    for id in mapping::link_ids(&env) {
        link = deps
            .store
            .find_link(&id)
            .await
            .map_err(|e| unavailable(&e))?;
        if link.is_some() {
            break;
        }
    }
    match mapping::map(&env, link) {
        Err(e) => Err(refuse(StatusCode::BAD_REQUEST, "rejected", e)),
        Ok(Mapped::Ignored { reason }) => {
            tracing::info!(delivery = env.id, kind = env.kind, reason = %reason, "delivery ignored");
            Err(reply(
                StatusCode::OK,
                json!({ "outcome": "ignored", "reason": reason }),
            ))
        }
        Ok(Mapped::WaitingForLink { ids }) => {
            tracing::info!(
                delivery = env.id,
                kind = env.kind,
                ?ids,
                "waiting for the payment that links this charge"
            );
            let mut r = refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "retry",
                "the payment this refers to has not been applied yet; retry later",
            );
            r.headers_mut().insert(
                "retry-after",
                lambda_http::http::HeaderValue::from_static("60"),
            );
            Err(r)
        }
        Ok(Mapped::Events { events, account }) => {
            Ok(Delivery::Events(env.id.to_owned(), events, account))
        }
        Ok(Mapped::Alert(message)) => Ok(Delivery::Alert(env.id.to_owned(), message)),
    }
}

/// Runs `publish` once per delivery: claims the delivery id (one already
/// published answers `duplicate()`), publishes, then marks it published. A
/// failed publish leaves the claim pending, so the processor's retry
/// publishes again.
async fn once<S, T>(
    deps: &Ingest<S, impl Sized>,
    processor: Processor,
    delivery: &str,
    duplicate: impl FnOnce() -> Response<Body>,
    publish: impl Future<Output = Result<T, Response<Body>>>,
) -> Result<T, Response<Body>>
where
    S: Deliveries,
{
    match deps.store.claim_delivery(processor.name(), delivery).await {
        Ok(DeliveryClaim::AlreadyPublished) => {
            tracing::info!(outcome = "duplicate", "delivery seen before");
            return Err(duplicate());
        }
        Ok(DeliveryClaim::Publish) => {}
        Err(e) => return Err(unavailable(&e)),
    }
    let published = publish.await?;
    if let Err(e) = deps.store.mark_published(processor.name(), delivery).await {
        // Published already; a retry re-publishes and consumers dedupe by id.
        tracing::warn!(error = %e, "delivery published but not marked");
    }
    Ok(published)
}

/// Publishes a staff alert, once per delivery.
async fn alert<S, B>(
    deps: &Ingest<S, B>,
    processor: Processor,
    delivery: &str,
    message: &ActionMessage,
) -> Response<Body>
where
    S: Deliveries,
    B: PublishActions,
{
    let span = tracing::info_span!("alert", processor = processor.name(), delivery, account = %message.account, message_id = message.id);
    let publish = async {
        deps.bus
            .publish_actions(std::slice::from_ref(message))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "alert not published; the processor will retry");
                refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "retry",
                    "could not publish; please retry",
                )
            })
    };
    let duplicate = || reply(StatusCode::OK, json!({ "outcome": "duplicate" }));
    async {
        match once(deps, processor, delivery, duplicate, publish).await {
            Ok(()) => {
                tracing::info!(
                    outcome = "ignored",
                    action = message.action,
                    "dispute inquiry: staff alerted"
                );
                reply(
                    StatusCode::OK,
                    json!({ "outcome": "ignored", "reason": message.reason, "alert": message.action }),
                )
            }
            Err(response) => response,
        }
    }
    .instrument(span)
    .await
}

async fn deliver<S, B>(
    deps: &Ingest<S, B>,
    processor: Processor,
    delivery: &str,
    events: &[Event],
    account: Option<&Account>,
) -> Response<Body>
where
    S: Deliveries + NewAccounts,
    B: Publish,
{
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let span = tracing::info_span!("deliver", processor = processor.name(), delivery, ?ids);
    let publish = async {
        if let Some(account) = account
            && let Err(e) = deps.store.create_if_missing(account).await
        {
            return Err(unavailable(&e));
        }
        match deps
            .bus
            .publish(&format!("pastdue.{}", processor.name()), events)
            .await
        {
            Ok(outcomes) => Ok(outcomes),
            Err(PublishError::Unavailable(e)) => {
                tracing::error!(error = %e, "publish failed; the processor will retry");
                Err(refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "retry",
                    "could not publish; nothing was applied, please retry",
                ))
            }
            Err(PublishError::Refused(e)) => {
                tracing::error!(error = %e, "event refused");
                Err(refuse(StatusCode::BAD_REQUEST, "rejected", e))
            }
        }
    };
    let duplicate = || {
        reply(
            StatusCode::OK,
            json!({ "outcome": "duplicate", "events": ids }),
        )
    };
    async {
        let outcomes = match once(deps, processor, delivery, duplicate, publish).await {
            Ok(outcomes) => outcomes,
            Err(response) => return response,
        };
        // Nothing new took effect (e.g. Stripe's second event for one payment).
        let outcome = if outcomes
            .iter()
            .all(|o| matches!(o, Some(ApplyOutcome::Duplicate | ApplyOutcome::NoEffect)))
        {
            "duplicate"
        } else if outcomes.iter().any(Option::is_none) {
            "accepted"
        } else {
            "applied"
        };
        tracing::info!(outcome, "delivery handled");
        reply(StatusCode::OK, json!({ "outcome": outcome, "events": ids }))
    }
    .instrument(span)
    .await
}

/// The verifiers `ingest`'s settings configure: `None` where a processor
/// has no secret.
pub struct Settings {
    pub stripe: Option<StripeVerifier>,
    pub standard: Option<StandardVerifier>,
}

impl Settings {
    /// Reads the settings from the process environment (and SSM).
    pub async fn from_env(config: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        Self::from_settings(&IngestSettings::from_env(config).await?)
    }

    /// Reads the settings through `var` (see [`IngestSettings::load`]).
    pub async fn load(
        var: impl Fn(&str) -> Option<String>,
        config: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        Self::from_settings(&IngestSettings::load(var, config).await?)
    }

    fn from_settings(settings: &IngestSettings) -> Result<Self, ConfigError> {
        let tolerance = settings.tolerance_secs;
        let invalid = |secret: &WebhookSecret| {
            let name = secret.var();
            move |reason: String| ConfigError::Invalid { name, reason }
        };
        Ok(Self {
            stripe: settings
                .webhook_secret("stripe")
                .map(|s| StripeVerifier::new(s.expose(), tolerance).map_err(invalid(s)))
                .transpose()?,
            standard: settings
                .webhook_secret("standard")
                .map(|s| StandardVerifier::new(s.expose(), tolerance).map_err(invalid(s)))
                .transpose()?,
        })
    }
}
