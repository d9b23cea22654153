//! PayPal's `verify-webhook-signature` API: for a business that configures
//! it (`PAYPAL_VERIFY=api`) in place of verifying a delivery offline
//! against PayPal's certificate, PayPal itself is asked whether the
//! signature is its own.
//!
//! Two calls: `POST /v1/oauth2/token` (HTTP Basic with the REST app's
//! client id and secret, `grant_type=client_credentials`) for an access
//! token, kept until shortly before it expires and shared by every request
//! of the container; then `POST /v1/notifications/verify-webhook-signature`
//! with the delivery's `paypal-*` headers as sent, the webhook id and the
//! raw body embedded verbatim as `webhook_event` (PayPal takes its CRC-32
//! over the event's bytes as they appear in the request, so they must be
//! the bytes it sent). A token PayPal no longer accepts (401) is dropped
//! and the call made once more with a new one.
//!
//! Neither the client secret, the access token, the signature nor the
//! webhook id ever reaches an error or a log.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use lambda_http::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::http_retry::{self, Answer, Failure, Retries, Verdict};
use crate::config::ConfigError;
use crate::ports::remote_verify::{RemoteVerifyError, VerifyRemotely};
use crate::processors::paypal::signature::{
    AUTH_ALGO, CERT_URL, TRANSMISSION_ID, TRANSMISSION_SIG, TRANSMISSION_TIME,
};

/// PayPal's live API.
pub const DEFAULT_BASE: &str = "https://api-m.paypal.com";

/// The processor whose deliveries this API verifies.
pub const PAYPAL: &str = "paypal";

/// `offline` (the default) or `api`.
pub const VERIFY_VAR: &str = "PAYPAL_VERIFY";
/// The REST app's client id.
pub const CLIENT_ID_VAR: &str = "PAYPAL_CLIENT_ID";
/// The REST app's secret, itself (local use)...
pub const CLIENT_SECRET_VAR: &str = "PAYPAL_CLIENT_SECRET";
/// ...or the SSM SecureString parameter holding it.
pub const CLIENT_SECRET_PARAM_VAR: &str = "PAYPAL_CLIENT_SECRET_PARAM";
/// Where PayPal's API is (default [`DEFAULT_BASE`]).
pub const BASE_VAR: &str = "PAYPAL_API_BASE";

pub const TOKEN_PATH: &str = "/v1/oauth2/token";
pub const VERIFY_PATH: &str = "/v1/notifications/verify-webhook-signature";

/// A token is dropped this long before PayPal says it expires (at most
/// half its lifetime), so that none is sent just as it lapses.
pub const TOKEN_MARGIN: Duration = Duration::from_secs(5 * 60);

/// No answer of PayPal's to either call is larger.
const MAX_BODY: usize = 64 * 1024;

/// A REST app's secret. Never printed.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Visible ASCII, no spaces. The value is never echoed in the error.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let secret = raw.trim();
        if secret.is_empty() {
            return Err("the PayPal client secret is empty".into());
        }
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("a PayPal client secret is visible ASCII without spaces".into());
        }
        Ok(Self(secret.to_owned()))
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(***)")
    }
}

/// An access token PayPal issued. Never printed.
#[derive(Clone, PartialEq, Eq)]
struct AccessToken(String);

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

/// The token in use, until `expires`; `generation` counts the tokens
/// fetched, so that a 401 drops only the token it was answered for.
#[derive(Debug, Default)]
struct TokenState {
    current: Option<(AccessToken, Instant)>,
    generation: u64,
}

/// The client; clones share the token.
#[derive(Clone)]
pub struct PaypalVerifyApi {
    http: reqwest::Client,
    base: String,
    client_id: String,
    secret: ClientSecret,
    retries: Retries,
    token: Arc<Mutex<TokenState>>,
}

impl fmt::Debug for PaypalVerifyApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaypalVerifyApi")
            .field("base", &self.base)
            .field("client_id", &self.client_id)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

impl PaypalVerifyApi {
    /// `base` is HTTPS, or plain HTTP to loopback only (the tests').
    pub fn new(
        base: &str,
        client_id: &str,
        secret: ClientSecret,
        retries: Retries,
    ) -> Result<Self, String> {
        let base = http_retry::check_base(base, BASE_VAR, "client secret")?;
        let client_id = client_id.trim();
        if client_id.is_empty() || !client_id.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err("a PayPal client id is visible ASCII without spaces or ':'".into());
        }
        Ok(Self {
            http: http_retry::client(retries.timeout, false)?,
            base,
            client_id: client_id.to_owned(),
            secret,
            retries,
            token: Arc::new(Mutex::new(TokenState::default())),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TokenState> {
        self.token.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached token if fresh at `now`, with its generation.
    fn cached(&self, now: Instant) -> Option<(AccessToken, u64)> {
        let state = self.state();
        match &state.current {
            Some((token, expires)) if *expires > now => Some((token.clone(), state.generation)),
            _ => None,
        }
    }

    /// Drops the token of `generation`, if it is still the one in use.
    fn discard(&self, generation: u64) {
        let mut state = self.state();
        if state.generation == generation {
            state.current = None;
        }
    }

    /// A token: the cached one, else a new one from PayPal.
    async fn access_token(&self) -> Result<(AccessToken, u64), RemoteVerifyError> {
        if let Some(cached) = self.cached(Instant::now()) {
            return Ok(cached);
        }
        let fetched_at = Instant::now();
        let (token, lifetime) = self.fetch_token().await?;
        let mut state = self.state();
        state.generation += 1;
        state.current = Some((token.clone(), fetched_at + lifetime));
        tracing::info!(
            expires_in = lifetime.as_secs(),
            "PayPal access token obtained"
        );
        Ok((token, state.generation))
    }

    /// `POST /v1/oauth2/token`: a token and how long to keep it.
    async fn fetch_token(&self) -> Result<(AccessToken, Duration), RemoteVerifyError> {
        let url = format!("{}{TOKEN_PATH}", self.base);
        let build = || {
            self.http
                .post(&url)
                .basic_auth(&self.client_id, Some(&self.secret.0))
                .header("Accept", "application/json")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
        };
        let answer = self
            .post(TOKEN_PATH, build)
            .await
            .map_err(|f| failed(TOKEN_PATH, f))?;
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
            #[serde(default)]
            token_type: String,
            expires_in: u64,
        }
        let token: Token = serde_json::from_slice(&answer.body).map_err(|_| {
            RemoteVerifyError::Refused(format!("PayPal's answer to POST {TOKEN_PATH} did not read"))
        })?;
        if !token.token_type.eq_ignore_ascii_case("bearer")
            || token.access_token.is_empty()
            || !token.access_token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(RemoteVerifyError::Refused(format!(
                "PayPal's answer to POST {TOKEN_PATH} has no bearer token"
            )));
        }
        Ok((AccessToken(token.access_token), keep_for(token.expires_in)))
    }

    /// `POST /v1/notifications/verify-webhook-signature` with `token`;
    /// `None` when PayPal no longer accepts the token (401).
    async fn ask(
        &self,
        token: &AccessToken,
        request: &[u8],
    ) -> Result<Option<bool>, RemoteVerifyError> {
        let url = format!("{}{VERIFY_PATH}", self.base);
        let build = || {
            self.http
                .post(&url)
                .bearer_auth(&token.0)
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .body(request.to_vec())
        };
        let answer = match self.post(VERIFY_PATH, build).await {
            Ok(answer) => answer,
            Err(Failure::Refused(answer)) if answer.status == 401 => return Ok(None),
            Err(failure) => return Err(failed(VERIFY_PATH, failure)),
        };
        #[derive(Deserialize)]
        struct Verification {
            verification_status: String,
        }
        let verification: Verification = serde_json::from_slice(&answer.body).map_err(|_| {
            RemoteVerifyError::Refused(format!(
                "PayPal's answer to POST {VERIFY_PATH} did not read"
            ))
        })?;
        match verification.verification_status.as_str() {
            "SUCCESS" => Ok(Some(true)),
            "FAILURE" => Ok(Some(false)),
            other => Err(RemoteVerifyError::Refused(format!(
                "PayPal answered POST {VERIFY_PATH} with verification_status {:?}",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    /// One call through the shared retry loop (see [`classify`]).
    async fn post<B>(&self, path: &'static str, build: B) -> Result<Answer, Failure>
    where
        B: Fn() -> reqwest::RequestBuilder,
    {
        http_retry::send(&self.retries, "PayPal", path, MAX_BODY, build, classify).await
    }
}

/// Why a call to `path` has no answer: retried in vain (a failed
/// connection, 429, 5xx) is `Unavailable`; anything else `Refused`, with
/// PayPal's error in words.
fn failed(path: &str, failure: Failure) -> RemoteVerifyError {
    match failure {
        Failure::Refused(answer) => RemoteVerifyError::Refused(format!(
            "PayPal answered POST {path} with {}",
            error_of(&answer)
        )),
        Failure::Unavailable { attempts, last } => RemoteVerifyError::Unavailable(format!(
            "PayPal could not be read after {attempts} attempts: {last}"
        )),
        Failure::TooLarge { status, limit } => RemoteVerifyError::Refused(format!(
            "PayPal answered POST {path} with {status} and a body over {limit} bytes"
        )),
    }
}

/// How long a token PayPal says lives `expires_in` seconds is kept:
/// [`TOKEN_MARGIN`] less, or half as long when that is shorter.
fn keep_for(expires_in: u64) -> Duration {
    let lifetime = Duration::from_secs(expires_in);
    lifetime.saturating_sub(TOKEN_MARGIN.min(lifetime / 2))
}

/// Taken: 2xx; retried: 429 and 5xx (after `Retry-After` when sent);
/// anything else is refused.
fn classify(answer: &Answer) -> Verdict {
    match answer.status {
        200..=299 => Verdict::Done,
        429 | 500..=599 => Verdict::Retry {
            after: http_retry::wait_header(&answer.headers, "retry-after", SystemTime::now()),
            reason: error_of(answer),
        },
        _ => Verdict::Refused,
    }
}

/// PayPal's error, in words: its status, then the REST API's `name`,
/// `message` and `debug_id`, or OAuth's `error` and `error_description`.
/// None of them carries a credential; each is bounded.
fn error_of(answer: &Answer) -> String {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct PaypalError {
        name: String,
        message: String,
        debug_id: String,
        error: Option<serde_json::Value>,
        error_description: String,
    }
    let short = |s: &str| s.chars().take(200).collect::<String>();
    let Ok(e) = serde_json::from_slice::<PaypalError>(&answer.body) else {
        return format!("HTTP {}", answer.status);
    };
    let mut words = format!("HTTP {}", answer.status);
    if let Some(serde_json::Value::String(error)) = &e.error {
        words.push_str(&format!(" {}", short(error)));
        if !e.error_description.is_empty() {
            words.push_str(&format!(": {}", short(&e.error_description)));
        }
    }
    if !e.name.is_empty() {
        words.push_str(&format!(" {}", short(&e.name)));
    }
    if !e.message.is_empty() {
        words.push_str(&format!(": {}", short(&e.message)));
    }
    if !e.debug_id.is_empty() {
        words.push_str(&format!(" (debug_id {})", short(&e.debug_id)));
    }
    words
}

/// The request PayPal verifies: the headers as sent, the webhook id, and
/// the delivery's body verbatim (the JSON value's bytes exactly; only
/// whitespace around it, which PayPal does not send, is not carried).
#[derive(Serialize)]
struct VerifyRequest<'a> {
    auth_algo: &'a str,
    cert_url: &'a str,
    transmission_id: &'a str,
    transmission_sig: &'a str,
    transmission_time: &'a str,
    webhook_id: &'a str,
    webhook_event: &'a RawValue,
}

/// The JSON body of the verify call, or why it cannot be made. The error
/// names a header, never its value.
fn verify_request(
    webhook_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<u8>, RemoteVerifyError> {
    let header = |name: &'static str| {
        crate::processors::verify::header(headers, name)
            .map_err(|e| RemoteVerifyError::Refused(e.to_string()))
    };
    let event: &RawValue = serde_json::from_slice(body).map_err(|_| {
        RemoteVerifyError::Refused(
            "the delivery's body is not JSON: PayPal cannot verify it".into(),
        )
    })?;
    if !event.get().starts_with('{') {
        return Err(RemoteVerifyError::Refused(
            "the delivery's body is not a JSON object: PayPal cannot verify it".into(),
        ));
    }
    if webhook_id.trim().is_empty() {
        return Err(RemoteVerifyError::Refused("no PayPal webhook id".into()));
    }
    let request = VerifyRequest {
        auth_algo: header(AUTH_ALGO)?,
        cert_url: header(CERT_URL)?,
        transmission_id: header(TRANSMISSION_ID)?,
        transmission_sig: header(TRANSMISSION_SIG)?,
        transmission_time: header(TRANSMISSION_TIME)?,
        webhook_id,
        webhook_event: event,
    };
    serde_json::to_vec(&request)
        .map_err(|_| RemoteVerifyError::Refused("the verify request did not serialize".into()))
}

impl VerifyRemotely for PaypalVerifyApi {
    fn verifies(&self, processor: &str) -> bool {
        processor == PAYPAL
    }

    async fn verify_remotely(
        &self,
        processor: &str,
        webhook_id: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<bool, RemoteVerifyError> {
        if !self.verifies(processor) {
            return Err(RemoteVerifyError::Refused(format!(
                "PayPal's API does not verify {processor}'s deliveries"
            )));
        }
        let request = verify_request(webhook_id, headers, body)?;
        let (token, generation) = self.access_token().await?;
        if let Some(verified) = self.ask(&token, &request).await? {
            return Ok(verified);
        }
        tracing::warn!("PayPal refused its access token: fetching a new one");
        self.discard(generation);
        let (token, _) = self.access_token().await?;
        self.ask(&token, &request).await?.ok_or_else(|| {
            RemoteVerifyError::Refused(format!(
                "PayPal answered POST {VERIFY_PATH} with 401 to a new access token"
            ))
        })
    }
}

/// Whether `PAYPAL_VERIFY` asks for the API: `api`, or `offline` / unset
/// (blank is unset); anything else is refused.
pub fn api_mode(var: &impl Fn(&str) -> Option<String>) -> Result<bool, ConfigError> {
    let raw = var(VERIFY_VAR).unwrap_or_default();
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "offline" => Ok(false),
        "api" => Ok(true),
        _ => Err(ConfigError::Invalid {
            name: VERIFY_VAR,
            reason: format!(
                "{:?} is neither offline nor api",
                raw.chars().take(40).collect::<String>()
            ),
        }),
    }
}

/// The client for API mode from `PAYPAL_CLIENT_ID`, the client `secret`
/// already read (from `PAYPAL_CLIENT_SECRET` or its SSM parameter; `None`
/// when neither is set) and `PAYPAL_API_BASE` (default [`DEFAULT_BASE`]).
/// A missing or malformed setting is refused by its name, never its value.
pub fn from_settings(
    var: &impl Fn(&str) -> Option<String>,
    secret: Option<String>,
    retries: Retries,
) -> Result<PaypalVerifyApi, ConfigError> {
    let invalid = |name: &'static str| move |reason: String| ConfigError::Invalid { name, reason };
    let client_id = var(CLIENT_ID_VAR)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            invalid(CLIENT_ID_VAR)(format!("{VERIFY_VAR}=api needs the REST app's client id"))
        })?;
    let secret = secret.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        invalid(CLIENT_SECRET_VAR)(format!(
            "{VERIFY_VAR}=api needs the REST app's secret \
                 ({CLIENT_SECRET_VAR}, or {CLIENT_SECRET_PARAM_VAR} naming an SSM parameter)"
        ))
    })?;
    let secret = ClientSecret::parse(&secret).map_err(invalid(CLIENT_SECRET_VAR))?;
    let base = var(BASE_VAR)
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BASE.to_owned());
    PaypalVerifyApi::new(&base, &client_id, secret, retries).map_err(|reason| {
        let name = if reason.starts_with("a PayPal client id") {
            CLIENT_ID_VAR
        } else {
            BASE_VAR
        };
        ConfigError::Invalid { name, reason }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use lambda_http::http::HeaderValue;

    const SECRET: &str = "EL1tVxAjhT7cJimnz5-Nsx9k2reTKSVfErNQF-Cmrw";
    const SIG: &str = "c2lnbmF0dXJlLW5ldmVyLXNob3du";

    fn quick() -> Retries {
        Retries {
            attempts: 2,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            timeout: Duration::from_secs(5),
        }
    }

    fn api(base: &str, secret: &str) -> PaypalVerifyApi {
        let secret = ClientSecret::parse(secret).unwrap();
        PaypalVerifyApi::new(base, "test_client", secret, quick()).unwrap()
    }

    fn headers(id: &str, time: &str, sig: &str, cert_url: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            (AUTH_ALGO, "SHA256withRSA"),
            (CERT_URL, cert_url),
            (TRANSMISSION_ID, id),
            (TRANSMISSION_SIG, sig),
            (TRANSMISSION_TIME, time),
        ] {
            headers.insert(name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn the_secret_is_never_printed() {
        for bad in ["", "  ", "Xq7 zz", "Xq7\nzz", "Xq7é"] {
            let error = ClientSecret::parse(bad).unwrap_err();
            assert!(!error.contains("Xq7"), "{error}");
        }
        let secret = ClientSecret::parse(SECRET).unwrap();
        assert_eq!(format!("{secret:?}"), "ClientSecret(***)");
        let api = api("https://api-m.sandbox.paypal.com", SECRET);
        {
            let mut state = api.state();
            state.generation = 1;
            state.current = Some((
                AccessToken("A21AA-token-never-shown".into()),
                Instant::now() + Duration::from_secs(60),
            ));
        }
        let shown = format!("{api:?} {:?}", api.state());
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(!shown.contains("token-never-shown"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }

    #[test]
    fn the_secret_only_travels_over_https() {
        let secret = || ClientSecret::parse(SECRET).unwrap();
        assert!(PaypalVerifyApi::new(DEFAULT_BASE, "id", secret(), quick()).is_ok());
        assert!(PaypalVerifyApi::new("http://127.0.0.1:12113/", "id", secret(), quick()).is_ok());
        for base in [
            "http://api-m.paypal.com",
            "ftp://localhost",
            "api-m.paypal.com",
        ] {
            let error = PaypalVerifyApi::new(base, "id", secret(), quick()).unwrap_err();
            assert!(
                error.contains(BASE_VAR) && !error.contains(SECRET),
                "{error}"
            );
        }
        for id in ["", " ", "a:b", "a b"] {
            assert!(
                PaypalVerifyApi::new(DEFAULT_BASE, id, secret(), quick()).is_err(),
                "{id:?}"
            );
        }
    }

    #[test]
    fn tokens_are_kept_until_shortly_before_they_expire() {
        assert_eq!(keep_for(32_400), Duration::from_secs(32_400 - 300));
        assert_eq!(keep_for(60), Duration::from_secs(30));
        assert_eq!(keep_for(0), Duration::ZERO);
        let api = api(DEFAULT_BASE, SECRET);
        let now = Instant::now();
        api.state().current = Some((AccessToken("t".into()), now + Duration::from_secs(1)));
        api.state().generation = 3;
        assert_eq!(api.cached(now).map(|(_, g)| g), Some(3));
        assert!(api.cached(now + Duration::from_secs(1)).is_none());
        // A 401 for an older token leaves a newer one.
        api.discard(2);
        assert!(api.cached(now).is_some());
        api.discard(3);
        assert!(api.cached(now).is_none());
    }

    #[test]
    fn the_body_is_embedded_verbatim() {
        let body = br#"{"id":"WH-1",  "summary":"caf\u00e9",	"n": 1.0}"#;
        let headers = headers("t-1", "2024-01-02T03:04:05Z", SIG, "https://x/c");
        let request = verify_request("WH-ID", &headers, body).unwrap();
        let text = String::from_utf8(request).unwrap();
        assert!(
            text.ends_with(&format!(
                "\"webhook_event\":{}}}",
                std::str::from_utf8(body).unwrap()
            )),
            "{text}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["auth_algo"], "SHA256withRSA");
        assert_eq!(parsed["transmission_time"], "2024-01-02T03:04:05Z");
        assert_eq!(parsed["transmission_sig"], SIG);
        assert_eq!(parsed["webhook_id"], "WH-ID");
    }

    #[test]
    fn a_body_or_headers_paypal_cannot_verify_are_refused() {
        let good = headers("t-1", "2024-01-02T03:04:05Z", SIG, "https://x/c");
        for body in [&b"not json"[..], b"", b"[1,2]", b"\"x\"", b"{\"a\":1} {}"] {
            let error = verify_request("WH-ID", &good, body).unwrap_err();
            assert!(matches!(error, RemoteVerifyError::Refused(_)), "{body:?}");
        }
        for missing in [
            AUTH_ALGO,
            CERT_URL,
            TRANSMISSION_ID,
            TRANSMISSION_SIG,
            TRANSMISSION_TIME,
        ] {
            let mut headers = good.clone();
            headers.remove(missing);
            let error = verify_request("WH-ID", &headers, b"{}").unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(shown.contains(missing), "{shown}");
            assert!(!shown.contains(SIG), "{shown}");
        }
    }

    #[tokio::test]
    async fn only_paypal_is_verified() {
        let api = api("http://127.0.0.1:1", SECRET);
        assert!(api.verifies("paypal"));
        for other in ["stripe", "gocardless", "standard", "PayPal", ""] {
            assert!(!api.verifies(other), "{other}");
        }
        let headers = headers("t-1", "2024-01-02T03:04:05Z", SIG, "https://x/c");
        let error = api
            .verify_remotely("stripe", "WH-ID", &headers, b"{}")
            .await
            .unwrap_err();
        assert!(matches!(error, RemoteVerifyError::Refused(_)), "{error:?}");
    }

    #[tokio::test]
    async fn unreachable_is_unavailable_and_errors_never_carry_secrets() {
        // Nothing listens on port 1.
        let api = api("http://127.0.0.1:1", SECRET);
        let headers = headers("t-1", "2024-01-02T03:04:05Z", SIG, "https://x/c");
        let error = api
            .verify_remotely("paypal", "WH-SECRET-ID", &headers, b"{}")
            .await
            .unwrap_err();
        assert!(
            matches!(error, RemoteVerifyError::Unavailable(_)),
            "{error:?}"
        );
        let shown = format!("{error} {error:?}");
        for hidden in [SECRET, SIG, "WH-SECRET-ID"] {
            assert!(!shown.contains(hidden), "{shown}");
        }
        assert!(shown.contains(TOKEN_PATH), "{shown}");
    }

    #[test]
    fn paypal_errors_read_in_words() {
        let answer = |status, body: &str| Answer {
            status,
            headers: reqwest::header::HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        };
        let oauth = answer(
            401,
            r#"{"error":"invalid_client","error_description":"Client Authentication failed"}"#,
        );
        assert_eq!(
            error_of(&oauth),
            "HTTP 401 invalid_client: Client Authentication failed"
        );
        let rest = answer(
            400,
            r#"{"name":"INVALID_REQUEST","message":"bad","debug_id":"abc","details":[]}"#,
        );
        assert_eq!(
            error_of(&rest),
            "HTTP 400 INVALID_REQUEST: bad (debug_id abc)"
        );
        assert_eq!(error_of(&answer(502, "<html>")), "HTTP 502");
        assert_eq!(classify(&answer(200, "")), Verdict::Done);
        assert_eq!(classify(&answer(401, "")), Verdict::Refused);
        assert_eq!(classify(&answer(400, "")), Verdict::Refused);
        for status in [429, 500, 503] {
            assert!(
                matches!(classify(&answer(status, "")), Verdict::Retry { .. }),
                "{status}"
            );
        }
    }

    #[test]
    fn the_mode_is_offline_or_api() {
        for (raw, api) in [
            (None, false),
            (Some(""), false),
            (Some("offline"), false),
            (Some(" API "), true),
            (Some("api"), true),
        ] {
            let pairs: Vec<(&str, &str)> = raw.map(|r| (VERIFY_VAR, r)).into_iter().collect();
            assert_eq!(api_mode(&vars(&pairs)), Ok(api), "{raw:?}");
        }
        for bad in ["remote", "true", "1", "offline,api"] {
            let error = api_mode(&vars(&[(VERIFY_VAR, bad)])).unwrap_err();
            assert!(
                matches!(
                    error,
                    ConfigError::Invalid {
                        name: VERIFY_VAR,
                        ..
                    }
                ),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn api_mode_needs_a_client_id_and_secret() {
        let secret = || Some(SECRET.to_owned());
        let invalid = |var: &dyn Fn(&str) -> Option<String>, secret| {
            let error = from_settings(&var, secret, quick()).unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains(SECRET), "{shown}");
            match error {
                ConfigError::Invalid { name, .. } => name,
                ConfigError::Missing { name } => name,
            }
        };
        assert_eq!(invalid(&vars(&[]), secret()), CLIENT_ID_VAR);
        assert_eq!(
            invalid(&vars(&[(CLIENT_ID_VAR, "  ")]), secret()),
            CLIENT_ID_VAR
        );
        assert_eq!(
            invalid(&vars(&[(CLIENT_ID_VAR, "a:b")]), secret()),
            CLIENT_ID_VAR
        );
        let id = vars(&[(CLIENT_ID_VAR, "client")]);
        assert_eq!(invalid(&id, None), CLIENT_SECRET_VAR);
        assert_eq!(invalid(&id, Some(" ".into())), CLIENT_SECRET_VAR);
        assert_eq!(invalid(&id, Some(format!("{SECRET} x"))), CLIENT_SECRET_VAR);
        let plain = vars(&[
            (CLIENT_ID_VAR, "client"),
            (BASE_VAR, "http://api-m.paypal.com"),
        ]);
        assert_eq!(invalid(&plain, secret()), BASE_VAR);
        let api = from_settings(&id, secret(), quick()).unwrap();
        assert_eq!(api.base, DEFAULT_BASE);
        let local = vars(&[
            (CLIENT_ID_VAR, "client"),
            (BASE_VAR, "http://127.0.0.1:12113/"),
        ]);
        let api = from_settings(&local, secret(), quick()).unwrap();
        assert_eq!(api.base, "http://127.0.0.1:12113");
    }

    // --- against dev/paypal_api.py, when PAYPAL_API_BASE is set ---------

    fn loopback() -> Option<String> {
        let base = std::env::var(BASE_VAR)
            .ok()
            .filter(|b| !b.trim().is_empty());
        if base.is_none() {
            eprintln!(
                "{BASE_VAR} is not set: skipped (make test runs it against the loopback PayPal)"
            );
        }
        base.map(|b| b.trim_end_matches('/').to_owned())
    }

    /// A delivery to webhook `webhook_id` of `body`, signed as PayPal signs
    /// it with the loopback's current key.
    async fn signed(base: &str, webhook_id: &str, body: &[u8]) -> HeaderMap {
        let pem = reqwest::get(format!("{base}/_test/key"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .unwrap();
        let key = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).unwrap();
        let id = format!("pastdue-{:016x}", fastrand::u64(..));
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let message =
            crate::processors::paypal::signature::signed_message(&id, &time, webhook_id, body);
        let mut signature = vec![0; key.public_modulus_len()];
        key.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            message.as_bytes(),
            &mut signature,
        )
        .unwrap();
        let sig = base64::engine::general_purpose::STANDARD.encode(signature);
        headers(
            &id,
            &time,
            &sig,
            &format!("{base}/v1/notifications/certs/CERT-pastdue"),
        )
    }

    /// Not compact, escaped, keys out of order: PayPal's answer is SUCCESS
    /// only for the bytes as they were signed.
    const BODY: &[u8] = br#"{"id": "WH-9X1", "event_type":"INVOICING.INVOICE.PAID",
        "summary": "caf\u00e9 \u2603", "resource": {"amount": 1.50, "id": "INV2-X"}}"#;

    #[tokio::test]
    async fn loopback_good_and_bad_deliveries() {
        let Some(base) = loopback() else { return };
        let api = api(&base, "test_secret");
        let headers = signed(&base, "WH-LISTENER1", BODY).await;
        let verified = api
            .verify_remotely("paypal", "WH-LISTENER1", &headers, BODY)
            .await;
        assert_eq!(verified, Ok(true));
        let other = api
            .verify_remotely("paypal", "WH-OTHER", &headers, BODY)
            .await;
        assert_eq!(other, Ok(false));
        let tampered = String::from_utf8_lossy(BODY).replace("1.50", "1.5");
        let changed = api
            .verify_remotely("paypal", "WH-LISTENER1", &headers, tampered.as_bytes())
            .await;
        assert_eq!(changed, Ok(false), "another body");
    }

    #[tokio::test]
    async fn loopback_a_revoked_token_is_replaced_once() {
        let Some(base) = loopback() else { return };
        let api = api(&base, "test_secret");
        let headers = signed(&base, "WH-LISTENER2", BODY).await;
        let first = api
            .verify_remotely("paypal", "WH-LISTENER2", &headers, BODY)
            .await;
        assert_eq!(first, Ok(true));
        assert_eq!(api.state().generation, 1);
        let revoked = reqwest::Client::new()
            .post(format!("{base}/_test/revoke_tokens"))
            .send()
            .await
            .unwrap();
        assert!(revoked.status().is_success());
        let again = api
            .verify_remotely("paypal", "WH-LISTENER2", &headers, BODY)
            .await;
        assert_eq!(again, Ok(true));
        assert_eq!(api.state().generation, 2, "exactly one new token");
        let log = reqwest::get(format!("{base}/_test/requests"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let log: serde_json::Value = serde_json::from_slice(&log).unwrap();
        let refused = log
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["path"] == VERIFY_PATH && r["auth"] == "bearer_wrong")
            .count();
        assert!(refused >= 1, "{log}");
    }

    #[tokio::test]
    async fn loopback_a_wrong_secret_is_refused() {
        let Some(base) = loopback() else { return };
        let api = api(&base, "not-the-test-secret");
        let headers = signed(&base, "WH-LISTENER3", BODY).await;
        let error = api
            .verify_remotely("paypal", "WH-LISTENER3", &headers, BODY)
            .await
            .unwrap_err();
        assert!(matches!(error, RemoteVerifyError::Refused(_)), "{error:?}");
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("invalid_client"), "{shown}");
        assert!(!shown.contains("not-the-test-secret"), "{shown}");
        assert!(!shown.contains("WH-LISTENER3"), "{shown}");
    }
}
