//! `pastdue tasks` and `pastdue task done`: the calls the ladder asks staff
//! to make, and what each call found.
//!
//! The open tasks are found through the due index (accounts with an
//! invoice due before today), never a table scan: a task only lives while
//! its episode does, and an episode needs an overdue invoice.

use chrono::{Duration, Utc};
use pastdue_shared::adapters::dynamodb::{DynamoDueIndex, DynamoStore};
use pastdue_shared::domain::engine::local_date;
use pastdue_shared::domain::fields::parse_date;
use pastdue_shared::domain::{
    AccountId, AccountState, EmailAddress, EventKind, StepName, TaskOutcome,
};
use pastdue_shared::notify::render::total_of;
use pastdue_shared::ports::{ApplyOutcome, DueCandidates, PublishError};
use serde_json::{Value, json};

use crate::Failure;
use crate::ops::{self, Bus, Service};

/// One open task, as `pastdue tasks` shows it.
fn task_json(
    state: &AccountState,
    task: &pastdue_shared::domain::Task,
    mails: &[Mail],
    policy: &pastdue_shared::domain::Policy,
) -> Value {
    let today = local_date(Utc::now(), state.account.timezone);
    let overdue = state.overdue(today, policy);
    let owed = total_of(overdue.iter().map(|i| (i.owed, i.currency())));
    let call: Vec<Value> = state
        .task_contacts(task)
        .iter()
        .map(|c| {
            let last = mails
                .iter()
                .filter(|m| m.to.eq_ignore_ascii_case(c.email.as_str()))
                .max_by_key(|m| m.at);
            json!({
                "name": c.name,
                "email": c.email.as_str(),
                "phone": c.phone.as_ref().map(|p| p.as_str()),
                "phone_wrong": c.phone_wrong,
                "last_email": last.map(|m| json!({"subject": m.subject, "at": m.at})),
            })
        })
        .collect();
    json!({
        "account": state.account.id.as_str(),
        "account_name": state.account.name,
        "task": task.id(),
        "opened": task.opened.to_string(),
        "call": call,
        "owed": owed,
        "dpd": state.dpd(today, policy),
        "attempts": task.attempts.iter().map(|a| json!({
            "outcome": a.outcome.as_str(), "note": a.note, "on": a.on.to_string(),
        })).collect::<Vec<_>>(),
    })
}

/// A sent email, as far as the task list needs it.
struct Mail {
    to: String,
    subject: String,
    at: Option<chrono::DateTime<Utc>>,
}

/// `pastdue tasks`: every open task, most days overdue first.
pub async fn list(accounts: &Service, due: &DynamoDueIndex, json: bool) -> Result<String, Failure> {
    let store: &DynamoStore = accounts.store();
    let tomorrow = Utc::now().date_naive() + Duration::days(1);
    let ids = due
        .accounts_due_before(tomorrow)
        .await
        .map_err(|e| Failure::internal(e.to_string()))?;
    let mut rows = Vec::new();
    for id in ids {
        let Some(loaded) = store
            .load(&id)
            .await
            .map_err(|e| Failure::internal(e.to_string()))?
        else {
            continue;
        };
        let state = loaded.state;
        let open = state.open_tasks();
        if open.is_empty() {
            continue;
        }
        let mails: Vec<Mail> = store
            .mails(&id)
            .await
            .map_err(|e| Failure::internal(e.to_string()))?
            .into_iter()
            .filter(|m| m.state == "sent")
            .map(|m| Mail {
                to: m.recipient,
                subject: m.detail["subject"].as_str().unwrap_or_default().to_owned(),
                at: m.at,
            })
            .collect();
        rows.extend(
            open.iter()
                .map(|t| task_json(&state, t, &mails, accounts.policy())),
        );
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r["dpd"].as_i64().unwrap_or(0)));
    if json {
        return Ok(Value::from(rows).to_string());
    }
    if rows.is_empty() {
        return Ok("no calls to make".into());
    }
    Ok(rows.iter().map(text).collect::<Vec<_>>().join("\n"))
}

/// One task in the terminal: the account, then each person to call.
fn text(row: &Value) -> String {
    let mut out = format!(
        "{} ({}) {}: {} owed, {} days overdue (pastdue task done {} {} --outcome …)",
        row["account_name"].as_str().unwrap_or_default(),
        row["account"].as_str().unwrap_or_default(),
        row["task"].as_str().unwrap_or_default(),
        row["owed"].as_str().unwrap_or_default(),
        row["dpd"],
        row["account"].as_str().unwrap_or_default(),
        row["task"].as_str().unwrap_or_default(),
    );
    for c in row["call"].as_array().into_iter().flatten() {
        let phone = match (c["phone"].as_str(), c["phone_wrong"].is_string()) {
            (Some(p), false) => p.to_owned(),
            (Some(p), true) => format!("{p} (wrong number)"),
            (None, _) => "no number".to_owned(),
        };
        let last = c["last_email"]["subject"]
            .as_str()
            .map(|s| format!("; last email: {s:?}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "\n  call {} <{}> at {phone}{last}",
            c["name"].as_str().unwrap_or_default(),
            c["email"].as_str().unwrap_or_default()
        ));
    }
    out
}

/// What `pastdue task done` was told.
pub struct Done<'a> {
    pub id: &'a str,
    pub task: &'a str,
    pub outcome: &'a str,
    pub note: &'a str,
    pub until: Option<&'a str>,
    pub contact: Option<&'a str>,
}

/// `pastdue task done`: records the call through the event path (the
/// timeline keeps it); `promised` with `--until` also places a hold.
pub async fn done(accounts: &Service, bus: &Bus, d: &Done<'_>) -> Result<String, Failure> {
    let bad = |e: String| Failure::bad_input(e);
    let account = AccountId::parse(d.id).map_err(|e| bad(e.to_string()))?;
    let task = StepName::parse(d.task)
        .ok_or_else(|| bad(format!("{:?} is not a task (a ladder step's name)", d.task)))?;
    let outcome = TaskOutcome::parse(d.outcome).map_err(bad)?;
    let contact = d
        .contact
        .map(EmailAddress::parse)
        .transpose()
        .map_err(|e| bad(e.to_string()))?;
    let until = d.until.map(parse_date).transpose().map_err(bad)?;
    if until.is_some() && outcome != TaskOutcome::Promised {
        return Err(bad("--until goes with --outcome promised".into()));
    }
    let kind = EventKind::TaskOutcome {
        task,
        outcome,
        note: d.note.to_owned(),
        contact,
    };
    let event = ops::operator_event(account.clone(), kind)?;
    match ops::submit(bus, &event).await {
        Ok(Some(ApplyOutcome::Applied(_)) | None) => {}
        Ok(Some(other)) => return Ok(format!("task_outcome: {}", other.as_str())),
        Err(PublishError::Refused(why)) => return Err(bad(why)),
        Err(e) => return Err(Failure::internal(e.to_string())),
    }
    let mut said = format!("{task} on {account}: {}", outcome.as_str());
    if let Some(until) = until {
        let reason = format!("promised on a call: {}", d.note);
        let held = ops::hold(accounts, bus, d.id, Some(&until.to_string()), &reason).await?;
        said.push_str(&format!("; {held}"));
    }
    Ok(said)
}
