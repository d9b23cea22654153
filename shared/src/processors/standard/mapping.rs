//! Standard Webhooks deliveries: the body is one canonical event (spec §1),
//! the delivery id is the `webhook-id` header.

use lambda_http::http::HeaderMap;
use serde_json::Value;

use super::signature::ID_HEADER;
use crate::domain::Event;
use crate::processors::{MapError, Mapped};

/// The `webhook-id` header (verification requires it; unreadable, it is
/// the empty id).
pub fn delivery_id(headers: &HeaderMap) -> String {
    headers
        .get(ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The body as the canonical event it is; accounts are not created here.
pub fn map(body: &Value) -> Result<Mapped, MapError> {
    Ok(Mapped::Events {
        events: vec![Event::from_json(body)?],
        account: None,
    })
}
