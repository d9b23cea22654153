//! Naming the canonical events one processor event maps to.

use chrono::{DateTime, Utc};

use crate::domain::fields::FieldError;
use crate::domain::{AccountId, Event, EventId, EventKind};

/// `kinds` as the events of one processor event named `id` (namespaced),
/// all at `at` on `account`: the first is `id`, the others `id:1`, `id:2`,
/// … so every retry of the delivery names each the same.
pub fn numbered_events(
    id: &str,
    at: DateTime<Utc>,
    account: &AccountId,
    kinds: Vec<EventKind>,
) -> Result<Vec<Event>, FieldError> {
    kinds
        .into_iter()
        .enumerate()
        .map(|(n, kind)| {
            let raw = match n {
                0 => id.to_owned(),
                n => format!("{id}:{n}"),
            };
            Ok(Event {
                id: EventId::parse(&raw).map_err(|e| FieldError::new("id", e))?,
                at,
                account: account.clone(),
                kind,
                via: None,
            })
        })
        .collect()
}
