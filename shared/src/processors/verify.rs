//! Webhook signature verification: one trait whose default `verify` runs
//! small per-processor hooks (what the headers say was signed, secrets,
//! tolerance), HMAC-SHA256 compared in constant time.

use std::fmt;

use aws_lc_rs::hmac::{self, HMAC_SHA256};
use lambda_http::http::HeaderMap;
use subtle::ConstantTimeEq;

/// Why a delivery was not accepted as authentic. Never retryable, and never
/// carries the secret or the signature.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed {0} header")]
    MalformedHeader(&'static str),
    #[error("timestamp outside the {tolerance} s tolerance")]
    Stale { tolerance: i64 },
    #[error("no signature matches")]
    BadSignature,
    /// The signing certificate (PayPal's) does not read, is not valid now,
    /// or holds no key of the scheme's kind. Names no secret.
    #[error("certificate: {0}")]
    Certificate(String),
}

/// A webhook signing secret, with its HMAC key schedule computed once.
/// Its bytes never appear in Debug output or logs.
#[derive(Clone)]
pub struct Secret {
    key: hmac::Key,
}

impl Secret {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self {
            key: hmac::Key::new(HMAC_SHA256, &bytes),
        }
    }

    /// HMAC-SHA256 of `message` under this secret.
    pub fn sign(&self, message: &[&[u8]]) -> [u8; 32] {
        sign_with(&self.key, message)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Reads a comma-separated list of secrets (several during a rotation),
/// each turned into key bytes by `key`.
pub fn parse_secrets(
    raw: &str,
    processor: &str,
    key: impl Fn(&str) -> Result<Secret, String>,
) -> Result<Vec<Secret>, String> {
    let secrets = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(key)
        .collect::<Result<Vec<_>, _>>()?;
    if secrets.is_empty() {
        return Err(format!("no {processor} webhook secret configured"));
    }
    Ok(secrets)
}

fn sign_with(key: &hmac::Key, message: &[&[u8]]) -> [u8; 32] {
    let mut context = hmac::Context::with_key(key);
    for part in message {
        context.update(part);
    }
    let mut out = [0; 32];
    out.copy_from_slice(context.sign().as_ref());
    out
}

/// HMAC-SHA256 of `message` under `key` (AWS-LC's, the library TLS uses).
pub fn hmac_sha256(key: &[u8], message: &[&[u8]]) -> [u8; 32] {
    sign_with(&hmac::Key::new(HMAC_SHA256, key), message)
}

pub fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, VerifyError> {
    headers
        .get(name)
        .ok_or(VerifyError::MissingHeader(name))?
        .to_str()
        .map_err(|_| VerifyError::MalformedHeader(name))
}

/// What a delivery's headers say was signed, read from them once.
#[derive(Debug)]
pub struct Signed<'a> {
    /// When the sender signed it (Unix seconds); `None` for a scheme that
    /// signs no time (GoCardless: its deliveries are deduplicated by event
    /// id instead).
    pub timestamp: Option<i64>,
    /// The candidate HMAC-SHA256 signatures it carries; one of another
    /// length cannot match and is left out.
    pub signatures: Vec<[u8; 32]>,
    /// The parts of the signed message, in order.
    pub message: Vec<&'a [u8]>,
}

pub trait WebhookVerifier {
    /// The secrets currently accepted (more than one during a rotation).
    fn secrets(&self) -> &[Secret];
    /// Allowed |now − timestamp| in seconds.
    fn tolerance(&self) -> i64;
    /// The delivery's timestamp, signatures and signed message, from its
    /// headers; a header missing or malformed is an error.
    fn signed<'a>(&self, headers: &'a HeaderMap, body: &'a [u8])
    -> Result<Signed<'a>, VerifyError>;

    /// Accepts a delivery when its timestamp is within tolerance and any of
    /// its signatures matches any secret. Comparisons are constant-time.
    fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
        let signed = self.signed(headers, body)?;
        if let Some(timestamp) = signed.timestamp
            && (now - timestamp).abs() > self.tolerance()
        {
            return Err(VerifyError::Stale {
                tolerance: self.tolerance(),
            });
        }
        let mut matched = subtle::Choice::from(0);
        for secret in self.secrets() {
            let expected = secret.sign(&signed.message);
            for signature in &signed.signatures {
                matched |= expected.as_slice().ct_eq(signature.as_slice());
            }
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }
}

/// `bytes` in lowercase hex (a signature as Stripe and GoCardless send it,
/// a digest).
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut hex, b| {
            // Writing to a String cannot fail.
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// A 32-byte signature from lowercase or uppercase hex; `None` if it is
/// not hex or not 32 bytes.
pub fn hex_32(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}
