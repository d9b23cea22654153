//! The `ingest` function's HTTP boundary (a Lambda Function URL): find the
//! processor for the path, bound, verify the signature over the raw bytes,
//! map to canonical events, claim the delivery, publish, answer
//! `{"outcome": …}`. Nothing here depends on which processor it is.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::domain::{Account, ActionMessage, Event};
use crate::ports::{
    ApplyOutcome, Deliveries, DeliveryClaim, NewAccounts, PaymentLinks, Publish, PublishActions,
    PublishError, StoreError,
};
use crate::processors::{Link, Mapped, Processors};

/// Processors send small JSON documents; anything larger is refused unread.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Everything `ingest` needs, built once at init.
pub struct Ingest<S, A, B> {
    /// Every known processor; one without a secret answers 404.
    pub processors: Processors,
    /// Delivery claims and payment links.
    pub store: S,
    /// Creates the customers a processor introduces.
    pub accounts: A,
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

/// "/a", "/a or /b", "/a, /b or /c".
fn either(paths: impl Iterator<Item = &'static str>) -> String {
    let paths: Vec<&str> = paths.collect();
    match paths.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Answers one request. Never panics on what arrives over the network.
pub async fn handle<S, A, B>(deps: &Ingest<S, A, B>, request: &Request, now: i64) -> Response<Body>
where
    S: Deliveries + PaymentLinks,
    A: NewAccounts,
    B: Publish + PublishActions,
{
    let Some(registered) = deps.processors.find(request.uri().path()) else {
        return refuse(
            StatusCode::NOT_FOUND,
            "rejected",
            format!("unknown path: use {}", either(deps.processors.paths())),
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
    let Some(processor) = registered.processor() else {
        return refuse(
            StatusCode::NOT_FOUND,
            "rejected",
            format!("{} webhooks are not configured", registered.name()),
        );
    };
    let headers = request.headers();
    if let Err(e) = processor.verify(headers, body, now) {
        tracing::warn!(processor = registered.name(), reason = %e, "delivery refused: not authentic");
        return refuse(StatusCode::UNAUTHORIZED, "rejected", e);
    }
    let delivery = match processor.read(headers, body) {
        Ok(delivery) => delivery,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "rejected", e),
    };
    let link = match find_link(deps, delivery.links_needed()).await {
        Ok(link) => link,
        Err(e) => return unavailable(&e),
    };
    let kind = delivery.kind();
    let mapped = delivery.map(link);
    let delivery = delivery.id();
    match mapped {
        Err(e) => refuse(StatusCode::BAD_REQUEST, "rejected", e),
        Ok(Mapped::Ignored { reason }) => {
            tracing::info!(processor = registered.name(), delivery, kind, reason = %reason, "delivery ignored");
            reply(
                StatusCode::OK,
                json!({ "outcome": "ignored", "reason": reason }),
            )
        }
        Ok(Mapped::WaitingForLink { ids }) => {
            tracing::info!(
                processor = registered.name(),
                delivery,
                kind,
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
            r
        }
        Ok(Mapped::Events { events, account }) => {
            // How long the oldest event waited to be taken: a processor
            // retrying what failed here before shows as a growing lag (the
            // template alarms on it).
            let lag_seconds = events
                .iter()
                .map(|e| now - e.at.timestamp())
                .max()
                .unwrap_or(0)
                .max(0);
            publish_events(
                deps,
                registered.name(),
                delivery,
                &events,
                account.as_ref(),
                lag_seconds,
            )
            .await
        }
        Ok(Mapped::Alert(message)) => {
            publish_alert(deps, registered.name(), delivery, &message).await
        }
    }
}

/// The first of `ids` that links to an invoice, if any.
async fn find_link<S, A, B>(
    deps: &Ingest<S, A, B>,
    ids: Vec<String>,
) -> Result<Option<Link>, StoreError>
where
    S: PaymentLinks,
{
    for id in ids {
        if let Some(link) = deps.store.find_link(&id).await? {
            return Ok(Some(link));
        }
    }
    Ok(None)
}

/// Runs `publish` once per delivery: claims the delivery id (one already
/// published answers `duplicate()`), publishes, then marks it published. A
/// failed publish leaves the claim pending, so the processor's retry
/// publishes again.
async fn publish_once<S, T>(
    deps: &Ingest<S, impl Sized, impl Sized>,
    processor: &str,
    delivery: &str,
    duplicate: impl FnOnce() -> Response<Body>,
    publish: impl Future<Output = Result<T, Response<Body>>>,
) -> Result<T, Response<Body>>
where
    S: Deliveries,
{
    match deps.store.claim_delivery(processor, delivery).await {
        Ok(DeliveryClaim::AlreadyPublished) => {
            tracing::info!(outcome = "duplicate", "delivery seen before");
            return Err(duplicate());
        }
        Ok(DeliveryClaim::Publish) => {}
        Err(e) => return Err(unavailable(&e)),
    }
    let published = publish.await?;
    if let Err(e) = deps.store.mark_published(processor, delivery).await {
        // Published already; a retry re-publishes and consumers dedupe by id.
        tracing::warn!(error = %e, "delivery published but not marked");
    }
    Ok(published)
}

/// Publishes a staff alert, once per delivery.
async fn publish_alert<S, A, B>(
    deps: &Ingest<S, A, B>,
    processor: &str,
    delivery: &str,
    message: &ActionMessage,
) -> Response<Body>
where
    S: Deliveries,
    B: PublishActions,
{
    let span = tracing::info_span!("alert", processor, delivery, account = %message.account, message_id = message.id);
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
        match publish_once(deps, processor, delivery, duplicate, publish).await {
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

/// Publishes canonical events (creating their customer's account first, if
/// new), once per delivery, and says whether anything took effect.
async fn publish_events<S, A, B>(
    deps: &Ingest<S, A, B>,
    processor: &str,
    delivery: &str,
    events: &[Event],
    account: Option<&Account>,
    lag_seconds: i64,
) -> Response<Body>
where
    S: Deliveries,
    A: NewAccounts,
    B: Publish,
{
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let span = tracing::info_span!("deliver", processor, delivery, ?ids);
    let publish = async {
        if let Some(account) = account
            && let Err(e) = deps.accounts.create_if_missing(account).await
        {
            return Err(unavailable(&e));
        }
        match deps
            .bus
            .publish(&format!("pastdue.{processor}"), events)
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
        let outcomes = match publish_once(deps, processor, delivery, duplicate, publish).await {
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
        tracing::info!(outcome, lag_seconds, "delivery handled");
        reply(StatusCode::OK, json!({ "outcome": outcome, "events": ids }))
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, IngestSettings};
    use crate::domain::AccountId;
    use crate::ports::DeliveryClaim;

    /// Neither store nor bus: the answers tested here come before either.
    struct Untouched;

    impl Deliveries for Untouched {
        async fn claim_delivery(&self, _: &str, _: &str) -> Result<DeliveryClaim, StoreError> {
            unreachable!("claimed")
        }
        async fn mark_published(&self, _: &str, _: &str) -> Result<(), StoreError> {
            unreachable!("marked")
        }
    }

    impl PaymentLinks for Untouched {
        async fn find_link(
            &self,
            _: &str,
        ) -> Result<Option<(AccountId, crate::domain::InvoiceId)>, StoreError> {
            unreachable!("looked up")
        }
    }

    impl NewAccounts for Untouched {
        async fn create_if_missing(&self, _: &Account) -> Result<bool, StoreError> {
            unreachable!("created")
        }
    }

    impl Publish for Untouched {
        async fn publish(
            &self,
            _: &str,
            _: &[Event],
        ) -> Result<Vec<Option<ApplyOutcome>>, PublishError> {
            unreachable!("published")
        }
    }

    impl PublishActions for Untouched {
        async fn publish_actions(&self, _: &[ActionMessage]) -> Result<(), PublishError> {
            unreachable!("published")
        }
    }

    /// Stripe configured, Standard Webhooks known but without a secret.
    async fn stripe_only() -> Result<Ingest<Untouched, Untouched, Untouched>, ConfigError> {
        let var = |k: &str| (k == "STRIPE_WEBHOOK_SECRET").then(|| "whsec_test".to_owned());
        let settings = IngestSettings::load(var, &aws_config::SdkConfig::builder().build()).await?;
        Ok(Ingest {
            processors: Processors::from_settings(&settings)?,
            store: Untouched,
            accounts: Untouched,
            bus: Untouched,
        })
    }

    async fn answer(
        deps: &Ingest<Untouched, Untouched, Untouched>,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut request = Request::new(Body::Binary(body));
        *request.method_mut() = method.parse().unwrap();
        *request.uri_mut() = format!("https://x.lambda-url.us-east-1.on.aws{path}")
            .parse()
            .unwrap();
        let response = handle(deps, &request, 0).await;
        let Body::Text(text) = response.body() else {
            panic!("JSON text expected");
        };
        (
            response.status().as_u16(),
            serde_json::from_str(text).unwrap(),
        )
    }

    #[tokio::test]
    async fn paths_are_answered_from_the_registry_in_todays_order() {
        let deps = stripe_only().await.unwrap();
        let unknown =
            json!({"outcome": "rejected", "error": "unknown path: use /stripe or /standard"});
        let off = json!({"outcome": "rejected", "error": "standard webhooks are not configured"});
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        for (method, path, body, status, reply) in [
            ("POST", "/paypal", vec![], 404, &unknown),
            ("GET", "/", vec![], 404, &unknown),
            ("POST", "/standard", vec![], 404, &off),
            ("POST", "/standard/", b"{}".to_vec(), 404, &off),
        ] {
            assert_eq!(
                answer(&deps, method, path, body).await,
                (status, reply.clone()),
                "{method} {path}"
            );
        }
        // The method and the size are judged before whether it is configured.
        assert_eq!(answer(&deps, "GET", "/standard", vec![]).await.0, 405);
        assert_eq!(answer(&deps, "POST", "/standard", big.clone()).await.0, 413);
        assert_eq!(answer(&deps, "POST", "/stripe", big).await.0, 413);
        assert_eq!(answer(&deps, "POST", "/stripe", vec![]).await.0, 401);
    }

    #[test]
    fn known_paths_are_listed_as_alternatives() {
        assert_eq!(either(["/a"].into_iter()), "/a");
        assert_eq!(either(["/a", "/b"].into_iter()), "/a or /b");
        assert_eq!(either(["/a", "/b", "/c"].into_iter()), "/a, /b or /c");
    }
}
