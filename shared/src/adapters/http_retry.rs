//! What the processors' API clients (Stripe, GoCardless, PayPal's
//! certificate hosts) share: where a secret may be sent
//! ([`check_base`]), the HTTP client's timeouts ([`client`]), one request
//! retried with bounded, jittered backoff that honours what the server
//! asked ([`send`]), and a bounded cache of answers ([`Cache`]).
//! Each client keeps only its own part: the headers it sends and how it
//! reads an answer ([`Verdict`]).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;

/// How calls are retried.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    pub attempts: u32,
    /// The first backoff; doubled each attempt, with jitter.
    pub base: Duration,
    /// No wait is longer, whatever `Retry-After` says.
    pub cap: Duration,
    pub timeout: Duration,
}

impl Default for Retries {
    fn default() -> Self {
        Self {
            attempts: 4,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(8),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Whether `host` (as a URL has it, IPv6 in brackets or not) is this
/// machine.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `base` may carry a secret: HTTPS, or plain HTTP to this machine
/// only (the tests' servers). `setting` names where `base` came from and
/// `secret` what travels, for the error. The base without its trailing `/`.
pub fn check_base(base: &str, setting: &str, secret: &str) -> Result<String, String> {
    let base = base.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(base).map_err(|e| format!("{setting} {base}: {e}"))?;
    let loopback = is_loopback(url.host_str().unwrap_or_default());
    match url.scheme() {
        "https" => Ok(base.to_owned()),
        "http" if loopback => Ok(base.to_owned()),
        _ => Err(format!(
            "{setting} {base}: the {secret} only travels over HTTPS (plain HTTP only to loopback)"
        )),
    }
}

/// The HTTP client, built once at init: every request times out after
/// `timeout` (connecting, after at most 5 s); redirects are followed only
/// when `redirects` (a redirect may lead off the host that was checked).
pub fn client(timeout: Duration, redirects: bool) -> Result<reqwest::Client, String> {
    let policy = if redirects {
        reqwest::redirect::Policy::default()
    } else {
        reqwest::redirect::Policy::none()
    };
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(policy)
        .user_agent(concat!("pastdue/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// An answer, its body read whole.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// What a client makes of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The answer to return.
    Done,
    /// Ask again, after `after` when the server said how long (never more
    /// than the cap), else after the backoff; `reason` is for the error
    /// when no attempt is left.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// An answer that asking again will not change.
    Refused,
}

/// An API's error body as Stripe and GoCardless send it:
/// `{"error": {"type": …, "message": …, "errors": [{"reason": …}]}}`
/// (`errors` is GoCardless's only).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct ApiError {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub errors: Vec<ApiErrorReason>,
}

/// One of GoCardless's `errors`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct ApiErrorReason {
    #[serde(default)]
    pub reason: String,
}

impl ApiError {
    /// The error `body` carries, if it reads as one.
    pub fn read(body: &[u8]) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct Body {
            error: ApiError,
        }
        serde_json::from_slice::<Body>(body).ok().map(|b| b.error)
    }
}

/// Why [`send`] has no answer to return.
#[derive(Debug, Clone)]
pub enum Failure {
    /// No answer, or only ones to retry, after every attempt.
    Unavailable { attempts: u32, last: String },
    /// The client refused this answer ([`Verdict::Refused`]).
    Refused(Answer),
    /// A body longer than the limit; it was not read on.
    TooLarge { status: u16, limit: usize },
}

/// Sends the request `build` makes (anew each attempt) until `classify`
/// takes an answer or refuses one, or `retries.attempts` are spent:
/// a connection that failed, a body that broke off or an answer to retry
/// is asked again after a backoff. `service` and `path` name the call in
/// logs and errors (never the URL's query or a header); a body longer than
/// `max_body` is not read.
pub async fn send<B, C>(
    retries: &Retries,
    service: &'static str,
    path: &str,
    max_body: usize,
    build: B,
    classify: C,
) -> Result<Answer, Failure>
where
    B: Fn() -> reqwest::RequestBuilder,
    C: Fn(&Answer) -> Verdict,
{
    let attempts = retries.attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        let wait = match receive(build().send().await, max_body).await {
            Err(Broken::Request(why)) => {
                last = format!("{path}: {why}");
                None
            }
            Err(Broken::TooLarge(status)) => {
                return Err(Failure::TooLarge {
                    status,
                    limit: max_body,
                });
            }
            Ok(answer) => match classify(&answer) {
                Verdict::Done => return Ok(answer),
                Verdict::Refused => return Err(Failure::Refused(answer)),
                Verdict::Retry { after, reason } => {
                    tracing::warn!(
                        service,
                        path,
                        status = answer.status,
                        attempt,
                        "asked to retry"
                    );
                    last = format!("{path}: {} {reason}", answer.status);
                    after
                }
            },
        };
        if attempt < attempts {
            pause(retries, attempt, wait).await;
        }
    }
    Err(Failure::Unavailable { attempts, last })
}

enum Broken {
    Request(&'static str),
    TooLarge(u16),
}

/// The answer to a request, its body read up to `max_body` bytes.
async fn receive(
    sent: Result<reqwest::Response, reqwest::Error>,
    max_body: usize,
) -> Result<Answer, Broken> {
    let mut response = sent.map_err(|e| Broken::Request(describe(&e)))?;
    let status = response.status().as_u16();
    let limit = u64::try_from(max_body).unwrap_or(u64::MAX);
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(Broken::TooLarge(status));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Broken::Request(describe(&e)))?
    {
        if body.len().saturating_add(chunk.len()) > max_body {
            return Err(Broken::TooLarge(status));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers: response.headers().clone(),
        body,
    })
}

/// Waits before attempt `attempt + 1`: what the server asked, or the
/// backoff, never more than the cap.
async fn pause(retries: &Retries, attempt: u32, asked: Option<Duration>) {
    let backoff = retries.base.saturating_mul(1 << (attempt - 1).min(10));
    let jittered = backoff.mul_f64(0.5 + fastrand::f64() / 2.0);
    let wait = asked.unwrap_or(jittered).min(retries.cap);
    tokio::time::sleep(wait).await;
}

/// How long from `now` the header `name` says to wait: delay-seconds
/// (`Retry-After: 3`) or an HTTP date (`Retry-After` may be one,
/// GoCardless's `RateLimit-Reset` is one); a date past is no wait.
pub fn wait_header(headers: &HeaderMap, name: &str, now: SystemTime) -> Option<Duration> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(at.timestamp()).ok()?)
        + Duration::from_nanos(u64::from(at.timestamp_subsec_nanos()));
    Some(at.duration_since(now).unwrap_or_default())
}

/// What went wrong with a request, in words that never carry the URL or
/// its headers.
pub fn describe(e: &reqwest::Error) -> &'static str {
    if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "no answer in time"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else if e.is_redirect() {
        "redirected"
    } else {
        "request failed"
    }
}

/// Answers kept by key until each expires, at most `capacity` of them: a
/// client's, shared by every request of one Lambda container (the client
/// is built once at init). When full, expired entries go first, then the
/// oldest.
#[derive(Debug)]
pub struct Cache<V> {
    capacity: usize,
    entries: Mutex<HashMap<String, Entry<V>>>,
}

#[derive(Debug)]
struct Entry<V> {
    stored: Instant,
    expires: Instant,
    value: V,
}

impl<V: Clone> Cache<V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value under `key` if it has not expired at `now`.
    pub fn get(&self, key: &str, now: Instant) -> Option<V> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(key) {
            Some(e) if e.expires > now => Some(e.value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` under `key` from `now` until `expires` (not at all if
    /// that is not after `now`).
    pub fn insert(&self, key: String, value: V, now: Instant, expires: Instant) {
        if expires <= now {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if !entries.contains_key(&key) && entries.len() >= self.capacity {
            entries.retain(|_, e| e.expires > now);
            while entries.len() >= self.capacity {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, e)| e.stored)
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => entries.remove(&k),
                    None => break,
                };
            }
        }
        entries.insert(
            key,
            Entry {
                stored: now,
                expires,
                value,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_this_machine_only() {
        for host in ["localhost", "127.0.0.1", "[::1]", "::1", "LOCALHOST"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["api.stripe.com", "10.0.0.1", "localhost.example.com", ""] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn a_secret_travels_over_https_or_to_loopback() {
        assert_eq!(
            check_base("https://api.example.com/", "BASE", "token").as_deref(),
            Ok("https://api.example.com")
        );
        assert!(check_base("http://127.0.0.1:12112", "BASE", "token").is_ok());
        assert!(check_base("http://[::1]:1", "BASE", "token").is_ok());
        let refused = check_base("http://api.example.com", "BASE", "token");
        assert!(refused.is_err_and(|e| e.contains("BASE") && e.contains("token")));
        assert!(check_base("ftp://localhost", "BASE", "token").is_err());
        assert!(check_base("not a url", "BASE", "token").is_err());
    }

    #[test]
    fn waits_read_seconds_or_dates() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3".parse().unwrap());
        headers.insert(
            "ratelimit-reset",
            "Thu, 03 May 2018 16:00:10 GMT".parse().unwrap(),
        );
        headers.insert("bad", "soon".parse().unwrap());
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_525_363_200); // 16:00:00
        assert_eq!(
            wait_header(&headers, "retry-after", now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            wait_header(&headers, "ratelimit-reset", now),
            Some(Duration::from_secs(10))
        );
        let later = now + Duration::from_secs(60);
        assert_eq!(
            wait_header(&headers, "ratelimit-reset", later),
            Some(Duration::ZERO)
        );
        assert_eq!(wait_header(&headers, "bad", now), None);
        assert_eq!(wait_header(&headers, "absent", now), None);
    }

    #[test]
    fn the_cache_is_bounded_and_forgets_what_expired() {
        let cache = Cache::new(3);
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        cache.insert("a".into(), 1, t0, t0 + 100 * s);
        cache.insert("b".into(), 2, t0 + s, t0 + 100 * s);
        cache.insert("c".into(), 3, t0 + 2 * s, t0 + 100 * s);
        assert_eq!(cache.len(), 3);
        // Full: the oldest goes.
        cache.insert("d".into(), 4, t0 + 3 * s, t0 + 100 * s);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("a", t0 + 3 * s), None);
        assert_eq!(cache.get("d", t0 + 3 * s), Some(4));
        // Replacing a key does not evict another.
        cache.insert("b".into(), 20, t0 + 4 * s, t0 + 5 * s);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("b", t0 + 4 * s), Some(20));
        // Expired: not answered, and dropped first when full.
        assert_eq!(cache.get("b", t0 + 6 * s), None);
        cache.insert("c".into(), 30, t0 + 6 * s, t0 + 7 * s);
        cache.insert("e".into(), 5, t0 + 8 * s, t0 + 100 * s);
        assert_eq!(cache.len(), 3);
        cache.insert("g".into(), 7, t0 + 8 * s, t0 + 100 * s);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("c", t0 + 8 * s), None);
        assert_eq!(
            cache.get("d", t0 + 8 * s),
            Some(4),
            "the oldest, but not expired"
        );
        assert_eq!(cache.get("e", t0 + 8 * s), Some(5));
        assert_eq!(cache.get("g", t0 + 8 * s), Some(7));
        // Already expired: not kept.
        cache.insert("f".into(), 6, t0 + 9 * s, t0 + 9 * s);
        assert_eq!(cache.get("f", t0 + 9 * s), None);
    }

    #[test]
    fn many_inserts_never_exceed_the_capacity() {
        let cache = Cache::new(100);
        let t0 = Instant::now();
        for i in 0..1000u64 {
            let at = t0 + Duration::from_millis(i);
            cache.insert(format!("k{i}"), i, at, at + Duration::from_secs(60));
            assert!(cache.len() <= 100);
        }
        assert_eq!(cache.len(), 100);
        assert_eq!(cache.get("k999", t0), Some(999));
        assert_eq!(cache.get("k899", t0), None);
    }
}
