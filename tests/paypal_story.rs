//! One PayPal customer's story for the tests: PayPal's published events
//! (`events/paypal/`) about one invoice, made this test's own, and signed
//! as PayPal signs them with the key of the certificate the loopback
//! PayPal host serves (`dev/paypal_api.py`).

#![allow(dead_code)] // each test target uses its part

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat};
use lambda_http::Request;
use pastdue_shared::adapters::gocardless_api::GoCardlessApi;
use pastdue_shared::adapters::paypal_certs::{AllowedOrigins, PaypalCertificates};
use pastdue_shared::adapters::paypal_verify::{ClientSecret, PaypalVerifyApi};
use pastdue_shared::ports::certificates::NoCertificates;
use pastdue_shared::ports::thin::NoThin;
use pastdue_shared::processors::gocardless::GocardlessProcessor;
use pastdue_shared::processors::paypal::PaypalProcessor;
use pastdue_shared::processors::paypal::signature::signed_message;
use pastdue_shared::processors::stripe::StripeProcessor;
use pastdue_shared::processors::{FromSecret, Processors};
use serde_json::{Value, json};
use std::sync::OnceLock;
use std::time::Duration;

use crate::gocardless_story::{self, suffix};
use crate::ingest_harness::{Deps, STRIPE_SECRET, deps_with, post_at, request};
use crate::support;

pub const WEBHOOK_ID: &str = "1JE4291016473214C";
pub const OLD_WEBHOOK_ID: &str = "8PT597110X687430LKGECATA";

pub type AllDeps = Deps<NoThin, PaypalCertificates, Option<GoCardlessApi>>;

pub fn api_base() -> String {
    support::local_endpoint("PAYPAL_API_BASE")
}

/// The certificate hosts `ingest` allows: only the loopback PayPal here.
pub fn certificates() -> PaypalCertificates {
    PaypalCertificates::new(
        AllowedOrigins::parse(&api_base()).unwrap(),
        Duration::from_secs(5),
    )
    .unwrap()
}

/// `ingest` with Stripe, PayPal and GoCardless, on a fresh table.
pub async fn all_deps(label: &str) -> AllDeps {
    let processors = Processors::default()
        .with(StripeProcessor::from_secret(STRIPE_SECRET, 300).unwrap())
        .with(PaypalProcessor::from_secret(&format!("{WEBHOOK_ID},{OLD_WEBHOOK_ID}"), 300).unwrap())
        .with(GocardlessProcessor::from_secret(gocardless_story::SECRET, 300).unwrap());
    deps_with(
        label,
        processors,
        NoThin,
        certificates(),
        Some(gocardless_story::api()),
    )
    .await
}

/// `ingest` verifying PayPal through its API at the loopback host (the
/// REST app the host knows), fetching no certificate.
pub async fn api_verified_deps(
    label: &str,
) -> Deps<NoThin, NoCertificates, Option<GoCardlessApi>, PaypalVerifyApi> {
    let d = all_deps(label).await;
    let api = PaypalVerifyApi::new(
        &api_base(),
        "test_client",
        ClientSecret::parse("test_secret").unwrap(),
        pastdue_shared::adapters::stripe_api::Retries::default(),
    )
    .unwrap();
    pastdue_shared::handlers::ingest::Ingest {
        processors: d.processors,
        store: d.store,
        accounts: d.accounts,
        bus: d.bus,
        thin: d.thin,
        certificates: NoCertificates,
        objects: d.objects,
        remote: api,
    }
}

/// The loopback host's signing key (PKCS#8), read once.
fn key() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        let pem = ureq::get(&format!("{}/_test/key", api_base()))
            .call()
            .unwrap_or_else(|e| panic!("the loopback PayPal host: {e}; is `make stack` running?"))
            .body_mut()
            .read_to_string()
            .unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        KeyPair::from_pkcs8(&STANDARD.decode(b64).unwrap()).unwrap()
    })
}

/// How a delivery is signed; each part can be made wrong.
#[derive(Debug, Clone)]
pub struct Signing {
    pub webhook_id: String,
    pub time: i64,
    pub cert_url: String,
    pub algo: String,
}

impl Default for Signing {
    fn default() -> Self {
        Self {
            webhook_id: WEBHOOK_ID.to_owned(),
            time: now(),
            cert_url: format!(
                "{}/v1/notifications/certs/CERT-360caa42-fca2a594-7a8abba8",
                api_base()
            ),
            algo: "SHA256withRSA".to_owned(),
        }
    }
}

/// The real time: the loopback host's certificate is valid from when it
/// started, so PayPal deliveries are signed and taken now, not at the
/// fixtures' instant.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Takes `req` now (see [`now`]).
pub async fn post_now<T, C, O, R>(deps: &Deps<T, C, O, R>, req: Request) -> (u16, Value)
where
    T: pastdue_shared::ports::thin::Thicken,
    C: pastdue_shared::ports::certificates::Certificates,
    O: pastdue_shared::ports::objects::FetchObjects,
    R: pastdue_shared::ports::remote_verify::VerifyRemotely,
{
    post_at(deps, req, now()).await
}

/// The transmission headers PayPal sends with `body`.
pub fn headers(body: &[u8], signing: &Signing) -> Vec<(&'static str, String)> {
    let id = format!("{}-{}", suffix(), suffix()).to_ascii_lowercase();
    let time = DateTime::from_timestamp(signing.time, 0)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let message = signed_message(&id, &time, &signing.webhook_id, body);
    let mut signature = vec![0; key().public_modulus_len()];
    key()
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            message.as_bytes(),
            &mut signature,
        )
        .unwrap();
    vec![
        ("paypal-transmission-id", id),
        ("paypal-transmission-time", time),
        ("paypal-transmission-sig", STANDARD.encode(signature)),
        ("paypal-cert-url", signing.cert_url.clone()),
        ("paypal-auth-algo", signing.algo.clone()),
    ]
}

/// A delivery to `/paypal`, signed as `signing` says.
pub fn paypal_request(body: &[u8], signing: &Signing) -> Request {
    request("POST", "/paypal", &headers(body, signing), body.to_vec())
}

/// One PayPal invoice of 120.00 USD, due on the Stripe fixtures' due
/// date, to `email`.
#[derive(Debug, Clone)]
pub struct Story {
    pub invoice: String,
    pub email: String,
    pub capture: String,
}

impl Story {
    pub fn new(email: &str) -> Self {
        let id = suffix();
        Self {
            invoice: format!("INV2-{}-{}", &id[..4], &id[4..]),
            email: email.to_owned(),
            capture: format!("{}CAP", suffix()),
        }
    }

    /// The account pastdue makes for the recipient when it is new.
    pub fn account(&self) -> String {
        format!("paypal:{}", self.email.to_ascii_lowercase())
    }

    /// The published `event_type` fixture, about this story's invoice and
    /// capture, under a fresh event id.
    pub fn event(&self, event_type: &str) -> Value {
        let path = support::repo_root().join(format!("events/paypal/{event_type}.json"));
        let text = std::fs::read_to_string(path).unwrap();
        let text = text
            .replace("INV2-Z56S-5LLA-Q52L-CPZ5", &self.invoice)
            .replace("Ada.Lovelace@Acme.example", &self.email)
            .replace("pastdue:acme-co", "PO-1187")
            .replace("2025-03-31", "2026-01-15")
            .replace("7NW873794T343360M", &self.capture)
            .replace("27M47624FP291604U", &self.capture);
        let mut event: Value = serde_json::from_str(&text).unwrap();
        event["id"] = json!(format!("WH-{}-{}", suffix(), suffix()));
        event
    }
}

pub fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}
