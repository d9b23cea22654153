//! A GoCardless webhook as GoCardless posts it: `{"events": [...]}`, up
//! to a few hundred events, each naming its resource by id in `links`
//! (never its amount or customer: those are read from the API, see
//! [`super::resources`]). Read without a JSON tree, borrowing from the
//! body; each event is read on its own, so one that does not read is that
//! event's error, not the batch's.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::domain::fields::FieldError;
use crate::processors::MapError;

/// The envelope: only its `events`, each kept raw until read alone.
#[derive(Debug, Deserialize)]
struct Batch<'a> {
    #[serde(default, borrow)]
    events: Option<Vec<&'a RawValue>>,
}

/// What every event has, whatever else does not read.
#[derive(Debug, Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

/// One event, with the fields pastdue's mapping reads.
#[derive(Debug, Deserialize)]
pub struct WebhookEvent<'a> {
    /// `EV…`: the same on every delivery of this event.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow)]
    pub created_at: Cow<'a, str>,
    /// `payments`, `mandates`, `payouts`, …
    #[serde(borrow)]
    pub resource_type: Cow<'a, str>,
    /// What happened to it: `confirmed`, `failed`, `cancelled`, …
    #[serde(borrow)]
    pub action: Cow<'a, str>,
    #[serde(default, borrow)]
    pub links: Option<Links<'a>>,
    #[serde(default, borrow)]
    pub details: Option<Details<'a>>,
}

/// The ids of the resources an event is about.
#[derive(Debug, Default, Deserialize)]
pub struct Links<'a> {
    #[serde(default, borrow)]
    pub payment: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub mandate: Option<Cow<'a, str>>,
}

/// Why it happened.
#[derive(Debug, Default, Deserialize)]
pub struct Details<'a> {
    /// `gocardless`, `api`, `bank`, `customer`.
    #[serde(default, borrow)]
    pub origin: Option<Cow<'a, str>>,
    /// Machine-readable: `insufficient_funds`, `bank_account_closed`, …
    #[serde(default, borrow)]
    pub cause: Option<Cow<'a, str>>,
    /// For people: "The customer's account had insufficient funds …".
    #[serde(default, borrow)]
    pub description: Option<Cow<'a, str>>,
    /// On `payments.failed`: GoCardless collects it again by itself
    /// (Success+ intelligent retries).
    #[serde(default)]
    pub will_attempt_retry: Option<bool>,
}

impl WebhookEvent<'_> {
    /// `resource_type.action`, as logs name it.
    pub fn kind(&self) -> String {
        format!("{}.{}", self.resource_type, self.action)
    }

    /// When it happened (`created_at`, RFC 3339).
    pub fn at(&self) -> Result<DateTime<Utc>, FieldError> {
        DateTime::parse_from_rfc3339(&self.created_at)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| FieldError::new("created_at", format!("expected RFC 3339: {e}")))
    }

    pub fn payment(&self) -> Option<&str> {
        self.links
            .as_ref()
            .and_then(|l| l.payment.as_deref())
            .filter(|id| !id.is_empty())
    }

    pub fn mandate(&self) -> Option<&str> {
        self.links
            .as_ref()
            .and_then(|l| l.mandate.as_deref())
            .filter(|id| !id.is_empty())
    }

    pub fn cause(&self) -> Option<&str> {
        self.details.as_ref().and_then(|d| d.cause.as_deref())
    }

    pub fn origin(&self) -> Option<&str> {
        self.details.as_ref().and_then(|d| d.origin.as_deref())
    }

    /// `cause: description`, or whichever of them GoCardless sent.
    pub fn reason(&self) -> String {
        let details = self.details.as_ref();
        let cause = details.and_then(|d| d.cause.as_deref()).unwrap_or("");
        let description = details.and_then(|d| d.description.as_deref()).unwrap_or("");
        match (cause.is_empty(), description.is_empty()) {
            (false, false) => format!("{cause}: {description}"),
            (false, true) => cause.to_owned(),
            (true, false) => description.to_owned(),
            (true, true) => format!("{} {}", self.resource_type, self.action),
        }
    }

    /// `details.will_attempt_retry`; not sent is no.
    pub fn will_retry(&self) -> bool {
        self.details
            .as_ref()
            .and_then(|d| d.will_attempt_retry)
            .unwrap_or(false)
    }
}

/// One event of a batch: its id, and the event or why it does not read.
#[derive(Debug)]
pub struct Read<'a> {
    pub id: Cow<'a, str>,
    pub event: Result<WebhookEvent<'a>, FieldError>,
}

/// Reads a webhook body into its events. A body that is not JSON, has no
/// `events` or an empty one, or an event without an `id` is an error of
/// the whole batch (no event of it can be claimed by its id); any other
/// event that does not read is kept as that event's error.
pub fn read_batch(body: &[u8]) -> Result<Vec<Read<'_>>, MapError> {
    let text = std::str::from_utf8(body).map_err(|e| MapError::NotJson(e.to_string()))?;
    let batch: Batch<'_> = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            MapError::NotAnEvent(FieldError::new("events", e.to_string()))
        } else {
            MapError::NotJson(e.to_string())
        }
    })?;
    let events = batch.events.unwrap_or_default();
    if events.is_empty() {
        return Err(MapError::NotAnEvent(FieldError::new(
            "events",
            "a GoCardless webhook carries at least one event",
        )));
    }
    events
        .into_iter()
        .enumerate()
        .map(
            |(n, raw)| match serde_json::from_str::<WebhookEvent<'_>>(raw.get()) {
                Ok(event) => Ok(Read {
                    id: event.id.clone(),
                    event: Ok(event),
                }),
                Err(e) => {
                    let named: Named<'_> = serde_json::from_str(raw.get()).map_err(|_| {
                        MapError::NotAnEvent(FieldError::new(
                            format!("events[{n}].id"),
                            "missing: every GoCardless event has an id",
                        ))
                    })?;
                    Ok(Read {
                        id: named.id,
                        event: Err(FieldError::new("event", e.to_string())),
                    })
                }
            },
        )
        .map(|read| match read {
            Ok(read) if read.id.trim().is_empty() => Err(MapError::NotAnEvent(FieldError::new(
                "events[].id",
                "empty: every GoCardless event has an id",
            ))),
            other => other,
        })
        .collect()
}
