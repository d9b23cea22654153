//! `pastdue simulate`: the engine over a scenario file (spec §6).

use std::fmt::Write as _;
use std::path::Path;

use pastdue_shared::domain::simulate::{Scenario, Simulation, simulate};
use pastdue_shared::domain::{Action, Policy};

use crate::Failure;

/// Reads the policy file, or the default policy.
pub fn load_policy(path: Option<&Path>) -> Result<Policy, Failure> {
    let Some(path) = path else {
        return Ok(Policy::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", path.display())))?;
    Policy::from_toml(&text).map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))
}

/// Runs the scenario; the output is JSON (spec §6) or a table.
pub fn run(scenario: &Path, json: bool, policy: Option<&Path>) -> Result<String, Failure> {
    let policy = load_policy(policy)?;
    let text = std::fs::read_to_string(scenario)
        .map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", scenario.display())))?;
    let scenario = Scenario::from_json_str(&text)
        .map_err(|e| Failure::bad_input(format!("{}: {e}", scenario.display())))?;
    let sim = simulate(&scenario, &policy);
    for rejected in &sim.rejected {
        let id = &scenario.events[rejected.index].id;
        eprintln!(
            "pastdue: warning: events[{}] (id {:?}) not applied: {}",
            rejected.index,
            id.as_str(),
            rejected.error
        );
    }
    if json {
        let actions: Vec<serde_json::Value> = sim.actions.iter().map(Action::to_json).collect();
        return serde_json::to_string_pretty(&actions)
            .map_err(|e| Failure::internal(e.to_string()));
    }
    Ok(table(&scenario, &sim))
}

/// The table a billing operator reads: who is written to, by name.
fn table(scenario: &Scenario, sim: &Simulation) -> String {
    let name_of = |id: &pastdue_shared::domain::AccountId| {
        scenario
            .accounts
            .iter()
            .find(|a| &a.id == id)
            .map_or_else(|| id.to_string(), |a| a.name.clone())
    };
    let mut rows = vec![[
        "DATE".to_owned(),
        "CUSTOMER".to_owned(),
        "ACTION".to_owned(),
        "DPD".to_owned(),
        "EMAILED".to_owned(),
    ]];
    for a in &sim.actions {
        let mut action = a.kind.as_str().to_owned();
        if let Some(on) = a.suspend_on {
            let _ = write!(action, " (suspend on {on})");
        }
        let to = if a.recipients.is_empty() {
            "staff only".to_owned()
        } else {
            a.recipients
                .iter()
                .map(|c| format!("{} <{}>", c.name, c.email))
                .collect::<Vec<_>>()
                .join(", ")
        };
        rows.push([
            a.date.to_string(),
            name_of(&a.account),
            action,
            a.dpd.to_string(),
            to,
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let _ = writeln!(
            out,
            "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
    }
    let _ = write!(
        out,
        "{} action(s) for {} account(s), {} to {}",
        sim.actions.len(),
        scenario.accounts.len(),
        scenario.from,
        scenario.to
    );
    out
}
