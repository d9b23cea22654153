//! Stripe's side of the story: every event the story's Stripe sends is
//! also what Stripe's API knows, so each one (delivered or lost) is put in
//! the loopback Stripe API (`dev/stripe_api.py`) under the demo's key:
//! the event, and the invoice or invoice payment it carries as it now is.
//! The dunning function asks that API before a cut-off.

use serde_json::{Value, json};

use crate::DemoError;
use crate::story::Delivery;

pub struct StripeApi {
    agent: ureq::Agent,
    base: String,
    key: String,
}

impl StripeApi {
    /// The loopback API at `base`, as the Stripe account of `key`: fresh.
    pub fn new(base: &str, key: String) -> Result<Self, DemoError> {
        let api = Self {
            agent: ureq::Agent::new_with_defaults(),
            base: base.trim_end_matches('/').to_owned(),
            key,
        };
        api.set("reset", &json!({}))?;
        Ok(api)
    }

    fn set(&self, what: &str, body: &Value) -> Result<(), DemoError> {
        self.agent
            .post(&format!("{}/_test/{what}", self.base))
            .header("Authorization", &format!("Bearer {}", self.key))
            .send_json(body)
            .map(|_| ())
            .map_err(|e| {
                DemoError::Lambda(format!(
                    "the loopback Stripe API at {}: {e} (is `make stack` running?)",
                    self.base
                ))
            })
    }

    /// Stripe has sent `delivery`: it is in Stripe's log, and its object is
    /// Stripe's current state of that object.
    pub fn record(&self, delivery: &Delivery) -> Result<(), DemoError> {
        self.set("events", &json!([delivery.body]))?;
        let object = delivery.object();
        match object["object"].as_str() {
            Some("invoice") => self.set("invoices", &json!([object])),
            Some("invoice_payment") => self.set("invoice_payments", &json!([object])),
            _ => Ok(()),
        }
    }
}
