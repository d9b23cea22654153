//! PayPal's header reading, certificate parsing and the whole
//! verification, on any header values, certificate and body: never a
//! panic, and nothing forged gets through.
#![no_main]

use lambda_http::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use pastdue_shared::processors::paypal::PaypalProcessor;
use pastdue_shared::processors::paypal::signature::{self, SigningCertificate};
use pastdue_shared::processors::{FromSecret, Processor};

fuzz_target!(|data: &[u8]| {
    // Input: `<sig>\n<time>\n<cert url>\n<certificate>\0<body>`.
    let (head, body) = data.split_at(data.iter().position(|b| *b == 0).unwrap_or(data.len()));
    let mut parts = head.splitn(4, |b| *b == b'\n');
    let sig = parts.next().unwrap_or_default();
    let time = parts.next().unwrap_or_default();
    let url = parts.next().unwrap_or_default();
    let cert = parts.next().unwrap_or_default();
    let _ = SigningCertificate::from_pem(cert);
    let mut headers = HeaderMap::new();
    headers.insert(signature::TRANSMISSION_ID, HeaderValue::from_static("69cd13f0-d67a-11e5"));
    headers.insert(signature::AUTH_ALGO, HeaderValue::from_static("SHA256withRSA"));
    for (name, value) in [
        (signature::TRANSMISSION_SIG, sig),
        (signature::TRANSMISSION_TIME, time),
        (signature::CERT_URL, url),
    ] {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.insert(name, v);
        }
    }
    let Ok(processor) = PaypalProcessor::from_secret("WH-FUZZ-ID", 300) else { return };
    let _ = processor.certificate_url(&headers, 1_767_279_600);
    // A random input cannot carry PayPal's (or any certificate's) RSA
    // signature of the message with the configured webhook id.
    assert!(processor.verify_certified(&headers, body, 1_767_279_600, cert).is_err());
});
