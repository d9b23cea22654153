//! PayPal's webhook signing certificates: a delivery names the one it was
//! signed with by URL (its `PAYPAL-CERT-URL` header, e.g.
//! `https://api.paypal.com/v1/notifications/certs/CERT-360caa42-…`). The
//! URL comes with the delivery, so it is trusted only on PayPal's own
//! hosts ([`AllowedOrigins`]) and fetched without following redirects; a
//! certificate is cached by URL until it expires.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::http_retry::{self, Answer, Cache, Failure, Retries, Verdict};
use crate::ports::certificates::{CertificateError, Certificates};

/// PayPal's live and sandbox API hosts, where its `PAYPAL-CERT-URL`s point.
pub const DEFAULT_ALLOWED: &str = "https://api.paypal.com,https://api-m.paypal.com,\
https://api.sandbox.paypal.com,https://api-m.sandbox.paypal.com";

/// Where on an allowed host certificates are served.
pub const CERTS_PATH: &str = "/v1/notifications/certs/";

/// No certificate (chain) PayPal serves is larger.
pub const MAX_CERTIFICATE: usize = 64 * 1024;

/// At most this many certificates are cached.
pub const CACHE_ENTRIES: usize = 100;

/// However long a certificate is valid, it is fetched again after this:
/// a certificate PayPal replaces early stops being trusted within a day.
pub const MAX_CACHED: Duration = Duration::from_secs(24 * 60 * 60);

const PEM_START: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// One origin: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn of(url: &reqwest::Url) -> Option<Self> {
        Some(Self {
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }
}

/// The origins certificates may come from (`PAYPAL_CERT_ORIGINS`):
/// HTTPS ones, or plain HTTP to loopback (the tests' PayPal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<Origin>);

impl AllowedOrigins {
    /// A comma-separated list of origins: `https://host[:port]`, nothing
    /// more (no user, path, query or fragment).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut origins = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let url = reqwest::Url::parse(part).map_err(|e| format!("{part}: {e}"))?;
            let bare = url.username().is_empty()
                && url.password().is_none()
                && url.path() == "/"
                && url.query().is_none()
                && url.fragment().is_none();
            if !bare {
                return Err(format!(
                    "{part}: an origin is a scheme, a host and a port only"
                ));
            }
            let origin = Origin::of(&url).ok_or_else(|| format!("{part}: no host"))?;
            match origin.scheme.as_str() {
                "https" => {}
                "http" if http_retry::is_loopback(&origin.host) => {}
                _ => {
                    return Err(format!(
                        "{part}: certificates come over HTTPS only (plain HTTP only from loopback)"
                    ));
                }
            }
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        if origins.is_empty() {
            return Err("no origin to fetch certificates from".into());
        }
        Ok(Self(origins))
    }

    /// `url` parsed, if it is a certificate on an allowed origin: that
    /// origin exactly, no user, under [`CERTS_PATH`].
    pub fn check(&self, url: &str) -> Result<reqwest::Url, CertificateError> {
        let not_allowed = |why: &str| CertificateError::NotAllowed(format!("{url}: {why}"));
        let parsed = reqwest::Url::parse(url.trim()).map_err(|e| not_allowed(&e.to_string()))?;
        let origin = Origin::of(&parsed).ok_or_else(|| not_allowed("no host"))?;
        if !self.0.contains(&origin) {
            return Err(not_allowed("not one of PayPal's certificate hosts"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(not_allowed("a URL with a user"));
        }
        // One URL per certificate: a query or fragment would make every
        // variant a cache entry of its own (and a fetch from PayPal).
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(not_allowed("a URL with a query or fragment"));
        }
        let name = parsed.path().strip_prefix(CERTS_PATH).unwrap_or_default();
        if name.is_empty() {
            return Err(not_allowed(&format!("not under {CERTS_PATH}")));
        }
        Ok(parsed)
    }
}

/// PayPal's certificates, fetched from the allowed origins and cached;
/// clones share the cache.
#[derive(Debug, Clone)]
pub struct PaypalCertificates {
    http: reqwest::Client,
    allowed: AllowedOrigins,
    retries: Retries,
    cache: Arc<Cache<Arc<Vec<u8>>>>,
}

impl PaypalCertificates {
    /// Every fetch times out after `timeout`; one failed connection or 5xx
    /// is tried again once.
    pub fn new(allowed: AllowedOrigins, timeout: Duration) -> Result<Self, String> {
        let retries = Retries {
            attempts: 2,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(1),
            timeout,
        };
        Ok(Self {
            http: http_retry::client(timeout, false)?,
            allowed,
            retries,
            cache: Arc::new(Cache::new(CACHE_ENTRIES)),
        })
    }

    async fn fetch(&self, url: &reqwest::Url) -> Result<Vec<u8>, CertificateError> {
        let path = url.path();
        let build = || self.http.get(url.clone());
        let sent = http_retry::send(
            &self.retries,
            "PayPal",
            path,
            MAX_CERTIFICATE,
            build,
            classify,
        );
        match sent.await {
            Ok(answer) => Ok(answer.body),
            Err(Failure::Refused(answer)) if (300..400).contains(&answer.status) => {
                Err(CertificateError::Malformed(format!(
                    "{url} answered a redirect ({}), not followed",
                    answer.status
                )))
            }
            Err(Failure::Refused(answer)) => Err(CertificateError::Malformed(format!(
                "{url} answered {}",
                answer.status
            ))),
            Err(Failure::Unavailable { attempts, last }) => Err(CertificateError::Unavailable(
                format!("{last} (after {attempts} attempts)"),
            )),
            Err(Failure::TooLarge { limit, .. }) => Err(CertificateError::Malformed(format!(
                "{url} answered more than {limit} bytes"
            ))),
        }
    }
}

/// Taken: 2xx; retried: 429 and 5xx; anything else (a redirect too) is
/// refused.
fn classify(answer: &Answer) -> Verdict {
    match answer.status {
        200..=299 => Verdict::Done,
        429 | 500..=599 => Verdict::Retry {
            after: http_retry::wait_header(&answer.headers, "retry-after", SystemTime::now()),
            reason: String::new(),
        },
        _ => Verdict::Refused,
    }
}

/// The earliest notAfter of the PEM certificates in `body` (a chain may
/// follow the signing certificate), in Unix seconds.
pub fn not_after(body: &[u8]) -> Result<i64, CertificateError> {
    if !body.starts_with(PEM_START) {
        return Err(CertificateError::Malformed("not a PEM certificate".into()));
    }
    let mut earliest: Option<i64> = None;
    for pem in x509_parser::pem::Pem::iter_from_buffer(body) {
        let pem = pem.map_err(|e| CertificateError::Malformed(format!("PEM: {e}")))?;
        let cert = pem
            .parse_x509()
            .map_err(|e| CertificateError::Malformed(format!("X.509: {e}")))?;
        let t = cert.validity().not_after.timestamp();
        earliest = Some(earliest.map_or(t, |e| e.min(t)));
    }
    earliest.ok_or_else(|| CertificateError::Malformed("no certificate".into()))
}

/// How long from `now` (Unix seconds) a certificate valid until
/// `not_after` may stay cached.
fn lifetime(not_after: i64, now: i64) -> Duration {
    let left = u64::try_from(not_after.saturating_sub(now)).unwrap_or(0);
    Duration::from_secs(left).min(MAX_CACHED)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Certificates for PaypalCertificates {
    async fn certificate(&self, url: &str) -> Result<Arc<Vec<u8>>, CertificateError> {
        let url = self.allowed.check(url)?;
        if let Some(pem) = self.cache.get(url.as_str(), Instant::now()) {
            return Ok(pem);
        }
        let body = self.fetch(&url).await?;
        let until = not_after(&body)?;
        let pem = Arc::new(body);
        let now = Instant::now();
        // An expired certificate is handed over (the verifier refuses it)
        // but not kept: the next delivery fetches again.
        let expires = now + lifetime(until, unix_now());
        self.cache
            .insert(url.as_str().to_owned(), Arc::clone(&pem), now, expires);
        Ok(pem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(url: &str, origins: &AllowedOrigins) -> bool {
        origins.check(url).is_ok()
    }

    #[test]
    fn the_default_allows_only_paypal() {
        let origins = AllowedOrigins::parse(DEFAULT_ALLOWED).unwrap();
        for url in [
            "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270",
            "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77",
            "https://api-m.paypal.com/v1/notifications/certs/CERT-1",
            "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-1",
            "https://API.PAYPAL.COM/v1/notifications/certs/CERT-1",
            "https://api.paypal.com:443/v1/notifications/certs/CERT-1",
        ] {
            assert!(allowed(url, &origins), "{url}");
        }
        for url in [
            // not PayPal's
            "https://evil.example.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com.evil.example.com/v1/notifications/certs/CERT-1",
            "https://paypal.com/v1/notifications/certs/CERT-1",
            "https://www.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com./v1/notifications/certs/CERT-1",
            // not HTTPS, or another port
            "http://api.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
            // a user
            "https://evil@api.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com:x@api.paypal.com/v1/notifications/certs/CERT-1",
            "https://evil.example.com\\@api.paypal.com/v1/notifications/certs/CERT-1",
            // another path
            "https://api.paypal.com/v1/notifications/certs/",
            "https://api.paypal.com/v1/notifications/certsX",
            "https://api.paypal.com/v1/oauth2/token",
            "https://api.paypal.com/v1/notifications/certs/../../oauth2/token",
            "https://api.paypal.com/v1/notifications/certs/%2e%2e/%2e%2e/oauth2/token",
            "https://api.paypal.com/",
            // not a URL
            "",
            "api.paypal.com/v1/notifications/certs/CERT-1",
            "file:///v1/notifications/certs/CERT-1",
            "http://127.0.0.1/v1/notifications/certs/CERT-1",
        ] {
            let error = origins.check(url).unwrap_err();
            assert!(matches!(error, CertificateError::NotAllowed(_)), "{url}");
        }
    }

    #[test]
    fn origins_are_https_or_loopback_and_bare() {
        for ok in [
            "https://api.paypal.com",
            "https://api.paypal.com/",
            " https://a.example , https://b.example:8443 ",
            "http://127.0.0.1:12113",
            "http://localhost:1",
            "http://[::1]:2",
        ] {
            assert!(AllowedOrigins::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            " , ",
            "http://api.paypal.com",
            "http://10.0.0.1:80",
            "ftp://api.paypal.com",
            "https://user@api.paypal.com",
            "https://api.paypal.com/v1",
            "https://api.paypal.com?x=1",
            "https://api.paypal.com#x",
            "api.paypal.com",
            "https://api.paypal.com,http://evil.example.com",
        ] {
            assert!(AllowedOrigins::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_loopback_origin_allows_its_port_only() {
        let origins = AllowedOrigins::parse("http://127.0.0.1:12113").unwrap();
        assert!(allowed(
            "http://127.0.0.1:12113/v1/notifications/certs/CERT-1",
            &origins
        ));
        for url in [
            "http://127.0.0.1:12114/v1/notifications/certs/CERT-1",
            "https://127.0.0.1:12113/v1/notifications/certs/CERT-1",
            "http://localhost:12113/v1/notifications/certs/CERT-1",
            "https://api.paypal.com/v1/notifications/certs/CERT-1",
        ] {
            assert!(!allowed(url, &origins), "{url}");
        }
    }

    #[test]
    fn only_pem_certificates_read() {
        for bad in [
            &b""[..],
            b"<html>hello</html>",
            b" -----BEGIN CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
            b"-----BEGIN PRIVATE KEY-----\n",
        ] {
            let error = not_after(bad).unwrap_err();
            assert!(matches!(error, CertificateError::Malformed(_)), "{bad:?}");
        }
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["paypal.test".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 1, 2);
        let pem = params.self_signed(&key).unwrap().pem();
        assert_eq!(not_after(pem.as_bytes()), Ok(1_924_992_000 + 86_400));
        // A chain: the earliest.
        let mut early = rcgen::CertificateParams::new(vec!["ca.test".into()]).unwrap();
        early.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let chain = format!("{pem}{}", early.self_signed(&key).unwrap().pem());
        assert_eq!(not_after(chain.as_bytes()), Ok(1_893_456_000));
    }

    #[test]
    fn a_certificate_is_cached_until_it_expires_for_a_day_at_most() {
        assert_eq!(lifetime(100, 200), Duration::ZERO);
        assert_eq!(lifetime(260, 200), Duration::from_secs(60));
        assert_eq!(lifetime(i64::MAX, 0), MAX_CACHED);
        assert_eq!(lifetime(i64::MIN, i64::MAX), Duration::ZERO);
    }

    #[test]
    fn the_cache_is_bounded() {
        let origins = AllowedOrigins::parse(DEFAULT_ALLOWED).unwrap();
        let certs = PaypalCertificates::new(origins, Duration::from_secs(1)).unwrap();
        let now = Instant::now();
        for i in 0..CACHE_ENTRIES * 3 {
            let url = format!("https://api.paypal.com/v1/notifications/certs/CERT-{i}");
            let at = now + Duration::from_millis(i as u64);
            certs
                .cache
                .insert(url, Arc::new(vec![1]), at, at + MAX_CACHED);
            assert!(certs.cache.len() <= CACHE_ENTRIES);
        }
        assert_eq!(certs.cache.len(), CACHE_ENTRIES);
    }

    #[tokio::test]
    async fn a_refused_url_is_never_fetched() {
        let origins = AllowedOrigins::parse("http://127.0.0.1:1").unwrap();
        let certs = PaypalCertificates::new(origins, Duration::from_secs(1)).unwrap();
        let refused = certs.certificate("http://127.0.0.1:2/v1/notifications/certs/CERT-1");
        let error = refused.await.unwrap_err();
        assert!(
            matches!(error, CertificateError::NotAllowed(_)),
            "{error:?}"
        );
        // Allowed but nothing listens: unavailable, for PayPal to retry.
        let unavailable = certs.certificate("http://127.0.0.1:1/v1/notifications/certs/CERT-1");
        let error = unavailable.await.unwrap_err();
        assert!(
            matches!(error, CertificateError::Unavailable(_)),
            "{error:?}"
        );
    }

    /// Against `dev/paypal_api.py` on 127.0.0.1:12113 (`make stack`):
    /// `cargo test -p pastdue-shared --lib paypal_certs -- --ignored`.
    #[tokio::test]
    #[ignore = "needs dev/paypal_api.py on 127.0.0.1:12113"]
    async fn fetches_from_the_loopback_host_once() {
        let base = "http://127.0.0.1:12113";
        let origins = AllowedOrigins::parse(base).unwrap();
        let certs = PaypalCertificates::new(origins, Duration::from_secs(5)).unwrap();
        let id = format!("CERT-pastdue-{}", fastrand::u32(..));
        let url = format!("{base}{CERTS_PATH}{id}");
        let pem = certs.certificate(&url).await.unwrap();
        assert!(pem.starts_with(PEM_START));
        assert!(not_after(&pem).unwrap() > unix_now());
        let again = certs.certificate(&url).await.unwrap();
        assert!(Arc::ptr_eq(&pem, &again), "the second comes from the cache");
        let http = reqwest::Client::new();
        let log = http
            .get(format!("{base}/_test/requests"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let log = String::from_utf8_lossy(&log);
        let fetched = format!("{CERTS_PATH}{id}\"");
        assert_eq!(log.matches(&fetched).count(), 1, "{log}");
    }
}
