//! GoCardless's scheme: `Webhook-Signature: <hex>`, the lowercase hex
//! HMAC-SHA256 of the raw body keyed with the webhook endpoint's secret
//! (as its client libraries check it: `gocardless_pro/webhooks.py`). It
//! signs no time: a replayed delivery is caught by its events' ids.

use crate::processors::verify::to_hex;

use lambda_http::http::HeaderMap;

use crate::processors::verify::{
    Secret, Signed, VerifyError, WebhookVerifier, header, hex_32, hmac_sha256, parse_secrets,
};

pub const SIGNATURE_HEADER: &str = "webhook-signature";

#[derive(Debug, Clone)]
pub struct GocardlessVerifier {
    secrets: Vec<Secret>,
    tolerance: i64,
}

impl GocardlessVerifier {
    /// `secrets`: one or more endpoint secrets, comma-separated (several
    /// during a rotation); each keys the HMAC as the string it is.
    pub fn new(secrets: &str, tolerance: i64) -> Result<Self, String> {
        let secrets = parse_secrets(secrets, "GoCardless", |s| {
            Ok(Secret::from_bytes(s.as_bytes().to_vec()))
        })?;
        Ok(Self { secrets, tolerance })
    }
}

/// The `Webhook-Signature` value GoCardless sends for `body` under
/// `secret`: the sender's side of the scheme, for local deliveries and
/// tests.
pub fn signature_header(secret: &str, body: &[u8]) -> String {
    to_hex(&hmac_sha256(secret.as_bytes(), &[body]))
}

impl WebhookVerifier for GocardlessVerifier {
    fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    /// Unused: GoCardless signs no time.
    fn tolerance(&self) -> i64 {
        self.tolerance
    }

    fn signed<'a>(
        &self,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> Result<Signed<'a>, VerifyError> {
        let value = header(headers, SIGNATURE_HEADER)?.trim();
        let signature = hex_32(value).ok_or(VerifyError::MalformedHeader(SIGNATURE_HEADER))?;
        Ok(Signed {
            timestamp: None,
            signatures: vec![signature],
            message: vec![body],
        })
    }
}
