//! PayPal's scheme, as its REST webhooks guide ("verify signature
//! offline") and its SDKs (`Event.validateReceivedEvent` in
//! PayPal-Java-SDK) define it: PayPal signs
//! `<transmission id>|<transmission time>|<webhook id>|<CRC-32 of the raw
//! body, unsigned decimal>` with RSA PKCS#1 v1.5 SHA-256
//! (`PAYPAL-AUTH-ALGO: SHA256withRSA`) under the key of the certificate at
//! `PAYPAL-CERT-URL`; the signature is `PAYPAL-TRANSMISSION-SIG`, base64.
//!
//! The webhook id is the listener's, configured here; the certificate is
//! fetched by the handler (which allows only PayPal's hosts) and passed in.
//! Neither the signature nor the webhook id ever reaches an error or a log.

use std::fmt;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine as _;
use chrono::DateTime;
use lambda_http::http::HeaderMap;
use x509_parser::public_key::PublicKey;

use crate::processors::verify::{VerifyError, header};

pub const TRANSMISSION_ID: &str = "paypal-transmission-id";
pub const TRANSMISSION_TIME: &str = "paypal-transmission-time";
pub const TRANSMISSION_SIG: &str = "paypal-transmission-sig";
pub const CERT_URL: &str = "paypal-cert-url";
pub const AUTH_ALGO: &str = "paypal-auth-algo";

/// The one algorithm PayPal signs with, and the only one accepted.
pub const SHA256_WITH_RSA: &str = "SHA256withRSA";

/// A listener's webhook id: what PayPal puts in every signed message.
/// Kept out of Debug output and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookId(String);

impl WebhookId {
    pub fn new(id: &str) -> Self {
        Self(id.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookId(***)")
    }
}

/// Reads the configured webhook ids: one or more, comma-separated (any
/// matches during a rotation).
pub fn parse_webhook_ids(raw: &str) -> Result<Vec<WebhookId>, String> {
    let ids: Vec<WebhookId> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(WebhookId::new)
        .collect();
    if ids.is_empty() {
        return Err("no PayPal webhook id configured".into());
    }
    if ids
        .iter()
        .any(|id| !id.0.bytes().all(|b| b.is_ascii_graphic() && b != b'|'))
    {
        // Never echo the value: it is part of what PayPal signs.
        return Err("a PayPal webhook id must be visible ASCII without '|'".into());
    }
    Ok(ids)
}

/// The CRC-32 (IEEE, as `java.util.zip.CRC32`) of the raw body, which is
/// what PayPal signs in place of the body itself.
pub fn body_crc32(body: &[u8]) -> u32 {
    crc32fast::hash(body)
}

/// The message PayPal signs for a delivery.
pub fn signed_message(
    transmission_id: &str,
    transmission_time: &str,
    webhook_id: &str,
    body: &[u8],
) -> String {
    format!(
        "{transmission_id}|{transmission_time}|{webhook_id}|{}",
        body_crc32(body)
    )
}

/// What a delivery's headers say was signed.
#[derive(Debug)]
pub struct Transmission<'a> {
    pub id: &'a str,
    /// As sent: it is signed as it reads.
    pub time: &'a str,
    /// Unix seconds.
    pub timestamp: i64,
    pub signature: Vec<u8>,
    pub cert_url: &'a str,
}

/// Reads the five headers; one missing or malformed is an error naming it.
pub fn transmission(headers: &HeaderMap) -> Result<Transmission<'_>, VerifyError> {
    let algo = header(headers, AUTH_ALGO)?;
    if algo != SHA256_WITH_RSA {
        return Err(VerifyError::MalformedHeader(AUTH_ALGO));
    }
    let id = header(headers, TRANSMISSION_ID)?;
    if id.is_empty() {
        return Err(VerifyError::MalformedHeader(TRANSMISSION_ID));
    }
    let time = header(headers, TRANSMISSION_TIME)?;
    let timestamp = DateTime::parse_from_rfc3339(time)
        .map_err(|_| VerifyError::MalformedHeader(TRANSMISSION_TIME))?
        .timestamp();
    let signature = base64::engine::general_purpose::STANDARD
        .decode(header(headers, TRANSMISSION_SIG)?.trim())
        .map_err(|_| VerifyError::MalformedHeader(TRANSMISSION_SIG))?;
    let cert_url = certificate_url(headers)?;
    Ok(Transmission {
        id,
        time,
        timestamp,
        signature,
        cert_url,
    })
}

/// The `paypal-cert-url` header, when it is an absolute URL. Which hosts
/// may serve it is the certificate fetcher's decision, not this one's.
pub fn certificate_url(headers: &HeaderMap) -> Result<&str, VerifyError> {
    let url = header(headers, CERT_URL)?;
    match reqwest::Url::parse(url) {
        Ok(parsed) if parsed.has_host() => Ok(url),
        _ => Err(VerifyError::MalformedHeader(CERT_URL)),
    }
}

/// A signing certificate as far as verification needs it: when it is
/// valid, and its RSA public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCertificate {
    /// Unix seconds, inclusive.
    pub not_before: i64,
    pub not_after: i64,
    /// The `RSAPublicKey` DER from its SubjectPublicKeyInfo.
    pub rsa_public_key: Vec<u8>,
}

impl SigningCertificate {
    /// Reads the first certificate of a PEM file (the leaf, as PayPal
    /// serves it before any chain).
    pub fn from_pem(pem: &[u8]) -> Result<Self, VerifyError> {
        let bad = |why: &str| VerifyError::Certificate(why.to_owned());
        let (_, block) = x509_parser::pem::parse_x509_pem(pem)
            .map_err(|_| bad("not a PEM-encoded certificate"))?;
        if block.label != "CERTIFICATE" {
            return Err(bad("the PEM block is not a CERTIFICATE"));
        }
        let cert = block
            .parse_x509()
            .map_err(|_| bad("not an X.509 certificate"))?;
        let validity = cert.validity();
        let spki = cert.public_key();
        match spki.parsed() {
            Ok(PublicKey::RSA(_)) => {}
            _ => return Err(bad("the certificate's key is not RSA")),
        }
        Ok(Self {
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            rsa_public_key: spki.subject_public_key.data.to_vec(),
        })
    }

    /// Refuses a certificate not valid at `now` (Unix seconds).
    pub fn check_validity(&self, now: i64) -> Result<(), VerifyError> {
        if now < self.not_before {
            return Err(VerifyError::Certificate("not valid yet".into()));
        }
        if now > self.not_after {
            return Err(VerifyError::Certificate("expired".into()));
        }
        Ok(())
    }

    /// Whether `signature` is this key's RSA PKCS#1 v1.5 SHA-256 signature
    /// of `message`.
    pub fn signed(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.rsa_public_key)
            .verify(message, signature)
            .is_ok()
    }
}

/// The transmission the headers describe, if it was sent within
/// `tolerance` seconds of `now`: what can be checked without the
/// certificate (or before asking PayPal's API).
pub fn fresh_transmission(
    headers: &HeaderMap,
    now: i64,
    tolerance: i64,
) -> Result<Transmission<'_>, VerifyError> {
    let t = transmission(headers)?;
    if (i128::from(now) - i128::from(t.timestamp)).abs() > i128::from(tolerance) {
        return Err(VerifyError::Stale { tolerance });
    }
    Ok(t)
}

/// The whole check: headers, freshness (|now − transmission time| ≤
/// `tolerance` seconds), the certificate's validity at `now`, then the
/// signature under any of `webhook_ids`.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    certificate_pem: &[u8],
    webhook_ids: &[WebhookId],
    tolerance: i64,
) -> Result<(), VerifyError> {
    let t = fresh_transmission(headers, now, tolerance)?;
    let cert = SigningCertificate::from_pem(certificate_pem)?;
    cert.check_validity(now)?;
    let crc = body_crc32(body);
    let matched = webhook_ids.iter().any(|webhook| {
        let message = format!("{}|{}|{}|{crc}", t.id, t.time, webhook.as_str());
        cert.signed(message.as_bytes(), &t.signature)
    });
    if matched {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}
