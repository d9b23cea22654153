//! The `ingest` function's HTTP boundary (a Lambda Function URL): find the
//! processor for the path, bound, verify the signature over the raw bytes,
//! take the delivery through [`DeliveryPath`] (map, claim, publish) and
//! answer `{"outcome": …}`. Nothing here depends on which processor it is.

use futures::StreamExt;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use crate::ports::account_links::AccountLinks;
use crate::ports::certificates::{CertificateError, Certificates, NoCertificates};
use crate::ports::objects::{FetchObjects, NoObjects};
use crate::ports::remote_verify::{Offline, RemoteVerifyError, VerifyRemotely};
use crate::ports::thin::{NoThin, Thicken, ThinError};
use crate::ports::{Deliveries, NewAccounts, PaymentLinks, Publish, PublishActions, Transmissions};
use crate::processors::{Delivery, ObjectRef, Processor, Processors};
use crate::services::deliver::{DeliveryPath, Taken};

/// How many events of one batch are taken at once.
pub const BATCH_CONCURRENCY: usize = 8;

/// No event of a batch is started later than this into the request, so
/// one that is started ends within the function's 10 s timeout.
pub const BATCH_BUDGET: std::time::Duration = std::time::Duration::from_secs(6);

/// Processors send small JSON documents; anything larger is refused unread.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Everything `ingest` needs, built once at init.
pub struct Ingest<S, A, B, T = NoThin, C = NoCertificates, O = NoObjects, R = Offline> {
    /// Every known processor; one without a secret answers 404.
    pub processors: Processors,
    /// Delivery claims, payment links and account links.
    pub store: S,
    /// Creates the customers a processor introduces.
    pub accounts: A,
    pub bus: B,
    /// Makes thin events whole through a processor's API, when one is
    /// configured.
    pub thin: T,
    /// The certificates a processor signs with (PayPal), from its own
    /// hosts only.
    pub certificates: C,
    /// Reads the objects a delivery names without carrying (GoCardless's
    /// payments), when the processor's API is configured.
    pub objects: O,
    /// Asks the processor whether a delivery is its own, for a processor
    /// configured to be verified through its API (PayPal's, in place of
    /// its certificate).
    pub remote: R,
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

/// The SHA-256 of `body`, in hex.
fn sha256_hex(body: &[u8]) -> String {
    crate::processors::verify::to_hex(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body).as_ref(),
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

/// How a delivery's authenticity is established, besides its processor's
/// own check: the certificate a scheme names, or the processor's API.
struct Proofs<'a, C, R> {
    certificates: &'a C,
    remote: &'a R,
}

/// Whether the delivery is authentic: checked with the processor's secret,
/// against the certificate its scheme names, or (when configured) by the
/// processor's own API; `Err` is the answer when it is not, or cannot be
/// told now.
async fn authentic<C: Certificates, R: VerifyRemotely>(
    processor: &dyn Processor,
    name: &str,
    proofs: Proofs<'_, C, R>,
    request: &Request,
    now: i64,
) -> Result<(), Response<Body>> {
    let headers = request.headers();
    let body: &[u8] = request.body().as_ref();
    let not_authentic = |e: &dyn std::fmt::Display| {
        tracing::warn!(processor = name, reason = %e, "delivery refused: not authentic");
        refuse(StatusCode::UNAUTHORIZED, "rejected", e)
    };
    let retry = |e: &dyn std::fmt::Display| {
        tracing::error!(processor = name, error = %e, "authenticity not established now: the processor will retry");
        refuse(StatusCode::SERVICE_UNAVAILABLE, "retry", e)
    };
    if proofs.remote.verifies(name) {
        let webhook_ids = processor
            .remote_verification(headers, now)
            .map_err(|e| not_authentic(&e))?;
        for webhook_id in &webhook_ids {
            match proofs
                .remote
                .verify_remotely(name, webhook_id, headers, body)
                .await
            {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e @ RemoteVerifyError::Unavailable(_)) => return Err(retry(&e)),
                Err(e) => return Err(not_authentic(&e)),
            }
        }
        return Err(not_authentic(
            &crate::processors::verify::VerifyError::BadSignature,
        ));
    }
    let verified = match processor.certificate_url(headers, now) {
        Err(e) => Err(e),
        Ok(None) => processor.verify(headers, body, now),
        Ok(Some(url)) => match proofs.certificates.certificate(&url).await {
            Ok(pem) => processor.verify_certified(headers, body, now, &pem),
            Err(e @ CertificateError::Unavailable(_)) => return Err(retry(&e)),
            Err(e) => return Err(not_authentic(&e)),
        },
    };
    verified.map_err(|e| not_authentic(&e))
}

/// Answers one request. Never panics on what arrives over the network.
pub async fn handle<S, A, B, T, C, O, R>(
    deps: &Ingest<S, A, B, T, C, O, R>,
    request: &Request,
    now: i64,
) -> Response<Body>
where
    S: Deliveries + PaymentLinks + AccountLinks + Transmissions,
    A: NewAccounts,
    B: Publish + PublishActions,
    T: Thicken,
    C: Certificates,
    O: FetchObjects,
    R: VerifyRemotely,
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
    let proofs = Proofs {
        certificates: &deps.certificates,
        remote: &deps.remote,
    };
    if let Err(answer) = authentic(processor, registered.name(), proofs, request, now).await {
        return answer;
    }
    if let Some(transmission) = processor.transmission_id(headers) {
        let digest = sha256_hex(body);
        match deps
            .store
            .claim_transmission(registered.name(), transmission, &digest)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    processor = registered.name(),
                    transmission,
                    "delivery refused: a signed transmission replayed with another body"
                );
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "rejected",
                    "this transmission was signed for another body",
                );
            }
            Err(e) => {
                tracing::error!(error = %e, retryable = e.is_retryable(), "store unavailable");
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "retry",
                    "storage is unavailable; nothing was applied, please retry",
                );
            }
        }
    }
    let thick: Option<Vec<u8>>;
    let deliveries = match processor.read_batch(headers, body) {
        Ok(deliveries) => deliveries,
        Err(not_read) => {
            // Only a body that does not read is asked about: a thin event is
            // read as the snapshot it stands for, its object read from the
            // processor's API (when one is configured).
            thick = match deps.thin.thicken(registered.name(), body).await {
                Ok(thick) => thick,
                Err(e @ ThinError::Unavailable(_)) => {
                    tracing::error!(processor = registered.name(), error = %e, "thin event not read: the processor will retry");
                    return refuse(StatusCode::SERVICE_UNAVAILABLE, "retry", e);
                }
                Err(e @ ThinError::Refused(_)) => {
                    return refuse(StatusCode::BAD_REQUEST, "rejected", e);
                }
            };
            let Some(thick) = &thick else {
                return refuse(StatusCode::BAD_REQUEST, "rejected", not_read);
            };
            match processor.read_batch(headers, thick) {
                Ok(deliveries) => deliveries,
                Err(e) => return refuse(StatusCode::BAD_REQUEST, "rejected", e),
            }
        }
    };
    let path = DeliveryPath {
        store: &deps.store,
        accounts: &deps.accounts,
        bus: &deps.bus,
        via: None,
    };
    let name = registered.name();
    match deliveries.as_slice() {
        [one] => answer(path.take_with(name, one.as_ref(), now, &deps.objects).await),
        batch => {
            // Each is claimed by its own id, so a retry of the batch applies
            // only what is missing. A few at a time: no more than
            // `BATCH_CONCURRENCY` calls reach the table, the bus or the
            // processor's API at once (events of one account racing are
            // retried on its version). Answers keep the batch's order. No
            // event is started after `BATCH_BUDGET`: those left are answered
            // "retry", so a batch too big for one invocation is taken over
            // several of the processor's retries instead of timing out.
            let started = std::time::Instant::now();
            let in_time = || started.elapsed() < BATCH_BUDGET;
            // Each object the batch names is read once, first, a few at a
            // time: events of one payment (created, submitted, confirmed)
            // then find it in the API client's cache instead of racing to
            // read it. A failure here is met again, and answered, per event.
            let mut objects: Vec<ObjectRef> =
                batch.iter().flat_map(|d| d.objects_needed()).collect();
            objects.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
            objects.dedup();
            futures::stream::iter(0..objects.len())
                .map(|i| {
                    let (object, api) = (&objects[i], &deps.objects);
                    let go = in_time();
                    async move {
                        if go {
                            let _ = api.fetch(name, object).await;
                        }
                    }
                })
                .buffer_unordered(BATCH_CONCURRENCY)
                .for_each(|_| async {})
                .await;
            // By index: a closure over a borrowed element is not `Send`
            // for every lifetime, which the Lambda runtime needs.
            let outcomes: Vec<Taken> = futures::stream::iter(0..batch.len())
                .map(|i| {
                    let delivery = batch[i].as_ref();
                    let (path, objects, in_time) = (&path, &deps.objects, &in_time);
                    async move {
                        if in_time() {
                            path.take_with(name, delivery, now, objects).await
                        } else {
                            Taken::Unavailable("not reached in this delivery's time; please retry")
                        }
                    }
                })
                .buffered(BATCH_CONCURRENCY)
                .collect()
                .await;
            let taken: Vec<(&dyn Delivery, Taken)> =
                batch.iter().map(|d| d.as_ref()).zip(outcomes).collect();
            answer_batch(name, &taken)
        }
    }
}

/// The answer to a batch: `200` only when every event was taken (applied,
/// a duplicate, ignored, or refused for good: a retry cannot change
/// those); `503` when any must be taken again, so the processor retries
/// the batch and only those are applied; `400` when none could be read.
fn answer_batch(processor: &str, taken: &[(&dyn Delivery, Taken)]) -> Response<Body> {
    let mut retry = false;
    let mut refused = 0;
    let events: Vec<Value> = taken
        .iter()
        .map(|(delivery, taken)| {
            let (outcome, detail) = match taken {
                Taken::Events { outcome, .. } => (*outcome, None),
                Taken::Ignored { reason } => ("ignored", Some(reason.clone())),
                Taken::Alerted { reason, .. } => ("ignored", Some(reason.clone())),
                Taken::Waiting => {
                    retry = true;
                    ("retry", Some("waiting for the payment it refers to".to_owned()))
                }
                Taken::Unavailable(why) => {
                    retry = true;
                    ("retry", Some((*why).to_owned()))
                }
                Taken::Refused(why) => {
                    refused += 1;
                    tracing::error!(processor, delivery = delivery.id(), kind = delivery.kind(), error = %why, "event in a batch refused");
                    ("rejected", Some(why.clone()))
                }
            };
            let mut event = json!({ "id": delivery.id(), "outcome": outcome });
            if let Some(detail) = detail {
                event["detail"] = json!(detail);
            }
            event
        })
        .collect();
    let (status, outcome) = if retry {
        (StatusCode::SERVICE_UNAVAILABLE, "retry")
    } else if refused == taken.len() {
        (StatusCode::BAD_REQUEST, "rejected")
    } else {
        (StatusCode::OK, "taken")
    };
    reply(status, json!({ "outcome": outcome, "events": events }))
}

/// The processor's answer to what taking its delivery did.
fn answer(taken: Taken) -> Response<Body> {
    match taken {
        Taken::Events { outcome, ids } => {
            reply(StatusCode::OK, json!({ "outcome": outcome, "events": ids }))
        }
        Taken::Ignored { reason } => reply(
            StatusCode::OK,
            json!({ "outcome": "ignored", "reason": reason }),
        ),
        Taken::Alerted {
            duplicate: true, ..
        } => reply(StatusCode::OK, json!({ "outcome": "duplicate" })),
        Taken::Alerted { reason, action, .. } => reply(
            StatusCode::OK,
            json!({ "outcome": "ignored", "reason": reason, "alert": action }),
        ),
        Taken::Waiting => {
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
        Taken::Refused(why) => refuse(StatusCode::BAD_REQUEST, "rejected", why),
        Taken::Unavailable(why) => refuse(StatusCode::SERVICE_UNAVAILABLE, "retry", why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, IngestSettings};
    use crate::domain::{Account, AccountId, ActionMessage, Event};
    use crate::ports::{ApplyOutcome, DeliveryClaim, PublishError, StoreError};

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

    impl Transmissions for Untouched {
        async fn claim_transmission(&self, _: &str, _: &str, _: &str) -> Result<bool, StoreError> {
            unreachable!("claimed")
        }
    }

    impl AccountLinks for Untouched {
        async fn linked_account(&self, _: &str) -> Result<Option<AccountId>, StoreError> {
            unreachable!("looked up")
        }
        async fn link_account(&self, _: &str, _: &AccountId) -> Result<AccountId, StoreError> {
            unreachable!("linked")
        }
        async fn account_exists(&self, _: &AccountId) -> Result<bool, StoreError> {
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
            thin: NoThin,
            certificates: NoCertificates,
            objects: NoObjects,
            remote: Offline,
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
        let unknown = json!({"outcome": "rejected",
            "error": "unknown path: use /stripe, /standard, /paypal or /gocardless"});
        let off = json!({"outcome": "rejected", "error": "standard webhooks are not configured"});
        let paypal_off =
            json!({"outcome": "rejected", "error": "paypal webhooks are not configured"});
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        for (method, path, body, status, reply) in [
            ("POST", "/paypal", vec![], 404, &paypal_off),
            ("POST", "/gocardless/x", vec![], 404, &unknown),
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
