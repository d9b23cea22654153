//! An account restored from a backup keeps what it has done since: every
//! action announced after the backup was taken really happened (an email
//! went out, a control panel suspended a service), so the restored state
//! takes its status and fired steps from them. Without this, the next run
//! would fire a `suspend` already carried out, under a new id, and the
//! customer would be told twice.

use chrono::NaiveDate;

use super::engine::{AccountState, Episode};
use super::message::ActionMessage;
use super::policy::{Policy, StepName};

/// Carries the actions in `later` (announced after the backup), oldest
/// sequence first, into `state` (as backed up): the status of the latest,
/// each ladder step as fired in its episode (with the task `policy` has it
/// open), and each run's date as run.
pub fn carry_forward(state: &mut AccountState, later: &[ActionMessage], policy: &Policy) {
    let mut later: Vec<&ActionMessage> = later.iter().collect();
    later.sort_by_key(|m| m.sequence);
    for message in later {
        if let Some(status) = message.status {
            state.status = status;
        }
        if let Some(date) = message
            .cause
            .strip_prefix("run ")
            .and_then(|d| d.parse::<NaiveDate>().ok())
        {
            state.last_run = state.last_run.max(Some(date));
        }
        let (Some(step), Some(started)) = (StepName::parse(&message.action), message.episode)
        else {
            continue;
        };
        let episode = match &mut state.episode {
            Some(e) if e.started == started => e,
            // A later episode than the backup knew: the one the steps name.
            _ => state.episode.insert(Episode::new(started)),
        };
        episode.fired.insert(step, message.date);
        if let Some(step) = policy.step(step) {
            episode.open_task(step, message.date);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::{Account, Policy, Status};

    #[test]
    fn steps_and_status_announced_after_the_backup_are_kept() {
        let account = Account::from_json(&json!({"id": "acct_1", "name": "Whitfield Hosting",
            "contacts": [{"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]}]}))
        .unwrap();
        let mut state = AccountState::new(account);
        let issued =
            crate::domain::Event::from_json(&json!({"id": "e1", "at": "2026-01-01T10:00:00Z",
            "account": "acct_1", "type": "invoice_issued", "invoice": "in_1", "amount": "100.00",
            "currency": "USD", "due": "2026-01-15"}))
            .unwrap();
        let policy = Policy::default();
        state.apply(&issued, &policy).unwrap();
        // Backed up on 2026-01-20 (after reminder_1); then the account ran on.
        let mut ran = state.clone();
        let mut later = Vec::new();
        let mut sequence = 10;
        let mut date = "2026-01-16".parse::<NaiveDate>().unwrap();
        while date <= "2026-02-09".parse().unwrap() {
            for a in ran.run(date, &policy) {
                sequence += 1;
                later.push(ActionMessage::new(
                    &a,
                    &ran,
                    crate::domain::Cause::Run(date),
                    sequence,
                ));
            }
            if date == "2026-01-20".parse().unwrap() {
                state = ran.clone();
                later.clear();
            }
            date = date.succ_opt().unwrap();
        }
        assert_eq!(ran.status, Status::Suspended);
        carry_forward(&mut state, &later, &policy);
        assert_eq!(state.status, Status::Suspended);
        assert_eq!(state.episode, ran.episode);
        // So the next run does not suspend again.
        assert!(state.run("2026-02-10".parse().unwrap(), &policy).is_empty());
    }
}
