//! The `Webhook-Signature` check on any header value and body: never a
//! panic, and nothing forged gets through.
#![no_main]

use lambda_http::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use pastdue_shared::processors::gocardless::signature::{GocardlessVerifier, SIGNATURE_HEADER};
use pastdue_shared::processors::verify::WebhookVerifier;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    if let (Ok(value), Ok(verifier)) = (
        HeaderValue::from_bytes(header),
        GocardlessVerifier::new("fuzz_endpoint_secret", 300),
    ) {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, value);
        // A random input cannot carry a valid HMAC of the secret.
        assert!(verifier.verify(&headers, body, 1_767_279_600).is_err());
    }
});
