//! The functions as `cargo lambda watch` serves them: the ingest Function
//! URL for Stripe's and GoCardless's deliveries, and the Invoke API for
//! the schedule.

use std::time::Duration;

use chrono::{DateTime, Utc};
use pastdue_shared::handlers::dunning::scheduled_event;
use pastdue_shared::processors::gocardless::signature as gocardless;
use pastdue_shared::processors::stripe::signature as stripe;
use serde_json::Value;

use crate::DemoError;
use crate::gocardless::Batch;
use crate::story::Delivery;

/// A first invocation starts the function's process (`cargo run` of the
/// built binary); later ones answer in milliseconds.
const TIMEOUT: Duration = Duration::from_secs(120);

pub struct Lambda {
    agent: ureq::Agent,
    base: String,
    stripe_secret: String,
    gocardless_secret: String,
}

impl Lambda {
    pub fn new(base: &str, stripe_secret: String, gocardless_secret: String) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .build()
            .into();
        Self {
            agent,
            base: base.trim_end_matches('/').to_owned(),
            stripe_secret,
            gocardless_secret,
        }
    }

    fn failed(&self, what: &str, e: &ureq::Error) -> DemoError {
        DemoError::Lambda(format!(
            "{what} at {}: {e} (is `cargo lambda watch` running?)",
            self.base
        ))
    }

    /// Posts a webhook body to `/lambda-url/ingest/<path>` with the
    /// processor's headers, now. Returns the status and the answer.
    fn post_webhook(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Value), DemoError> {
        let url = format!("{}/lambda-url/ingest/{path}", self.base);
        let mut request = self.agent.post(&url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request
            .send(body)
            .map_err(|e| self.failed("posting a webhook", &e))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| self.failed("reading ingest's answer", &e))?;
        let answer = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, answer))
    }

    /// Posts `delivery` to `/lambda-url/ingest/stripe`, signed as Stripe
    /// signs it, now. Returns the status and the answer.
    pub fn deliver(&self, delivery: &Delivery) -> Result<(u16, Value), DemoError> {
        let body = serde_json::to_vec(&delivery.body)
            .map_err(|e| DemoError::Story(format!("{}: {e}", delivery.body["id"])))?;
        let signature =
            stripe::signature_header(&self.stripe_secret, Utc::now().timestamp(), &body);
        let headers = [
            ("stripe-signature", signature.as_str()),
            ("content-type", "application/json; charset=utf-8"),
            (
                "user-agent",
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            ),
        ];
        self.post_webhook("stripe", &headers, &body)
    }

    /// Posts `batch` to `/lambda-url/ingest/gocardless`, signed as
    /// GoCardless signs it (`Webhook-Signature`, no timestamp).
    pub fn deliver_gocardless(&self, batch: &Batch) -> Result<(u16, Value), DemoError> {
        let body = serde_json::to_vec(&batch.body())
            .map_err(|e| DemoError::Story(format!("a GoCardless batch: {e}")))?;
        let signature = gocardless::signature_header(&self.gocardless_secret, &body);
        let headers = [
            ("webhook-signature", signature.as_str()),
            ("content-type", "application/json"),
            ("user-agent", "gocardless-webhook-service/1.1"),
        ];
        self.post_webhook("gocardless", &headers, &body)
    }

    /// Invokes `dunning` with the Scheduled Event for `time`; returns its
    /// run report.
    pub fn run_schedule(&self, time: DateTime<Utc>) -> Result<Value, DemoError> {
        let url = format!("{}/2015-03-31/functions/dunning/invocations", self.base);
        let mut response = self
            .agent
            .post(&url)
            .header("content-type", "application/json")
            .send(scheduled_event(time).to_string())
            .map_err(|e| self.failed("invoking dunning", &e))?;
        let status = response.status().as_u16();
        let function_error = response.headers().contains_key("x-amz-function-error");
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| self.failed("reading dunning's answer", &e))?;
        if status != 200 || function_error {
            return Err(DemoError::Lambda(format!(
                "dunning at {time} failed ({status}): {text}"
            )));
        }
        serde_json::from_str(&text)
            .map_err(|e| DemoError::Lambda(format!("dunning's report is not JSON: {e}: {text}")))
    }
}

/// Every email the SES emulator accepted (moto's `ses.Message`), by id.
pub fn ses_messages(endpoint: &str) -> Result<std::collections::HashMap<String, Value>, DemoError> {
    let url = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/'));
    let data: Value = ureq::get(&url)
        .call()
        .and_then(|mut r| r.body_mut().read_json())
        .map_err(|e| DemoError::Ses(format!("{url}: {e}")))?;
    Ok(data["ses"]["Message"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| Some((m["id"].as_str()?.to_owned(), m.clone())))
        .collect())
}
