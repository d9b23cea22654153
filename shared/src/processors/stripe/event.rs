//! A Stripe event as Stripe posts it, read without building a JSON tree:
//! the envelope borrows its strings from the body and keeps `data.object`
//! as raw bytes, decoded later into the one typed object its type needs.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::tagged::Read;
use crate::domain::fields::FieldError;

/// The fields every Stripe event has, around an object read as `O`.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "O: Deserialize<'de>"))]
pub struct Envelope<'a, O> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    pub created: i64,
    /// The endpoint's API version the object is rendered in.
    #[serde(default, borrow)]
    pub api_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub data: Data<'a, O>,
}

#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "O: Deserialize<'de>"))]
pub struct Data<'a, O> {
    pub object: O,
    /// On `*.updated` and `payment_method.detached`: the changed fields'
    /// values before.
    #[serde(default, borrow)]
    pub previous_attributes: Option<&'a RawValue>,
}

/// The event's object: read in the envelope's pass ([`Read`]), or, when
/// that pass failed, kept raw for the event's type to decide.
#[derive(Debug)]
pub enum Body<'a> {
    Read(Read<'a>),
    Raw(&'a RawValue),
}

/// The first version whose invoices carry no `payment_intent` or `charge`:
/// payments come as `invoice_payment` objects instead.
pub const BASIL: &str = "2025-03-31";

/// A read event: its envelope and when it happened.
#[derive(Debug)]
pub struct StripeEvent<'a> {
    pub id: Cow<'a, str>,
    pub kind: Cow<'a, str>,
    pub created: DateTime<Utc>,
    pub api_version: Option<Cow<'a, str>>,
    pub previous: Option<&'a RawValue>,
}

fn serde_reason(e: &serde_json::Error) -> String {
    // serde_json ends its messages with " at line L column C"; the column
    // is the useful part for a one-line body, so keep the whole message.
    e.to_string()
}

impl<'a> StripeEvent<'a> {
    /// Reads the envelope and, in the same pass, its object; a body that is
    /// not a Stripe event is an error. An object that does not read (of a
    /// type pastdue may not even act on) is kept raw: the envelope is read
    /// again around it, and the event's type decides.
    pub fn parse(body: &'a [u8]) -> Result<(Self, Body<'a>), FieldError> {
        // Checked as UTF-8 once, whole: reading from a `str`, serde_json
        // does not check each string again.
        let text = std::str::from_utf8(body)
            .map_err(|e| FieldError::new("event", format!("not UTF-8: {e}")))?;
        match serde_json::from_str::<Envelope<'a, Read<'a>>>(text) {
            Ok(envelope) => Self::from_envelope(envelope, Body::Read),
            Err(_) => {
                let envelope: Envelope<'a, &'a RawValue> = serde_json::from_str(text)
                    .map_err(|e| FieldError::new("event", serde_reason(&e)))?;
                if !envelope.data.object.get().starts_with('{') {
                    return Err(FieldError::new("data.object", "expected an object"));
                }
                Self::from_envelope(envelope, Body::Raw)
            }
        }
    }

    fn from_envelope<O>(
        envelope: Envelope<'a, O>,
        body: impl FnOnce(O) -> Body<'a>,
    ) -> Result<(Self, Body<'a>), FieldError> {
        let created = DateTime::from_timestamp(envelope.created, 0)
            .ok_or_else(|| FieldError::new("created", "expected Unix seconds"))?;
        let event = Self {
            id: envelope.id,
            kind: envelope.kind,
            created,
            api_version: envelope.api_version,
            previous: envelope.data.previous_attributes,
        };
        Ok((event, body(envelope.data.object)))
    }

    /// The object, read as `tag` when it names no kind of its own.
    pub fn object(&self, body: Body<'a>, tag: &str) -> Result<Read<'a>, FieldError> {
        let read = match body {
            Body::Read(read) => read,
            Body::Raw(raw) => serde_json::from_str(raw.get())
                .map_err(|e| FieldError::new("data.object", serde_reason(&e)))?,
        };
        read.as_kind(tag)
            .map_err(|e| FieldError::new("data.object", serde_reason(&e)))
    }

    /// Decodes `data.previous_attributes`, when sent.
    pub fn previous<T: Deserialize<'a>>(&self) -> Result<Option<T>, FieldError> {
        self.previous
            .map(|raw| {
                serde_json::from_str(raw.get())
                    .map_err(|e| FieldError::new("data.previous_attributes", serde_reason(&e)))
            })
            .transpose()
    }

    /// Whether the object is rendered in basil (2025-03-31) or later. An
    /// event without a version (Stripe omits it only on events from before
    /// 2014) is read as older.
    pub fn basil_or_later(&self) -> bool {
        self.api_version
            .as_deref()
            .is_some_and(|v| v.get(..10).is_some_and(|date| date >= BASIL))
    }
}

/// The body of an event `id` of type `kind`, created at `created` (Unix
/// seconds), around `object` (an object's JSON as Stripe's API rendered it
/// in `api_version`): what pastdue takes when the API, not a webhook, gave
/// it the object (a thin event, the check before a cut-off).
pub fn event_body(id: &str, kind: &str, created: i64, api_version: &str, object: &[u8]) -> Vec<u8> {
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut body = Vec::with_capacity(object.len() + 160);
    body.extend_from_slice(
        format!(
            r#"{{"id":{},"object":"event","api_version":{},"created":{created},"data":{{"object":"#,
            quoted(id),
            quoted(api_version),
        )
        .as_bytes(),
    );
    body.extend_from_slice(object);
    body.extend_from_slice(format!(r#"}},"type":{}}}"#, quoted(kind)).as_bytes());
    body
}

/// An id field that Stripe sends as a string, or as the object itself when
/// expanded: either way its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id<'a>(pub Cow<'a, str>);

impl Id<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Id<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl<'de> Visitor<'de> for IdVisitor {
            type Value = Id<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id string or an object with an `id`")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Id(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Id(Cow::Owned(v.to_owned())))
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut id = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "id" && id.is_none() {
                        id = Some(map.next_value::<Cow<'de, str>>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                id.map(Id).ok_or_else(|| de::Error::missing_field("id"))
            }
        }
        d.deserialize_any(IdVisitor)
    }
}

/// A Stripe list object: only its `data` is read.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct List<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}
