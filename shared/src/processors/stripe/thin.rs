//! Stripe's thin events (`"object": "v2.core.event"`): an event
//! destination's notification names its `related_object` and carries none
//! of its state. Endive's `v1.*` types stand for the snapshot events of the
//! same name: read the related object from Stripe's API, and the snapshot
//! is that object in the event's envelope.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::fields::FieldError;

/// The `object` of a thin event notification.
pub const THIN: &str = "v2.core.event";

/// Whether `path` is one of Stripe's v1 objects (`/v1/<resource>/<id>`,
/// letters, digits, `_` and single `/` only): never another host, a query,
/// or a way out of `/v1/`.
pub fn is_object_path(path: &str) -> bool {
    path.strip_prefix("/v1/").is_some_and(|rest| {
        !rest.is_empty()
            && !rest.contains("//")
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/')
    })
}

/// A thin event of a `v1.*` type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThinEvent {
    pub id: String,
    /// The snapshot event's type (`invoice.paid` for `v1.invoice.paid`).
    pub kind: String,
    pub created: DateTime<Utc>,
    /// Where the object is read: `/v1/invoices/in_…`.
    pub url: String,
}

#[derive(Deserialize)]
struct Notification<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    object: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    created: DateTime<Utc>,
    #[serde(default, borrow)]
    related_object: Option<Related<'a>>,
}

#[derive(Deserialize)]
struct Related<'a> {
    #[serde(borrow)]
    url: Cow<'a, str>,
}

impl ThinEvent {
    /// `Ok(None)` when `body` is not a thin event of a `v1.*` type with a
    /// related object (a snapshot event, or a v2 type).
    pub fn parse(body: &[u8]) -> Result<Option<Self>, FieldError> {
        let Ok(n) = serde_json::from_slice::<Notification<'_>>(body) else {
            return Ok(None);
        };
        if n.object != THIN {
            return Ok(None);
        }
        let (Some(kind), Some(related)) = (n.kind.strip_prefix("v1."), n.related_object) else {
            return Ok(None);
        };
        let url = related.url.into_owned();
        if !is_object_path(&url) {
            return Err(FieldError::new(
                "related_object.url",
                format!("{url:?} is not a Stripe object path"),
            ));
        }
        Ok(Some(Self {
            id: n.id.into_owned(),
            kind: kind.to_owned(),
            created: n.created,
            url,
        }))
    }

    /// The snapshot event: `object` (the API's JSON, rendered in
    /// `api_version`) in this event's envelope.
    pub fn snapshot(&self, object: &[u8], api_version: &str) -> Vec<u8> {
        super::event::event_body(
            &self.id,
            &self.kind,
            self.created.timestamp(),
            api_version,
            object,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thin(kind: &str, url: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "id": "evt_test_65R9Ijk8Z7thin", "object": "v2.core.event", "type": kind,
            "livemode": false, "created": "2026-01-01T20:40:00.000Z",
            "related_object": {"id": "in_thin1", "type": "invoice", "url": url}
        }))
        .unwrap()
    }

    #[test]
    fn a_v1_thin_event_names_its_snapshot_type_and_where_to_read_it() {
        let t = ThinEvent::parse(&thin("v1.invoice.paid", "/v1/invoices/in_thin1"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (t.kind.as_str(), t.url.as_str()),
            ("invoice.paid", "/v1/invoices/in_thin1")
        );
        let snapshot: serde_json::Value = serde_json::from_slice(&t.snapshot(
            br#"{"id":"in_thin1","object":"invoice"}"#,
            "2026-11-18.endive",
        ))
        .unwrap();
        assert_eq!(snapshot["type"], "invoice.paid");
        assert_eq!(snapshot["created"], 1_767_300_000);
        assert_eq!(snapshot["data"]["object"]["id"], "in_thin1");
    }

    #[test]
    fn snapshots_v2_types_and_odd_paths_are_not_read() {
        assert_eq!(
            ThinEvent::parse(br#"{"id":"evt_1","object":"event"}"#),
            Ok(None)
        );
        assert_eq!(
            ThinEvent::parse(&thin("v2.core.account.updated", "/v2/core/accounts/a")),
            Ok(None)
        );
        assert!(ThinEvent::parse(&thin("v1.invoice.paid", "https://evil.example/x")).is_err());
        assert!(ThinEvent::parse(&thin("v1.invoice.paid", "/v1/../v1/events")).is_err());
    }
}
