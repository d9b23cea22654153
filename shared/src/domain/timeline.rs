//! The audit timeline: one entry per event applied, action taken or
//! operator change, kept forever with the account. Pure: the time an entry
//! was recorded is passed in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::engine::Action;
use super::event::{Event, EventKind};

/// One line of an account's audit timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub recorded_at: DateTime<Utc>,
    /// `event`, `action` or `account` (operator tools add their own, e.g.
    /// `email`).
    pub kind: String,
    pub summary: String,
    pub detail: Value,
}

impl TimelineEntry {
    /// An operator's (or processor's) change to the account's details.
    pub fn account(recorded_at: DateTime<Utc>, summary: String, detail: Value) -> Self {
        Self {
            recorded_at,
            kind: "account".to_owned(),
            summary,
            detail,
        }
    }

    /// An event, with what applying it did (`applied`, `no_effect`, ...).
    pub fn event(recorded_at: DateTime<Utc>, event: &Event, outcome: &str) -> Self {
        let what = match (&event.kind, event.kind.invoice()) {
            (EventKind::HoldPlaced { until, reason, .. }, _) => {
                format!("hold_placed until {until}: {reason}")
            }
            (
                EventKind::TaskOutcome {
                    task,
                    outcome,
                    note,
                    ..
                },
                _,
            ) => format!("call for {task}: {}: {note}", outcome.as_str()),
            (kind, Some(invoice)) => format!("{} {invoice}", kind.type_name()),
            (kind, None) => kind.type_name().to_owned(),
        };
        Self {
            recorded_at,
            kind: "event".to_owned(),
            summary: match event.via {
                // The webhook never brought it: say how it came.
                Some(via) => format!("{what} ({outcome}, via {via})"),
                None => format!("{what} ({outcome})"),
            },
            detail: json!({"event": event.to_json(), "outcome": outcome}),
        }
    }

    /// An action the engine took, and why (`event <id>`, `run <date>`).
    pub fn action(recorded_at: DateTime<Utc>, action: &Action, cause: &str) -> Self {
        let to: Vec<String> = action
            .recipients
            .iter()
            .map(|c| format!("{} <{}>", c.name, c.email))
            .collect();
        let summary = format!(
            "{} dpd {} to {}",
            action.kind.as_str(),
            action.dpd,
            if to.is_empty() {
                "staff".to_owned()
            } else {
                to.join(", ")
            }
        );
        let mut detail = action.to_json();
        detail["recipients"] = json!(
            action
                .recipients
                .iter()
                .map(|c| json!({"name": c.name, "email": c.email.as_str()}))
                .collect::<Vec<_>>()
        );
        detail["cause"] = json!(cause);
        Self {
            recorded_at,
            kind: "action".to_owned(),
            summary,
            detail,
        }
    }
}
