//! Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`
//! (space-separated `v1,<base64>`); HMAC-SHA256 over `"{id}.{timestamp}.{body}"`
//! keyed with the base64-decoded part of the `whsec_` secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lambda_http::http::HeaderMap;

use crate::processors::verify::{
    Secret, Signed, VerifyError, WebhookVerifier, header, parse_secrets,
};

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

#[derive(Debug, Clone)]
pub struct StandardVerifier {
    secrets: Vec<Secret>,
    tolerance: i64,
}

impl StandardVerifier {
    /// `secrets`: one or more `whsec_<base64>` strings, comma-separated.
    pub fn new(secrets: &str, tolerance: i64) -> Result<Self, String> {
        let secrets = parse_secrets(secrets, "Standard Webhooks", |s| {
            let b64 = s.strip_prefix("whsec_").unwrap_or(s);
            STANDARD
                .decode(b64)
                .map(Secret::from_bytes)
                .map_err(|_| "a Standard Webhooks secret is whsec_ followed by base64".to_owned())
        })?;
        Ok(Self { secrets, tolerance })
    }
}

impl WebhookVerifier for StandardVerifier {
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
        let ts = header(headers, TIMESTAMP_HEADER)?.trim();
        let timestamp = ts
            .parse()
            .map_err(|_| VerifyError::MalformedHeader(TIMESTAMP_HEADER))?;
        let id = header(headers, ID_HEADER)?;
        let value = header(headers, SIGNATURE_HEADER)?;
        let decoded = value
            .split_whitespace()
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .collect::<Vec<_>>();
        if decoded.is_empty() {
            return Err(VerifyError::MalformedHeader(SIGNATURE_HEADER));
        }
        Ok(Signed {
            timestamp: Some(timestamp),
            // One that is not an HMAC-SHA256 cannot match.
            signatures: decoded
                .into_iter()
                .filter_map(|s| <[u8; 32]>::try_from(s).ok())
                .collect(),
            message: vec![id.as_bytes(), b".", ts.as_bytes(), b".", body],
        })
    }
}
