//! Operator commands over the store: the same table and code paths the
//! functions use.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use chrono::Utc;
use pastdue_shared::adapters::bus::AnyBus;
use pastdue_shared::adapters::dynamodb::DynamoStore;
use pastdue_shared::adapters::dynamodb::item_json;
use pastdue_shared::domain::engine::local_date;
use pastdue_shared::domain::fields::{parse_date, parse_timezone};
use pastdue_shared::domain::view::account_view;
use pastdue_shared::domain::{
    AccountId, AccountImport, Contact, EmailAddress, Event, EventId, EventKind, Phone, Role,
    Status, TimelineEntry,
};
use pastdue_shared::ports::{ApplyOutcome, Publish, PublishError};
use pastdue_shared::runtime::StoreApplier;
use pastdue_shared::services::{Accounts, UpdateFailure, Upsert};
use serde_json::{Value, json};

use crate::Failure;

/// The bus `EVENT_BUS` names; unset or `inline` applies here.
pub type Bus = AnyBus<StoreApplier>;

/// The account use cases over the table.
pub type Service = Accounts<DynamoStore>;

/// The bus `source` of events an operator submits.
const OPERATOR_SOURCE: &str = "pastdue.operator";

/// Puts one event on the bus, as a processor's would be: it is applied by
/// the function its rule routes it to (or here, inline), and the actions it
/// causes are published. `None`: the bus delivers asynchronously.
pub(crate) async fn submit(bus: &Bus, event: &Event) -> Result<Option<ApplyOutcome>, PublishError> {
    let mut outcomes = bus
        .publish(OPERATOR_SOURCE, std::slice::from_ref(event))
        .await?;
    Ok(outcomes.pop().flatten())
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", path.display())))
}

fn account_id(raw: &str) -> Result<AccountId, Failure> {
    AccountId::parse(raw).map_err(|e| Failure::bad_input(e.to_string()))
}

fn store_failure(e: impl std::fmt::Display) -> Failure {
    Failure::internal(e.to_string())
}

fn update_failure(e: UpdateFailure) -> Failure {
    match e {
        UpdateFailure::Invalid(m) => Failure::bad_input(m),
        other => Failure::internal(other.to_string()),
    }
}

fn pretty(v: &Value) -> Result<String, Failure> {
    serde_json::to_string_pretty(v).map_err(|e| Failure::internal(e.to_string()))
}

/// `accounts import FILE`: validates every account, then upserts them.
pub async fn import_accounts(
    service: &Service,
    file: &Path,
    json_out: bool,
) -> Result<String, Failure> {
    let text = read(file)?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::bad_input(format!("{}: not valid JSON: {e}", file.display())))?;
    let items = value.as_array().ok_or_else(|| {
        Failure::bad_input(format!(
            "{}: expected a JSON array of accounts",
            file.display()
        ))
    })?;
    let mut accounts = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .map(|s| format!(" (id {s:?})"))
            .unwrap_or_default();
        accounts.push(
            AccountImport::from_json(v)
                .map_err(|e| Failure::bad_input(format!("accounts[{i}]{id}: {e}")))?,
        );
    }
    let (mut created, mut updated, mut unchanged) = (0, 0, 0);
    for account in &accounts {
        match service
            .import_account(account)
            .await
            .map_err(store_failure)?
        {
            Upsert::Created => created += 1,
            Upsert::Updated => updated += 1,
            Upsert::Unchanged => unchanged += 1,
        }
    }
    if json_out {
        return pretty(&json!({"created": created, "updated": updated, "unchanged": unchanged}));
    }
    Ok(format!(
        "created {created}, updated {updated}, unchanged {unchanged}"
    ))
}

/// Reads canonical events from a JSON array or JSON lines; any invalid one
/// fails the whole file.
pub fn parse_events(text: &str) -> Result<Vec<Event>, String> {
    let read = |v: &Value, place: String| {
        Event::from_json(v).map_err(|e| {
            let id =
                e.id.as_ref()
                    .map(|id| format!(" (id {id:?})"))
                    .unwrap_or_default();
            format!("{place}{id}: {}", e.error)
        })
    };
    if text.trim_start().starts_with('[') {
        let values: Vec<Value> =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        values
            .iter()
            .enumerate()
            .map(|(i, v)| read(v, format!("events[{i}]")))
            .collect()
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| {
                let v: Value = serde_json::from_str(line)
                    .map_err(|e| format!("line {}: not valid JSON: {e}", n + 1))?;
                read(&v, format!("line {}", n + 1))
            })
            .collect()
    }
}

/// `events apply FILE`: every event through the handlers' path, in order.
pub async fn apply_events(bus: &Bus, file: &Path, json_out: bool) -> Result<String, Failure> {
    let text = read(file)?;
    let events =
        parse_events(&text).map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?;
    let (mut applied, mut duplicate, mut rejected) = (0, 0, 0);
    let mut results = Vec::with_capacity(events.len());
    for event in &events {
        let result = submit(bus, event).await;
        let (outcome, error) = match &result {
            Ok(Some(ApplyOutcome::Duplicate)) => {
                duplicate += 1;
                ("duplicate", None)
            }
            Ok(Some(o)) => {
                applied += 1;
                (o.as_str(), None)
            }
            Ok(None) => {
                applied += 1;
                ("accepted", None)
            }
            Err(e) => {
                rejected += 1;
                eprintln!("pastdue: event {}: {e}", event.id);
                ("rejected", Some(e.to_string()))
            }
        };
        results.push(json!({"id": event.id, "outcome": outcome, "error": error}));
    }
    let out = if json_out {
        pretty(
            &json!({"applied": applied, "duplicate": duplicate, "rejected": rejected, "events": results}),
        )?
    } else {
        format!("applied {applied}, duplicate {duplicate}, rejected {rejected}")
    };
    if rejected > 0 {
        println!("{out}");
        return Err(Failure::internal(format!("{rejected} event(s) rejected")));
    }
    Ok(out)
}

async fn loaded(
    accounts: &Service,
    id: &AccountId,
) -> Result<pastdue_shared::ports::Loaded, Failure> {
    accounts
        .store()
        .load(id)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| Failure::internal(format!("no account {id}: see `pastdue account list`")))
}

/// `account show ID`: everything an operator needs about one account.
pub async fn show(
    accounts: &Service,
    id: &str,
    date: Option<&str>,
    json_out: bool,
) -> Result<String, Failure> {
    let id = account_id(id)?;
    let l = loaded(accounts, &id).await?;
    let today = match date {
        Some(d) => parse_date(d).map_err(Failure::bad_input)?,
        None => local_date(Utc::now(), l.state.account.timezone),
    };
    let v = account_view(&l.state, today, accounts.policy());
    if json_out {
        return pretty(&v);
    }
    let mut out = String::new();
    let s = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string())
    };
    let _ = writeln!(
        out,
        "{} ({})  {}  {}{}",
        s(&v["name"]),
        s(&v["id"]),
        s(&v["status"]),
        s(&v["timezone"]),
        if v["exempt"] == true { "  exempt" } else { "" }
    );
    let _ = writeln!(out, "days past due on {today}: {}", v["dpd"]);
    match v["hold_until"].as_str() {
        Some(until) => {
            let _ = writeln!(out, "hold until {until}: {}", s(&v["hold_reason"]));
        }
        None => {
            let _ = writeln!(out, "no hold");
        }
    }
    let _ = writeln!(out, "contacts:");
    for c in v["contacts"].as_array().into_iter().flatten() {
        let roles: Vec<String> = c["roles"].as_array().into_iter().flatten().map(s).collect();
        let phone = match (c["phone"].as_str(), c["phone_wrong"].is_string()) {
            (Some(p), false) => format!("  {p}"),
            (Some(p), true) => format!("  {p} (wrong number)"),
            (None, _) => String::new(),
        };
        let _ = writeln!(
            out,
            "  {} <{}>  {}{phone}",
            s(&c["name"]),
            s(&c["email"]),
            roles.join(", ")
        );
    }
    let _ = writeln!(out, "invoices:");
    for i in v["invoices"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {:<16} {:>12} {}  paid {:>12}  owed {:>12}  due {}  {}{}",
            s(&i["id"]),
            s(&i["amount"]),
            s(&i["currency"]),
            s(&i["paid"]),
            s(&i["owed"]),
            s(&i["effective_due"]),
            s(&i["status"]),
            if i["in_dispute"] == true {
                "  in dispute"
            } else {
                ""
            }
        );
    }
    match v["episode"].as_object() {
        Some(e) => {
            let fired: Vec<String> = e["fired"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, d)| format!("{k} {}", s(d)))
                .collect();
            let _ = write!(
                out,
                "episode since {}: {}",
                s(&e["started"]),
                if fired.is_empty() {
                    "nothing fired yet".to_owned()
                } else {
                    fired.join(", ")
                }
            );
        }
        None => {
            let _ = write!(out, "no delinquency episode");
        }
    }
    Ok(out)
}

pub async fn list(
    accounts: &Service,
    status: Option<&str>,
    json_out: bool,
) -> Result<String, Failure> {
    let status = match status {
        None => None,
        Some("active") => Some(Status::Active),
        Some("suspended") => Some(Status::Suspended),
        Some("cancelled") => Some(Status::Cancelled),
        Some(other) => {
            return Err(Failure::bad_input(format!(
                "{other:?} is not a status (active, suspended, cancelled)"
            )));
        }
    };
    let accounts = accounts.store().list(status).await.map_err(store_failure)?;
    if json_out {
        return pretty(&json!(accounts));
    }
    let mut out = String::new();
    for a in &accounts {
        let _ = writeln!(out, "{:<24} {:<10} {}", a.id, a.status.as_str(), a.name);
    }
    let _ = write!(out, "{} account(s)", accounts.len());
    Ok(out)
}

pub async fn timeline(accounts: &Service, id: &str, json_out: bool) -> Result<String, Failure> {
    let id = account_id(id)?;
    loaded(accounts, &id).await?;
    let mut entries = accounts
        .store()
        .timeline(&id)
        .await
        .map_err(store_failure)?;
    // Each email the notifier sent (or could not), with its SES MessageId.
    for m in accounts.store().mails(&id).await.map_err(store_failure)? {
        let who = m.detail["name"].as_str().unwrap_or("");
        let action = m.detail["action"].as_str().unwrap_or(&m.message);
        let summary = match (m.state.as_str(), &m.message_id, &m.reason) {
            ("sent", Some(ses), _) => {
                format!("{action} sent to {who} <{}>, SES {ses}", m.recipient)
            }
            ("refused", _, Some(why)) => format!("{action} to <{}> refused: {why}", m.recipient),
            (state, _, _) => format!("{action} to <{}>: {state}", m.recipient),
        };
        entries.push(TimelineEntry {
            recorded_at: m.at.unwrap_or_default(),
            kind: "email".into(),
            summary,
            detail: json!(m),
        });
    }
    entries.sort_by_key(|e| e.recorded_at);
    if json_out {
        return pretty(&json!(entries));
    }
    let mut out = String::new();
    for e in &entries {
        let _ = writeln!(
            out,
            "{}  {:<7} {}",
            e.recorded_at.format("%Y-%m-%d %H:%M:%S"),
            e.kind,
            e.summary
        );
    }
    let _ = write!(
        out,
        "{} entr{}",
        entries.len(),
        if entries.len() == 1 { "y" } else { "ies" }
    );
    Ok(out)
}

pub async fn set_timezone(accounts: &Service, id: &str, tz: &str) -> Result<String, Failure> {
    let tz = parse_timezone(tz).map_err(Failure::bad_input)?;
    let id = account_id(id)?;
    accounts
        .update_account(&id, |a| {
            let note = format!(
                "time zone changed from {} to {}",
                a.timezone.name(),
                tz.name()
            );
            a.timezone = tz;
            Ok(note)
        })
        .await
        .map_err(update_failure)
}

pub async fn exempt(accounts: &Service, id: &str, on: bool) -> Result<String, Failure> {
    let id = account_id(id)?;
    accounts
        .update_account(&id, |a| {
            a.exempt = on;
            Ok(if on {
                "exempt: never suspended or cancelled".to_owned()
            } else {
                "no longer exempt".to_owned()
            })
        })
        .await
        .map_err(update_failure)
}

pub async fn contact_add(
    accounts: &Service,
    id: &str,
    name: &str,
    email: &str,
    roles: &[String],
    phone: Option<&str>,
) -> Result<String, Failure> {
    let id = account_id(id)?;
    let email = EmailAddress::parse(email).map_err(|e| Failure::bad_input(e.to_string()))?;
    let phone = phone
        .map(Phone::parse)
        .transpose()
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let roles: BTreeSet<Role> = roles
        .iter()
        .map(|r| Role::parse(r))
        .collect::<Result<_, _>>()
        .map_err(Failure::bad_input)?;
    let mut contact = Contact::new(name, email, roles).map_err(Failure::bad_input)?;
    contact.phone = phone;
    accounts
        .update_account(&id, |a| {
            if a.contacts.iter().any(|c| c.email == contact.email) {
                return Err(format!(
                    "{} is already a contact of {}",
                    contact.email, a.id
                ));
            }
            a.contacts.push(contact.clone());
            let phone = contact
                .phone
                .as_ref()
                .map(|p| format!(", {p}"))
                .unwrap_or_default();
            Ok(format!(
                "contact added: {} <{}>{phone}",
                contact.name, contact.email
            ))
        })
        .await
        .map_err(update_failure)
}

pub async fn contact_remove(accounts: &Service, id: &str, email: &str) -> Result<String, Failure> {
    let id = account_id(id)?;
    let email = EmailAddress::parse(email).map_err(|e| Failure::bad_input(e.to_string()))?;
    accounts
        .update_account(&id, |a| {
            let before = a.contacts.len();
            a.contacts.retain(|c| c.email != email);
            if a.contacts.len() == before {
                return Err(format!("{email} is not a contact of {}", a.id));
            }
            Ok(format!("contact removed: {email}"))
        })
        .await
        .map_err(update_failure)
}

/// An event an operator command makes now, under an id of its own
/// (`op_<type>_<nanoseconds>`).
pub(crate) fn operator_event(account: AccountId, kind: EventKind) -> Result<Event, Failure> {
    let now = Utc::now();
    let id = EventId::parse(&format!(
        "op_{}_{}",
        kind.type_name(),
        now.timestamp_nanos_opt().unwrap_or_default()
    ))
    .map_err(|e| Failure::internal(e.to_string()))?;
    Ok(Event {
        id,
        at: now,
        account,
        kind,
        via: None,
    })
}

/// Holds go through the event path, so they land in the timeline with the
/// operator's reason and follow the same ordering rules as any event.
pub async fn hold(
    accounts: &Service,
    bus: &Bus,
    id: &str,
    until: Option<&str>,
    reason: &str,
) -> Result<String, Failure> {
    let account = account_id(id)?;
    loaded(accounts, &account).await?;
    let kind = match until {
        Some(d) => EventKind::HoldPlaced {
            until: parse_date(d).map_err(Failure::bad_input)?,
            reason: reason.to_owned(),
            promised_by: None,
        },
        None => EventKind::HoldReleased,
    };
    let event = operator_event(account, kind)?;
    let outcome = submit(bus, &event).await.map_err(store_failure)?;
    Ok(match (&event.kind, outcome) {
        (EventKind::HoldPlaced { until, .. }, Some(ApplyOutcome::Applied(_)) | None) => {
            format!("hold placed on {} until {until}: {reason}", event.account)
        }
        (EventKind::HoldReleased, Some(ApplyOutcome::Applied(_)) | None) => {
            format!("hold on {} released", event.account)
        }
        (_, Some(other)) => format!("{}: {}", event.kind.type_name(), other.as_str()),
        (_, None) => format!("{}: accepted", event.kind.type_name()),
    })
}

pub async fn export(accounts: &Service, out: &Path) -> Result<String, Failure> {
    let items = accounts
        .store()
        .export_items()
        .await
        .map_err(store_failure)?;
    let mut text = String::new();
    for item in &items {
        text.push_str(&item_json::to_json(item).to_string());
        text.push('\n');
    }
    std::fs::write(out, text)
        .map_err(|e| Failure::internal(format!("cannot write {}: {e}", out.display())))?;
    Ok(format!(
        "exported {} item(s) to {}",
        items.len(),
        out.display()
    ))
}

pub async fn import(accounts: &Service, input: &Path, restore: bool) -> Result<String, Failure> {
    let text = read(input)?;
    let mut items = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| Failure::bad_input(format!("line {}: not valid JSON: {e}", n + 1)))?;
        let item = item_json::from_json(&v)
            .map_err(|e| Failure::bad_input(format!("line {}: {e}", n + 1)))?;
        if !item.contains_key("PK") || !item.contains_key("SK") {
            return Err(Failure::bad_input(format!(
                "line {}: an item needs PK and SK",
                n + 1
            )));
        }
        items.push(item);
    }
    if restore {
        let done = accounts
            .store()
            .restore_items(items, Utc::now())
            .await
            .map_err(store_failure)?;
        return Ok(format!(
            "restored {} account(s): {} item(s) written, {} later invoice(s) and claim(s) removed, {} pending action(s) marked announced (not republished)",
            done.accounts, done.written, done.removed, done.not_republished
        ));
    }
    let (written, skipped) = accounts
        .store()
        .import_items(items)
        .await
        .map_err(store_failure)?;
    Ok(format!(
        "imported {written} item(s); {skipped} already present and left alone"
    ))
}
