//! The `Stripe-Signature` header parser and the whole verification, on any
//! header value and body: never a panic, and nothing forged gets through.
#![no_main]

use lambda_http::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use pastdue_shared::processors::stripe::signature::{StripeVerifier, parse_signature_header};
use pastdue_shared::processors::verify::WebhookVerifier;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    if let Ok(text) = std::str::from_utf8(header) {
        let _ = parse_signature_header(text);
    }
    if let (Ok(value), Ok(verifier)) = (HeaderValue::from_bytes(header), StripeVerifier::new("whsec_fuzz_secret", 300)) {
        let mut headers = HeaderMap::new();
        headers.insert("stripe-signature", value);
        // A random input cannot carry a valid HMAC of the secret.
        assert!(verifier.verify(&headers, body, 1_767_279_600).is_err());
    }
});
