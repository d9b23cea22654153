//! GoCardless's side of the story (`events/demo/gocardless.json`): the
//! customer, mandate and payment its API holds, put in the loopback
//! GoCardless API (`dev/gocardless_api.py`) before the first day, since
//! `ingest` reads each payment an event names from there; and the webhook
//! deliveries, each a batch of events as GoCardless posts them, with the
//! instant it is sent. A delivery sent twice (GoCardless retries one it
//! had no `2xx` for) must answer `duplicate` for what the first applied.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use pastdue_shared::domain::AccountId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::DemoError;

/// The resources as GoCardless's API answers them.
#[derive(Debug, Default, Deserialize)]
pub struct Resources {
    #[serde(default)]
    pub customers: Vec<Value>,
    #[serde(default)]
    pub mandates: Vec<Value>,
    #[serde(default)]
    pub payments: Vec<Value>,
}

/// One webhook delivery: `{"events": [...]}`, sent at `sent`.
#[derive(Debug, Clone, Deserialize)]
pub struct Batch {
    pub sent: DateTime<Utc>,
    pub events: Vec<Value>,
}

impl Batch {
    /// The body as GoCardless posts it.
    pub fn body(&self) -> Value {
        json!({ "events": self.events })
    }

    /// What ingest answered for each event, in order: a batch of several
    /// answers per event, a batch of one as a single delivery.
    pub fn outcomes(&self, answer: &Value) -> Vec<String> {
        let listed = answer["events"].as_array().filter(|events| {
            events.len() == self.events.len() && events.iter().all(|e| e["outcome"].is_string())
        });
        match listed {
            Some(events) => events
                .iter()
                .map(|e| e["outcome"].as_str().unwrap_or_default().to_owned())
                .collect(),
            None => {
                let outcome = answer["outcome"].as_str().unwrap_or_default();
                vec![outcome.to_owned(); self.events.len()]
            }
        }
    }
}

/// `gocardless.json`.
#[derive(Debug, Default, Deserialize)]
pub struct GoCardless {
    pub api: Resources,
    pub deliveries: Vec<Batch>,
}

fn find<'a>(items: &'a [Value], id: Option<&str>) -> Option<&'a Value> {
    let id = id?;
    items.iter().find(|i| i["id"] == id)
}

impl GoCardless {
    pub fn load(path: &Path) -> Result<Self, DemoError> {
        let story = |e: String| DemoError::Story(format!("{}: {e}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| story(e.to_string()))?;
        let file: Self = serde_json::from_str(&text).map_err(|e| story(e.to_string()))?;
        if !file.deliveries.is_sorted_by_key(|b| b.sent) {
            return Err(story(
                "deliveries must be in the order GoCardless sends them (by `sent`)".into(),
            ));
        }
        for batch in &file.deliveries {
            for event in &batch.events {
                let created = event["created_at"]
                    .as_str()
                    .and_then(|t| t.parse::<DateTime<Utc>>().ok());
                if created.is_none_or(|c| c > batch.sent) {
                    return Err(story(format!(
                        "{}: `created_at` must be an instant no later than the delivery's `sent`",
                        event["id"]
                    )));
                }
                if let Some(pm) = event["links"]["payment"].as_str()
                    && file.account_of_payment(pm).is_none()
                {
                    return Err(story(format!(
                        "{}: payment {pm} is not in `api` with its mandate and a customer whose \
                         metadata names a pastdue_account",
                        event["id"]
                    )));
                }
            }
        }
        Ok(file)
    }

    pub fn payment(&self, id: Option<&str>) -> Option<&Value> {
        find(&self.api.payments, id)
    }

    /// The pastdue account the payment's customer names in its metadata.
    pub fn account_of_payment(&self, pm: &str) -> Option<AccountId> {
        let payment = self.payment(Some(pm))?;
        let mandate = find(&self.api.mandates, payment["links"]["mandate"].as_str())?;
        let customer = find(&self.api.customers, mandate["links"]["customer"].as_str())?;
        AccountId::parse(customer["metadata"]["pastdue_account"].as_str()?).ok()
    }

    /// The last instant anything is sent.
    pub fn last_sent(&self) -> Option<DateTime<Utc>> {
        self.deliveries.last().map(|b| b.sent)
    }
}

/// The loopback GoCardless API's control endpoints (no token needed).
pub fn seed(base: &str, resources: &Resources) -> Result<(), DemoError> {
    let base = base.trim_end_matches('/');
    let agent = ureq::Agent::new_with_defaults();
    for (kind, items) in [
        ("customers", &resources.customers),
        ("mandates", &resources.mandates),
        ("payments", &resources.payments),
    ] {
        if items.is_empty() {
            continue;
        }
        agent
            .post(&format!("{base}/_test/{kind}"))
            .send_json(items)
            .map_err(|e| {
                DemoError::Lambda(format!(
                    "the loopback GoCardless API at {base} ({kind}): {e} (is `make stack` running?)"
                ))
            })?;
    }
    Ok(())
}

/// What each event answered the first time it was delivered: one sent
/// again must answer `duplicate` where it was applied.
#[derive(Default)]
pub struct Answered(HashMap<String, String>);

impl Answered {
    pub fn check(&mut self, batch: &Batch, outcomes: &[String]) -> Result<(), DemoError> {
        for (event, outcome) in batch.events.iter().zip(outcomes) {
            let id = event["id"].as_str().unwrap_or_default().to_owned();
            match self.0.get(&id) {
                Some(first) if first == "applied" && outcome != "duplicate" => {
                    return Err(DemoError::Lambda(format!(
                        "GoCardless sent {id} again and ingest answered `{outcome}`, not `duplicate`"
                    )));
                }
                Some(_) => {}
                None => {
                    self.0.insert(id, outcome.clone());
                }
            }
        }
        Ok(())
    }
}
