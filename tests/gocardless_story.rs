//! One GoCardless customer's story for the tests: its payment, mandate and
//! customer put in the loopback GoCardless API (`dev/gocardless_api.py`),
//! and the webhook events GoCardless sends about them, signed as it signs
//! them. Also the Stripe fixtures the same story is told with.

#![allow(dead_code)] // each test target uses its part

use lambda_http::Request;
use pastdue_shared::adapters::gocardless_api::{AccessToken, GoCardlessApi};
use pastdue_shared::adapters::stripe_api::Retries;
use pastdue_shared::domain::AccountId;
use pastdue_shared::ports::account_links::AccountLinks;
use pastdue_shared::ports::certificates::NoCertificates;
use pastdue_shared::ports::thin::NoThin;
use pastdue_shared::processors::gocardless::GocardlessProcessor;
use pastdue_shared::processors::gocardless::signature::signature_header;
use pastdue_shared::processors::stripe::StripeProcessor;
use pastdue_shared::processors::{FromSecret, Processors};
use serde_json::{Value, json};
use std::time::Duration;

use crate::ingest_harness::{Deps, STRIPE_SECRET, deps_with, request};
use crate::support;

pub const SECRET: &str = "gocardless_endpoint_secret_for_tests";
pub const TOKEN: &str = "sandbox_test_token";
/// The Stripe fixtures' customer and invoice: 120.00 USD due 2026-01-15,
/// billed to dana@whitfield.example.
pub const STRIPE_CUSTOMER: &str = "cus_Whitfield01";
pub const STRIPE_INVOICE: &str = "in_1QhZ3lLkdIwHu7ixWhf01";

pub type GoCardlessDeps = Deps<NoThin, NoCertificates, Option<GoCardlessApi>>;

pub fn api_base() -> String {
    support::local_endpoint("GOCARDLESS_API_BASE")
}

/// The client as `ingest` builds it, retrying briefly.
pub fn api() -> GoCardlessApi {
    api_with(TOKEN)
}

/// [`api`] with another access token.
pub fn api_with(token: &str) -> GoCardlessApi {
    let retries = Retries {
        attempts: 2,
        base: Duration::from_millis(20),
        cap: Duration::from_millis(100),
        timeout: Duration::from_secs(5),
    };
    GoCardlessApi::new(&api_base(), AccessToken::parse(token).unwrap(), retries).unwrap()
}

/// `ingest` with Stripe and GoCardless, on a fresh table.
pub async fn gocardless_deps(label: &str) -> GoCardlessDeps {
    gocardless_deps_with(label, api()).await
}

/// [`gocardless_deps`] reading GoCardless through `api`.
pub async fn gocardless_deps_with(label: &str, api: GoCardlessApi) -> GoCardlessDeps {
    let processors = Processors::default()
        .with(StripeProcessor::from_secret(STRIPE_SECRET, 300).unwrap())
        .with(GocardlessProcessor::from_secret(SECRET, 300).unwrap());
    deps_with(label, processors, NoThin, NoCertificates, Some(api)).await
}

pub fn stripe_fixture(name: &str) -> Vec<u8> {
    std::fs::read(support::repo_root().join(format!("events/stripe/{name}.json"))).unwrap()
}

fn control(what: &str, body: &Value) {
    ureq::post(&format!("{}/_test/{what}", api_base()))
        .send_json(body)
        .unwrap_or_else(|e| {
            panic!("the loopback GoCardless API ({what}): {e}; is `make stack` running?")
        });
}

/// The next `count` requests to `path` answer `status`.
pub fn api_fail(status: u16, count: u32, path: &str) {
    control(
        "fail",
        &json!({"status": status, "count": count, "path": path}),
    );
}

/// Requests to `path` answer again.
pub fn api_reset_failures(path: &str) {
    control("fail", &json!({"status": 500, "count": 0, "path": path}));
}

/// What the API was asked at `path`.
pub fn api_requests(path: &str) -> Vec<Value> {
    let log: Value = ureq::get(&format!("{}/_test/requests", api_base()))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let all = log.get("requests").unwrap_or(&log);
    all.as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["path"] == path)
        .collect()
}

/// Twelve id characters (uppercase letters and digits, as GoCardless's and
/// PayPal's ids are), unique enough across tests.
pub fn suffix() -> String {
    (0..12)
        .map(|_| {
            let c = fastrand::u8(0..36);
            char::from(if c < 10 { b'0' + c } else { b'A' + c - 10 })
        })
        .collect()
}

/// One customer paying one 120.00 USD payment by direct debit, charged on
/// the Stripe invoice's due date.
#[derive(Debug, Clone)]
pub struct Story {
    pub payment: String,
    pub mandate: String,
    pub customer: String,
    email: String,
    metadata: Value,
}

impl Story {
    pub fn new() -> Self {
        let id = suffix();
        Self {
            payment: format!("PM{id}"),
            mandate: format!("MD{id}"),
            customer: format!("CU{id}"),
            email: format!("billing-{}@gc.example", id.to_ascii_lowercase()),
            metadata: json!({}),
        }
    }

    pub fn with_email(mut self, email: &str) -> Self {
        email.clone_into(&mut self.email);
        self
    }

    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// The account pastdue makes for a new GoCardless customer.
    pub fn account(&self) -> String {
        format!("gocardless:{}", self.customer)
    }

    /// Puts the payment, its mandate and customer in the API.
    pub fn seed(&self) {
        control(
            "customers",
            &json!({"id": self.customer, "email": self.email, "given_name": "Dana",
                "family_name": "Whitfield", "company_name": "Whitfield Hosting"}),
        );
        control(
            "mandates",
            &json!({"id": self.mandate, "status": "active", "links": {"customer": self.customer}}),
        );
        control(
            "payments",
            &json!({"id": self.payment, "amount": 12000, "currency": "USD",
                "charge_date": "2026-01-15", "status": "pending_submission",
                "reference": "WHITFIELD-JAN", "metadata": self.metadata,
                "links": {"mandate": self.mandate}}),
        );
    }

    /// A webhook event about the payment.
    pub fn event(&self, resource_type: &str, action: &str, details: Value) -> Value {
        let mut details = details;
        if details.get("cause").is_none() {
            details["origin"] = json!("gocardless");
            details["cause"] = json!(format!("payment_{action}"));
            details["description"] = json!(format!("Payment {action}."));
        }
        json!({
            "id": format!("EV{}", suffix()),
            "created_at": "2026-01-05T15:00:00.000Z",
            "resource_type": resource_type,
            "action": action,
            "links": {"payment": self.payment},
            "details": details,
            "metadata": {},
            "resource_metadata": {}
        })
    }

    /// A webhook event about the mandate.
    pub fn mandate_event(&self, action: &str) -> Value {
        json!({
            "id": format!("EV{}", suffix()),
            "created_at": "2026-01-06T10:00:00.000Z",
            "resource_type": "mandates",
            "action": action,
            "links": {"mandate": self.mandate},
            "details": {"origin": "bank", "cause": format!("mandate_{action}"),
                "description": format!("The mandate was {action}."), "scheme": "ach"},
            "metadata": {},
            "resource_metadata": {}
        })
    }
}

/// A failure's details, as GoCardless sends them.
pub fn failure(will_attempt_retry: bool) -> Value {
    json!({
        "origin": "bank",
        "cause": "insufficient_funds",
        "description": "The customer's account had insufficient funds to make this payment.",
        "scheme": "ach",
        "reason_code": "R01",
        "will_attempt_retry": will_attempt_retry
    })
}

/// A webhook body of `events`.
pub fn batch(events: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "events": events })).unwrap()
}

/// A delivery to `/gocardless`, signed with `secret`.
pub fn gocardless_request(body: &[u8], secret: &str) -> Request {
    request(
        "POST",
        "/gocardless",
        &[("webhook-signature", signature_header(secret, body))],
        body.to_vec(),
    )
}

/// How many times `action` fired for the account, by its timeline.
pub async fn notices<T, C, O, R>(deps: &Deps<T, C, O, R>, account: &str, action: &str) -> usize {
    let id = AccountId::parse(account).unwrap();
    deps.store
        .timeline(&id)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == "action" && e.summary.starts_with(&format!("{action} ")))
        .count()
}

pub async fn account_exists<T, C, O, R>(deps: &Deps<T, C, O, R>, account: &str) -> bool {
    deps.store
        .account_exists(&AccountId::parse(account).unwrap())
        .await
        .unwrap()
}

/// The Stripe fixtures' story told to `deps`, as Stripe sends it: `names`
/// in order, each answered 200.
pub async fn tell_stripe(deps: &Deps, names: &[&str]) {
    for name in names {
        let (status, answer) = crate::ingest_harness::post(
            deps,
            crate::ingest_harness::stripe_request(
                &stripe_fixture(name),
                STRIPE_SECRET,
                crate::ingest_harness::NOW,
            ),
        )
        .await;
        assert_eq!(status, 200, "{name}: {answer}");
    }
}

/// The invoice and its failed attempt, through Stripe.
pub const STRIPE_UNPAID: [&str; 2] = ["invoice.finalized", "invoice.payment_failed"];
/// Its payment, through Stripe.
pub const STRIPE_PAYMENT: [&str; 2] = ["invoice_payment.paid", "invoice.paid"];
