//! Helpers the engine's test targets share.

#![allow(dead_code)] // each target uses part of it

use chrono::NaiveDate;
use pastdue_shared::domain::{AccountState, Action, Event, Policy};
use serde_json::Value;

pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn event(v: Value) -> Event {
    Event::from_json(&v).unwrap()
}

/// The daily runs from `from` to `to`, both included; what they fired.
pub fn run(state: &mut AccountState, policy: &Policy, from: &str, to: &str) -> Vec<Action> {
    day(from)
        .iter_days()
        .take_while(|d| *d <= day(to))
        .flat_map(|d| state.run(d, policy))
        .collect()
}
