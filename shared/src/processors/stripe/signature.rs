//! Stripe's scheme: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`,
//! HMAC-SHA256 over `"{t}.{raw body}"` keyed with the whole `whsec_…` string.

use crate::processors::verify::to_hex;

use lambda_http::http::HeaderMap;

use crate::processors::verify::{
    Secret, Signed, VerifyError, WebhookVerifier, header, hex_32, hmac_sha256, parse_secrets,
};

pub const SIGNATURE_HEADER: &str = "stripe-signature";

#[derive(Debug, Clone)]
pub struct StripeVerifier {
    secrets: Vec<Secret>,
    tolerance: i64,
}

/// The parts of a `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeSignature<'a> {
    pub timestamp: &'a str,
    pub v1: Vec<&'a str>,
}

/// Parses `t=…,v1=…,v1=…` (other schemes such as `v0` are ignored).
pub fn parse_signature_header(value: &str) -> Result<StripeSignature<'_>, VerifyError> {
    let malformed = VerifyError::MalformedHeader(SIGNATURE_HEADER);
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for part in value.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(malformed.clone())?;
        match k {
            "t" if timestamp.is_none() => timestamp = Some(v),
            "t" => return Err(malformed),
            "v1" => v1.push(v),
            _ => {}
        }
    }
    let timestamp = timestamp
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(malformed.clone())?;
    if v1.is_empty() {
        return Err(malformed);
    }
    Ok(StripeSignature { timestamp, v1 })
}

/// The `Stripe-Signature` value Stripe (and `stripe listen`) sends for
/// `body` at `timestamp`, signed with `secret` (the whole `whsec_…` string):
/// the sender's side of the scheme, for local deliveries and tests.
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let mac = hmac_sha256(secret.as_bytes(), &[t.as_bytes(), b".", body]);
    format!("t={t},v1={}", to_hex(&mac))
}

impl StripeVerifier {
    /// `secrets`: one or more `whsec_…` strings, comma-separated (rotation).
    pub fn new(secrets: &str, tolerance: i64) -> Result<Self, String> {
        // Stripe keys the HMAC with the whole `whsec_…` string.
        let secrets = parse_secrets(secrets, "Stripe", |s| {
            Ok(Secret::from_bytes(s.as_bytes().to_vec()))
        })?;
        Ok(Self { secrets, tolerance })
    }
}

impl WebhookVerifier for StripeVerifier {
    fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    fn tolerance(&self) -> i64 {
        self.tolerance
    }

    fn signed<'a>(
        &self,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> Result<Signed<'a>, VerifyError> {
        let parsed = parse_signature_header(header(headers, SIGNATURE_HEADER)?)?;
        let timestamp = parsed
            .timestamp
            .parse()
            .map_err(|_| VerifyError::MalformedHeader(SIGNATURE_HEADER))?;
        Ok(Signed {
            timestamp: Some(timestamp),
            // A v1 that is not a hex HMAC-SHA256 cannot match; keep the others.
            signatures: parsed.v1.iter().filter_map(|s| hex_32(s)).collect(),
            message: vec![parsed.timestamp.as_bytes(), b".", body],
        })
    }
}
