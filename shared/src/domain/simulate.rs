//! `pastdue simulate` (spec §6): runs the engine over a scenario, every
//! account on every local date from `from` to `to` at `run_hour` local.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::Value;

use super::engine::{AccountState, Action, ApplyError, ApplyOutcome, run_instant};
use super::event::{Event, EventError};
use super::fields::{FieldError, Fields};
use super::policy::Policy;
use super::{Account, AccountId};

/// A scenario: a date range, accounts and their events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub accounts: Vec<Account>,
    pub events: Vec<Event>,
}

/// Why a scenario cannot be simulated. Its message is one line naming the
/// account or event (index and id) and the field.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ScenarioError {
    #[error("the scenario is not valid JSON: {0}")]
    Json(String),
    #[error("scenario: {0}")]
    Field(FieldError),
    #[error("accounts[{index}]{}: {error}", id_part(.id))]
    Account {
        index: usize,
        id: Option<String>,
        error: FieldError,
    },
    #[error("events[{index}]{}: {error}", id_part(.id))]
    Event {
        index: usize,
        id: Option<String>,
        error: FieldError,
    },
}

fn id_part(id: &Option<String>) -> String {
    id.as_ref()
        .map(|id| format!(" (id {id:?})"))
        .unwrap_or_default()
}

impl Scenario {
    pub fn from_json_str(text: &str) -> Result<Self, ScenarioError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ScenarioError::Json(e.to_string()))?;
        let f = Fields::of(&value, "scenario").map_err(ScenarioError::Field)?;
        let from = f.date("from").map_err(ScenarioError::Field)?;
        let to = f.date("to").map_err(ScenarioError::Field)?;
        if to < from {
            return Err(ScenarioError::Field(FieldError::new(
                "to",
                format!("{to} is before from ({from})"),
            )));
        }
        let id_of = |v: &Value| v.get("id").and_then(Value::as_str).map(str::to_owned);
        let mut accounts: Vec<Account> = Vec::new();
        for (index, v) in f
            .array("accounts")
            .map_err(ScenarioError::Field)?
            .iter()
            .enumerate()
        {
            let account = Account::from_json(v).map_err(|error| ScenarioError::Account {
                index,
                id: id_of(v),
                error,
            })?;
            if accounts.iter().any(|a| a.id == account.id) {
                return Err(ScenarioError::Account {
                    index,
                    id: id_of(v),
                    error: FieldError::new("id", "the same account id appears twice"),
                });
            }
            accounts.push(account);
        }
        let mut events = Vec::new();
        for (index, v) in f
            .array("events")
            .map_err(ScenarioError::Field)?
            .iter()
            .enumerate()
        {
            let event = Event::from_json(v)
                .map_err(|EventError { id, error }| ScenarioError::Event { index, id, error })?;
            if !accounts.iter().any(|a| a.id == event.account) {
                return Err(ScenarioError::Event {
                    index,
                    id: Some(event.id.to_string()),
                    error: FieldError::new(
                        "account",
                        format!("unknown account {:?}", event.account.as_str()),
                    ),
                });
            }
            events.push(event);
        }
        Ok(Self {
            from,
            to,
            accounts,
            events,
        })
    }
}

/// An event the engine refused (e.g. a payment in another currency than its
/// invoice); the simulation goes on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub index: usize,
    pub error: ApplyError,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simulation {
    /// Sorted by date, then account, then the order in which they happened.
    pub actions: Vec<Action>,
    pub rejected: Vec<Rejected>,
    /// Each account's state after the last date.
    pub states: Vec<AccountState>,
}

/// Runs the scenario. Events are applied in order of `at` (ties: file
/// order); one at or after an account's run instant on its local date D is
/// applied after D's run. Actions dated outside `from..=to` are not reported.
pub fn simulate(scenario: &Scenario, policy: &Policy) -> Simulation {
    let mut by_account: BTreeMap<&AccountId, Vec<(usize, &Event)>> = BTreeMap::new();
    for (index, event) in scenario.events.iter().enumerate() {
        by_account
            .entry(&event.account)
            .or_default()
            .push((index, event));
    }
    let mut actions = Vec::new();
    let mut rejected = Vec::new();
    let mut states = Vec::with_capacity(scenario.accounts.len());
    for account in &scenario.accounts {
        let mut events = by_account.remove(&account.id).unwrap_or_default();
        events.sort_by_key(|(index, e)| (e.at, *index));
        let tz = account.timezone;
        let mut state = AccountState::new(account.clone());
        let mut pending = events.into_iter().peekable();
        let mut apply_until = |state: &mut AccountState,
                               limit: Option<chrono::DateTime<chrono::Utc>>,
                               actions: &mut Vec<Action>| {
            while let Some((index, event)) =
                pending.next_if(|(_, e)| limit.is_none_or(|l| e.at < l))
            {
                match state.apply(event, policy) {
                    Ok(ApplyOutcome::Applied(mut done)) => actions.append(&mut done),
                    Ok(ApplyOutcome::NoEffect | ApplyOutcome::Duplicate) => {}
                    Err(error) => rejected.push(Rejected { index, error }),
                }
            }
        };
        let mut date = scenario.from;
        while date <= scenario.to {
            apply_until(
                &mut state,
                Some(run_instant(date, policy.run_hour, tz)),
                &mut actions,
            );
            actions.extend(state.run(date, policy));
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
        apply_until(&mut state, None, &mut actions);
        states.push(state);
    }
    actions.retain(|a| (scenario.from..=scenario.to).contains(&a.date));
    // Stable: within a date and account, the order they happened in.
    actions.sort_by(|a, b| (a.date, &a.account).cmp(&(b.date, &b.account)));
    rejected.sort_by_key(|r| r.index);
    Simulation {
        actions,
        rejected,
        states,
    }
}

#[cfg(test)]
mod tests {
    use super::{Scenario, simulate};
    use crate::domain::Policy;

    /// A contact reported unreachable is skipped from then on: the billing
    /// reminder widens to the primary contact (spec §5.3), once.
    #[test]
    fn an_undeliverable_contact_is_skipped_and_mail_widens() {
        let scenario = Scenario::from_json_str(
            r#"{"from": "2026-01-14", "to": "2026-01-23",
                "accounts": [{"id": "acct_1", "name": "Whitfield Hosting", "contacts": [
                  {"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]},
                  {"name": "Kevin Ortiz", "email": "kevin@whitfield.example", "roles": ["primary"]}]}],
                "events": [
                  {"id": "e1", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued",
                   "invoice": "in_1", "amount": "120.00", "currency": "USD", "due": "2026-01-15"},
                  {"id": "e2", "at": "2026-01-15T10:00:00Z", "account": "acct_1", "type": "contact_undeliverable",
                   "email": "DANA@whitfield.example", "reason": "bounced (NoEmail)"},
                  {"id": "e3", "at": "2026-01-15T11:00:00Z", "account": "acct_1", "type": "contact_undeliverable",
                   "email": "dana@whitfield.example", "reason": "bounced again"}]}"#,
        )
        .unwrap();
        let out = simulate(&scenario, &Policy::default());
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        let sent: Vec<(String, Vec<String>)> = out
            .actions
            .iter()
            .map(|a| {
                (
                    a.kind.as_str().to_owned(),
                    a.recipients.iter().map(|c| c.name.clone()).collect(),
                )
            })
            .collect();
        assert_eq!(
            sent,
            [
                ("reminder_1".to_owned(), vec!["Kevin Ortiz".to_owned()]),
                ("reminder_2".to_owned(), vec!["Kevin Ortiz".to_owned()]),
            ]
        );
        let dana = &out.states[0].account.contacts[0];
        assert_eq!(dana.undeliverable.as_deref(), Some("bounced (NoEmail)"));
    }
}
