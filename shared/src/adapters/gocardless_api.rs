//! GoCardless Pro's API: the reads a GoCardless delivery needs before it
//! maps (its events name a payment or mandate without its amount or
//! customer). One client, built once at init: it pins `GoCardless-Version`,
//! waits out a 429 until GoCardless's `RateLimit-Reset` (or `Retry-After`),
//! retries 5xx and failed connections with bounded backoff, times out,
//! never shows its token, and caches what it composed (see [`PAYMENT_TTL`]).
//!
//! What it hands over for an [`ObjectRef`] is described in
//! [`crate::processors::gocardless::resources`]: one JSON object composed
//! of the inner objects of the payment's (or mandate's) answer, its
//! mandate's and its customer's.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use super::http_retry::{self, Answer, ApiError, Cache, Failure, Retries, Verdict};
use crate::ports::objects::{FetchError, FetchObjects};
use crate::processors::ObjectRef;
use crate::processors::gocardless::resources::{self, CUSTOMERS, MANDATES, PAYMENTS};

/// GoCardless's API.
pub const DEFAULT_BASE: &str = "https://api.gocardless.com";

/// The API version every call asks for.
pub const GOCARDLESS_VERSION: &str = "2015-07-06";

/// How long a composed payment is kept. What a mapping reads of a payment
/// (its amount, currency, charge date and mandate) never changes once it
/// is created, and its mandate's customer does not change either; only
/// the customer's details (email) may, rarely: a few minutes of those
/// being stale is worth not reading three objects for every event of a
/// payment (GoCardless sends several per payment, and redelivers).
pub const PAYMENT_TTL: Duration = Duration::from_secs(10 * 60);

/// How long a composed mandate is kept: briefly, since a mandate changes
/// state (active, cancelled, failed, expired) and its events are about
/// exactly that; a minute only absorbs a burst of redeliveries.
pub const MANDATE_TTL: Duration = Duration::from_secs(60);

/// At most this many composed bodies are cached per container.
pub const CACHE_ENTRIES: usize = 10_000;

/// No answer of GoCardless's to one GET is larger.
const MAX_BODY: usize = 1 << 20;

/// A GoCardless access token (`live_…` or `sandbox_…`). Never printed.
#[derive(Clone)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let token = raw.trim();
        let body = token
            .strip_prefix("live_")
            .or_else(|| token.strip_prefix("sandbox_"));
        if body.is_none_or(str::is_empty) {
            return Err("a GoCardless access token starts with live_ or sandbox_".into());
        }
        if !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err("a GoCardless access token has only letters, digits, _ and -".into());
        }
        Ok(Self(token.to_owned()))
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

/// Whether `id` is a GoCardless id (`PM…`, `MD…`, `CU…`: upper-case
/// letters and digits), safe to put in a path.
pub fn is_id(id: &str) -> bool {
    (2..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The client; clones share the cache.
#[derive(Clone)]
pub struct GoCardlessApi {
    http: reqwest::Client,
    base: String,
    token: AccessToken,
    retries: Retries,
    cache: Arc<Cache<Vec<u8>>>,
}

impl fmt::Debug for GoCardlessApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoCardlessApi")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish()
    }
}

impl GoCardlessApi {
    pub fn new(base: &str, token: AccessToken, retries: Retries) -> Result<Self, String> {
        let base = http_retry::check_base(base, "GOCARDLESS_API_BASE", "access token")?;
        let http = http_retry::client(retries.timeout, false)?;
        Ok(Self {
            http,
            base,
            token,
            retries,
            cache: Arc::new(Cache::new(CACHE_ENTRIES)),
        })
    }

    /// The payment `id` with its mandate and customer, composed, or `None`
    /// when GoCardless has no such payment.
    pub async fn payment(&self, id: &str) -> Result<Option<Vec<u8>>, FetchError> {
        let Some(payment) = self.get(PAYMENTS, id).await? else {
            return Ok(None);
        };
        let mandate_id = link(&payment, PAYMENTS, "mandate")?;
        let mandate = self.linked(PAYMENTS, id, MANDATES, &mandate_id).await?;
        let customer_id = link(&mandate, MANDATES, "customer")?;
        let customer = self
            .linked(MANDATES, &mandate_id, CUSTOMERS, &customer_id)
            .await?;
        compose(&[
            (PAYMENTS, &payment),
            (MANDATES, &mandate),
            (CUSTOMERS, &customer),
        ])
        .map(Some)
    }

    /// The mandate `id` with its customer, composed, or `None` when
    /// GoCardless has no such mandate.
    pub async fn mandate(&self, id: &str) -> Result<Option<Vec<u8>>, FetchError> {
        let Some(mandate) = self.get(MANDATES, id).await? else {
            return Ok(None);
        };
        let customer_id = link(&mandate, MANDATES, "customer")?;
        let customer = self.linked(MANDATES, id, CUSTOMERS, &customer_id).await?;
        compose(&[(MANDATES, &mandate), (CUSTOMERS, &customer)]).map(Some)
    }

    /// The object `from` links to: it must exist.
    async fn linked(
        &self,
        from_kind: &str,
        from: &str,
        kind: &str,
        id: &str,
    ) -> Result<Vec<u8>, FetchError> {
        self.get(kind, id).await?.ok_or_else(|| {
            FetchError::Refused(format!(
                "GoCardless has no {kind} {id}, which {from_kind} {from} links to"
            ))
        })
    }

    /// `GET /{kind}/{id}` with the token, the pinned version and the
    /// retries; `None` on 404.
    async fn get(&self, kind: &str, id: &str) -> Result<Option<Vec<u8>>, FetchError> {
        if !is_id(id) {
            return Err(FetchError::Refused(format!(
                "{id:?} is not a GoCardless id"
            )));
        }
        let path = format!("/{kind}/{id}");
        let url = format!("{}{path}", self.base);
        let build = || {
            self.http
                .get(&url)
                .bearer_auth(&self.token.0)
                .header("GoCardless-Version", GOCARDLESS_VERSION)
                .header("Accept", "application/json")
        };
        let sent = http_retry::send(
            &self.retries,
            "GoCardless",
            &path,
            MAX_BODY,
            build,
            classify,
        );
        match sent.await {
            Ok(answer) => Ok(Some(answer.body)),
            Err(Failure::Refused(answer)) if answer.status == 404 => Ok(None),
            // A refused token or a missing permission is ours to fix, not
            // the event's fault: GoCardless must keep the delivery and
            // retry it once the token is right (the 5xx answers alarm).
            Err(Failure::Refused(answer)) => Err(FetchError::Unavailable(format!(
                "GoCardless answered GET {path} with {}",
                error_of(&answer)
            ))),
            Err(Failure::Unavailable { attempts, last }) => Err(FetchError::Unavailable(format!(
                "GoCardless could not be read after {attempts} attempts: {last}"
            ))),
            Err(Failure::TooLarge { status, limit }) => Err(FetchError::Refused(format!(
                "GoCardless answered GET {path} with {status} and a body over {limit} bytes"
            ))),
        }
    }

    /// The composed body cached for `object`, if fresh at `now`.
    fn recall(&self, object: &ObjectRef, now: Instant) -> Option<Vec<u8>> {
        self.cache.get(&cache_key(object), now)
    }

    /// Caches the composed body of `object` for as long as its kind may be.
    fn remember(&self, object: &ObjectRef, body: Vec<u8>, now: Instant) {
        let ttl = if object.kind == PAYMENTS {
            PAYMENT_TTL
        } else {
            MANDATE_TTL
        };
        self.cache.insert(cache_key(object), body, now, now + ttl);
    }
}

fn cache_key(object: &ObjectRef) -> String {
    format!("{}/{}", object.kind, object.id)
}

/// What GoCardless says of an answer: taken (2xx); a 429 is waited out
/// until `Retry-After` if sent, else `RateLimit-Reset` (an HTTP date); a
/// 5xx is retried; anything else is refused (404: no such object).
fn classify(answer: &Answer) -> Verdict {
    let status = answer.status;
    if (200..300).contains(&status) {
        return Verdict::Done;
    }
    if status != 429 && status < 500 {
        return Verdict::Refused;
    }
    let now = SystemTime::now();
    let wait = |name| http_retry::wait_header(&answer.headers, name, now);
    let after = wait("retry-after").or_else(|| {
        if status == 429 {
            wait("ratelimit-reset")
        } else {
            None
        }
    });
    Verdict::Retry {
        after,
        reason: error_of(answer),
    }
}

/// GoCardless's error, in words: its status, type, reason and message.
fn error_of(answer: &Answer) -> String {
    match ApiError::read(&answer.body) {
        Some(e) => {
            let reason = e.errors.first().map_or("", |r| r.reason.as_str());
            format!("{} ({} {reason}): {}", answer.status, e.kind, e.message)
        }
        None => format!("HTTP {}", answer.status),
    }
}

/// The id `answer`'s object (`{"<kind>": {...}}`) links to as `name`.
fn link(answer: &[u8], kind: &str, name: &str) -> Result<String, FetchError> {
    #[derive(Deserialize)]
    struct Object {
        #[serde(default)]
        links: std::collections::HashMap<String, Option<String>>,
    }
    let mut outer: std::collections::HashMap<String, Object> = serde_json::from_slice(answer)
        .map_err(|e| FetchError::Refused(format!("GoCardless's {kind} did not read: {e}")))?;
    outer
        .remove(kind)
        .and_then(|mut o| o.links.remove(name).flatten())
        .ok_or_else(|| FetchError::Refused(format!("GoCardless's {kind} has no links.{name}")))
}

fn compose(answers: &[(&str, &[u8])]) -> Result<Vec<u8>, FetchError> {
    resources::compose(answers)
        .map_err(|e| FetchError::Refused(format!("GoCardless's answers did not read: {e}")))
}

impl FetchObjects for GoCardlessApi {
    async fn fetch(
        &self,
        processor: &str,
        object: &ObjectRef,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        use crate::processors::FromSecret;
        use crate::processors::gocardless::GocardlessProcessor;
        if processor != GocardlessProcessor::NAME {
            return Err(FetchError::Refused(format!(
                "GoCardless's API cannot read {processor}'s {} {}",
                object.kind, object.id
            )));
        }
        if let Some(body) = self.recall(object, Instant::now()) {
            return Ok(Some(body));
        }
        let body = match object.kind {
            PAYMENTS => self.payment(&object.id).await?,
            MANDATES => self.mandate(&object.id).await?,
            other => {
                return Err(FetchError::Refused(format!(
                    "GoCardless's API is not read for {other} {}",
                    object.id
                )));
            }
        };
        if let Some(body) = &body {
            self.remember(object, body.clone(), Instant::now());
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "sandbox_Sup3r-Secret_token";

    fn api(base: &str, retries: Retries) -> GoCardlessApi {
        GoCardlessApi::new(base, AccessToken::parse(TOKEN).unwrap(), retries).unwrap()
    }

    #[test]
    fn ids_are_upper_case_letters_and_digits() {
        for id in ["PM123", "MD0001ABCDEF12", "CU123", "PM01J8ZK4X7Q9R"] {
            assert!(is_id(id), "{id}");
        }
        for id in [
            "",
            "P",
            "pm123",
            "PM-123",
            "PM 123",
            "../customers/CU1",
            "PM1/../../x",
            "PM1?x=1",
            "PM1%2F",
            "PMé1",
            &"P".repeat(65),
        ] {
            assert!(!is_id(id), "{id}");
        }
    }

    #[tokio::test]
    async fn a_bad_id_is_refused_before_any_request() {
        // Nothing listens on port 1: a request would be Unavailable.
        let api = api("http://127.0.0.1:1", Retries::default());
        for kind in [PAYMENTS, MANDATES] {
            let object = ObjectRef {
                kind,
                id: "../mandates/MD1".into(),
            };
            let error = api.fetch("gocardless", &object).await.unwrap_err();
            assert!(matches!(error, FetchError::Refused(_)), "{error:?}");
        }
    }

    #[tokio::test]
    async fn other_processors_and_kinds_are_refused() {
        let api = api("http://127.0.0.1:1", Retries::default());
        let payment = ObjectRef {
            kind: PAYMENTS,
            id: "PM123".into(),
        };
        let error = api.fetch("stripe", &payment).await.unwrap_err();
        assert!(matches!(error, FetchError::Refused(_)), "{error:?}");
        let refund = ObjectRef {
            kind: "refunds",
            id: "RF123".into(),
        };
        let error = api.fetch("gocardless", &refund).await.unwrap_err();
        assert!(matches!(error, FetchError::Refused(_)), "{error:?}");
    }

    #[test]
    fn tokens_are_live_or_sandbox_and_never_printed() {
        for bad in [
            "",
            "   ",
            "live_",
            "sandbox_",
            "sk_live_abc",
            "live_a b",
            "live_a\nb",
        ] {
            assert!(AccessToken::parse(bad).is_err(), "{bad:?}");
        }
        assert!(AccessToken::parse(" live_abc123 ").is_ok());
        let token = AccessToken::parse(TOKEN).unwrap();
        assert_eq!(format!("{token:?}"), "AccessToken(***)");
        let api = api("https://api.gocardless.com", Retries::default());
        let shown = format!("{api:?}");
        assert!(!shown.contains("Secret"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }

    #[tokio::test]
    async fn errors_never_carry_the_token() {
        let quick = Retries {
            attempts: 2,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            timeout: Duration::from_secs(2),
        };
        let api = api("http://127.0.0.1:1", quick);
        let object = ObjectRef {
            kind: PAYMENTS,
            id: "PM123".into(),
        };
        let error = api.fetch("gocardless", &object).await.unwrap_err();
        assert!(matches!(error, FetchError::Unavailable(_)), "{error:?}");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("Secret"), "{shown}");
        assert!(shown.contains("/payments/PM123"), "{shown}");
    }

    #[test]
    fn the_key_only_travels_over_https() {
        let token = AccessToken::parse(TOKEN).unwrap();
        let refused = GoCardlessApi::new("http://api.gocardless.com", token, Retries::default());
        let error = refused.unwrap_err();
        assert!(error.contains("GOCARDLESS_API_BASE"), "{error}");
        assert!(!error.contains("Secret"), "{error}");
    }

    #[test]
    fn the_cache_is_bounded_and_mandates_expire_first() {
        let api = api("https://api.gocardless.com", Retries::default());
        let now = Instant::now();
        for i in 0..CACHE_ENTRIES + 50 {
            let object = ObjectRef {
                kind: PAYMENTS,
                id: format!("PM{i}"),
            };
            api.remember(&object, vec![1], now + Duration::from_micros(i as u64));
        }
        assert_eq!(api.cache.len(), CACHE_ENTRIES);
        let payment = ObjectRef {
            kind: PAYMENTS,
            id: "PMX".into(),
        };
        let mandate = ObjectRef {
            kind: MANDATES,
            id: "MDX".into(),
        };
        // Later than every other entry: the oldest go to make room.
        let now = now + Duration::from_secs(1);
        api.remember(&payment, b"p".to_vec(), now);
        api.remember(&mandate, b"m".to_vec(), now);
        assert_eq!(api.cache.len(), CACHE_ENTRIES);
        assert_eq!(
            api.recall(
                &ObjectRef {
                    kind: PAYMENTS,
                    id: "PM51".into()
                },
                now
            ),
            None
        );
        assert!(
            api.recall(
                &ObjectRef {
                    kind: PAYMENTS,
                    id: "PM52".into()
                },
                now
            )
            .is_some()
        );
        let soon = now + MANDATE_TTL / 2;
        assert_eq!(api.recall(&mandate, soon).as_deref(), Some(&b"m"[..]));
        let later = now + MANDATE_TTL + Duration::from_secs(1);
        assert_eq!(api.recall(&mandate, later), None);
        assert_eq!(api.recall(&payment, later).as_deref(), Some(&b"p"[..]));
        // Clones share one cache (the client is built once, then cloned).
        let clone = api.clone();
        assert_eq!(clone.recall(&payment, later).as_deref(), Some(&b"p"[..]));
        assert_eq!(api.recall(&payment, now + PAYMENT_TTL), None);
    }

    #[test]
    fn links_are_read_from_the_enveloped_object() {
        let payment = br#"{"payments":{"id":"PM1","links":{"mandate":"MD1","creditor":"CR1"}}}"#;
        assert_eq!(link(payment, PAYMENTS, "mandate").unwrap(), "MD1");
        assert!(link(payment, PAYMENTS, "customer").is_err());
        assert!(link(payment, MANDATES, "customer").is_err());
        assert!(link(b"[]", PAYMENTS, "mandate").is_err());
        let null = br#"{"mandates":{"links":{"customer":null}}}"#;
        assert!(link(null, MANDATES, "customer").is_err());
    }

    /// Against `dev/gocardless_api.py` on 127.0.0.1:12112 (`make stack`):
    /// `cargo test -p pastdue-shared --lib gocardless_api -- --ignored`.
    #[tokio::test]
    #[ignore = "needs dev/gocardless_api.py on 127.0.0.1:12112"]
    async fn reads_the_loopback_api() {
        let base = "http://127.0.0.1:12112";
        let http = reqwest::Client::new();
        let unique = format!("{:08}", fastrand::u32(..100_000_000));
        let (pm, md, cu) = (
            format!("PM{unique}"),
            format!("MD{unique}"),
            format!("CU{unique}"),
        );
        let post = |path: &'static str, body: serde_json::Value| {
            let http = http.clone();
            async move {
                let r = http
                    .post(format!("{base}{path}"))
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{path}: {}", r.status());
            }
        };
        post(
            "/_test/customers",
            serde_json::json!({"id": cu, "email": "a@example.com"}),
        )
        .await;
        post(
            "/_test/mandates",
            serde_json::json!({"id": md, "links": {"customer": cu}}),
        )
        .await;
        post(
            "/_test/payments",
            serde_json::json!({"id": pm, "amount": 4200, "links": {"mandate": md}}),
        )
        .await;
        let token =
            std::env::var("GOCARDLESS_TEST_TOKEN").unwrap_or_else(|_| "sandbox_test_token".into());
        let quick = Retries {
            attempts: 3,
            base: Duration::from_millis(10),
            cap: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
        };
        let api = GoCardlessApi::new(base, AccessToken::parse(&token).unwrap(), quick).unwrap();
        // One 429 first: waited out until RateLimit-Reset, then read.
        post(
            "/_test/fail",
            serde_json::json!({"status": 429, "count": 1, "path": format!("/payments/{pm}")}),
        )
        .await;
        let object = ObjectRef {
            kind: PAYMENTS,
            id: pm.clone(),
        };
        let read = |api: GoCardlessApi, object: ObjectRef| async move {
            let body = api.fetch("gocardless", &object).await.unwrap().unwrap();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            (body, v)
        };
        let (body, v) = read(api.clone(), object.clone()).await;
        assert_eq!(v["payments"]["id"], pm.as_str());
        assert_eq!(v["payments"]["amount"], 4200);
        assert_eq!(v["mandates"]["id"], md.as_str());
        assert_eq!(v["customers"]["email"], "a@example.com");
        let objects = {
            let mut o = crate::processors::Objects::default();
            o.insert(object.clone(), Some(body));
            o
        };
        resources::payment_objects(&objects, &pm).unwrap();
        // Cached: no second read.
        let log = |http: reqwest::Client| async move {
            let r = http
                .get(format!("{base}/_test/requests"))
                .send()
                .await
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&r.bytes().await.unwrap()).unwrap()
        };
        let before = log(http.clone()).await.to_string().matches(&pm).count();
        api.fetch("gocardless", &object).await.unwrap().unwrap();
        let after = log(http.clone()).await.to_string().matches(&pm).count();
        assert_eq!(before, after);
        let mandate = ObjectRef {
            kind: MANDATES,
            id: md.clone(),
        };
        let (_, v) = read(api.clone(), mandate.clone()).await;
        assert_eq!(v["mandates"]["id"], md.as_str());
        assert_eq!(v["customers"]["id"], cu.as_str());
        assert!(v.get("payments").is_none());
        let missing = ObjectRef {
            kind: PAYMENTS,
            id: format!("PM{unique}X"),
        };
        assert_eq!(api.fetch("gocardless", &missing).await, Ok(None));
        // 500s past the attempts: Unavailable.
        post(
            "/_test/fail",
            serde_json::json!({"status": 500, "count": 3, "path": format!("/mandates/{md}")}),
        )
        .await;
        let fresh = GoCardlessApi::new(base, AccessToken::parse(&token).unwrap(), quick).unwrap();
        let error = fresh.fetch("gocardless", &mandate).await.unwrap_err();
        assert!(matches!(error, FetchError::Unavailable(_)), "{error:?}");
        // A wrong token: the delivery must wait for the right one (never
        // dropped), and the token is not shown.
        let wrong = AccessToken::parse("sandbox_WrongWrong").unwrap();
        let refused = GoCardlessApi::new(base, wrong, quick).unwrap();
        let error = refused.fetch("gocardless", &mandate).await.unwrap_err();
        assert!(matches!(error, FetchError::Unavailable(_)), "{error:?}");
        assert!(!error.to_string().contains("WrongWrong"), "{error}");
    }
}
