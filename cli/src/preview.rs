//! What pastdue would send, writing and sending nothing: `pastdue preview`
//! (what the next run would do) and `pastdue emails render` (every
//! template with sample data).

use std::fmt::Write as _;
use std::path::Path;

use chrono::Datelike;
use chrono::{Duration, NaiveDate, Utc, Weekday};
use pastdue_shared::adapters::dynamodb::DynamoDueIndex;
use pastdue_shared::domain::engine::local_date;
use pastdue_shared::domain::fields::parse_date;
use pastdue_shared::domain::message::{ActionMessage, InvoiceLine, Recipient};
use pastdue_shared::domain::{
    AccountId, CUT_OFF_UNVERIFIED, Currency, EmailAddress, InvoiceId, Policy,
};
use pastdue_shared::notify::render::{
    Audience, Failure as Broken, Links, Templates, UNDELIVERABLE,
};
use pastdue_shared::ports::DueCandidates;
use serde_json::{Value, json};

use crate::Failure;
use crate::ops::Service;

/// `pastdue preview [--date D]`: every candidate account, what its run
/// would fire (with the safety rule), or why nothing would.
pub async fn preview(
    accounts: &Service,
    due: &DynamoDueIndex,
    date: Option<&str>,
    json_out: bool,
) -> Result<String, Failure> {
    let date = date
        .map(parse_date)
        .transpose()
        .map_err(Failure::bad_input)?;
    let now = Utc::now();
    // Every invoice that can be overdue on the latest date asked about.
    let cutoff = date.unwrap_or_else(|| (now + Duration::hours(14)).date_naive());
    let ids = due
        .accounts_due_before(cutoff)
        .await
        .map_err(|e| Failure::internal(e.to_string()))?;
    let policy = accounts.policy();
    let mut rows = Vec::with_capacity(ids.len());
    for id in &ids {
        let Some(loaded) = accounts
            .store()
            .load(id)
            .await
            .map_err(|e| Failure::internal(e.to_string()))?
        else {
            continue;
        };
        let state = &loaded.state;
        let on = date.unwrap_or_else(|| local_date(now, state.account.timezone));
        let (_, actions) = accounts
            .decide(state, on)
            .await
            .map_err(|e| Failure::internal(e.to_string()))?;
        let why = if !actions.is_empty() {
            String::new()
        } else if state.last_run.is_some_and(|l| on <= l) {
            format!("already run for {on}")
        } else if policy.business_days_only && matches!(on.weekday(), Weekday::Sat | Weekday::Sun) {
            "weekend".into()
        } else if let Some((until, reason)) = state.hold_on(on) {
            format!("on hold until {until}: {reason}")
        } else if state.overdue(on, policy).is_empty() {
            "current".into()
        } else if state.account.exempt {
            "exempt, or waiting for the next step".into()
        } else {
            "waiting for the next step".into()
        };
        rows.push(json!({
            "account": id, "name": state.account.name, "date": on,
            "dpd": state.dpd(on, policy),
            "actions": actions.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
            "nothing_because": if why.is_empty() { Value::Null } else { json!(why) },
        }));
    }
    if json_out {
        return serde_json::to_string_pretty(&rows).map_err(|e| Failure::internal(e.to_string()));
    }
    let mut out = String::new();
    for r in &rows {
        let what = match r["actions"].as_array() {
            Some(a) if !a.is_empty() => a
                .iter()
                .map(|x| {
                    let to: Vec<&str> = x["to"]
                        .as_array()
                        .map(|t| t.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    format!(
                        "{} to {}",
                        x["action"].as_str().unwrap_or(""),
                        if to.is_empty() {
                            "staff".to_owned()
                        } else {
                            to.join(", ")
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => format!("nothing ({})", r["nothing_because"].as_str().unwrap_or("")),
        };
        let _ = writeln!(
            out,
            "{}  {:<20} dpd {:>3}  {}",
            r["date"].as_str().unwrap_or(""),
            r["account"].as_str().unwrap_or(""),
            r["dpd"],
            what
        );
    }
    let _ = write!(
        out,
        "{} candidate account(s); nothing was written or sent",
        rows.len()
    );
    Ok(out)
}

/// A sample notice for `action`: one overdue invoice, two invoices for the
/// later steps, the dpd each step fires at.
fn sample(action: &str, policy: &Policy) -> Result<ActionMessage, String> {
    let d = |s: &str| s.parse::<NaiveDate>().map_err(|e| e.to_string());
    let due = d("2026-01-15")?;
    if action == pastdue_shared::domain::message::STAFF_DIGEST {
        return sample_digest(d("2026-01-22")?);
    }
    let step_dpd = pastdue_shared::domain::StepName::parse(action)
        .and_then(|s| policy.step(s))
        .map_or(0, |s| i64::from(s.dpd));
    let date = due + Duration::days(step_dpd.max(1));
    let usd = Currency::parse("USD").map_err(|e| e.to_string())?;
    let line = |id: &str, owed: &str, due: NaiveDate| -> Result<InvoiceLine, String> {
        Ok(InvoiceLine {
            invoice: InvoiceId::parse(id).map_err(|e| e.to_string())?,
            owed: owed.to_owned(),
            currency: usd,
            due,
            days_overdue: (date - due).num_days().max(0),
            number: None,
            pay_url: None,
        })
    };
    let amounts = if action == UNDELIVERABLE {
        Vec::new()
    } else {
        vec![line("in_1001", "1250.00", due)?]
    };
    let account = AccountId::parse("acct_whitfield").map_err(|e| e.to_string())?;
    let staff_only = matches!(
        action,
        "dispute_alert" | "collections" | "undeliverable" | "promise_noted" | CUT_OFF_UNVERIFIED
    );
    Ok(ActionMessage {
        id: format!("{account}:sample:{action}"),
        action: action.to_owned(),
        kind: "sample".into(),
        account,
        account_name: "Whitfield Hosting".into(),
        timezone: "America/New_York".into(),
        date,
        dpd: step_dpd,
        sequence: 1,
        status: None,
        episode: Some(due + Duration::days(1)),
        invoices: amounts.iter().map(|l| l.invoice.clone()).collect(),
        amounts,
        recipients: if staff_only {
            Vec::new()
        } else {
            vec![Recipient {
                name: "Dana Whitfield".into(),
                email: EmailAddress::parse("dana@whitfield.example").map_err(|e| e.to_string())?,
            }]
        },
        suspend_on: (action == "final_notice").then(|| date + Duration::days(7)),
        // The sample reinstate is the common one: paid.
        settled: (action == "reinstate").then_some(pastdue_shared::domain::Settled::Paid),
        promised: action
            .starts_with("promise_")
            .then(|| date + Duration::days(5)),
        promise_passed: None,
        digest: None,
        reason: if action.starts_with("promise_") {
            "Dana Whitfield <dana@whitfield.example> promised to pay by 2026-02-06 via the customer page".into()
        } else if action == CUT_OFF_UNVERIFIED {
            "suspend has waited since the run of 2026-02-05 because the processor could not confirm what is owed: Stripe answered 500 (api_error)".into()
        } else {
            "a payment of 1,250.00 USD is disputed (dp_1001, reason: fraudulent)".into()
        },
        cause: "sample".into(),
    })
}

/// `pastdue emails render --out DIR`: each template with sample data, as
/// `<name>.html` and `<name>.txt` (the subject is the text's first line).
pub fn render(out: &Path, policy: &Policy) -> Result<String, Failure> {
    let emails = Templates::new(
        Links {
            pay_url: "https://billing.example.com/pay/{account}".into(),
            card_url: "https://billing.example.com/card/{account}".into(),
            portal: None,
        },
        policy,
    )
    .map_err(|e| Failure::internal(e.to_string()))?;
    std::fs::create_dir_all(out)
        .map_err(|e| Failure::internal(format!("cannot create {}: {e}", out.display())))?;
    let mut rendered = 0;
    for name in pastdue_shared::notify::render::templates() {
        let message = sample(name, policy).map_err(Failure::internal)?;
        let audience = match message.recipients.first() {
            Some(r) => Audience::Contact {
                name: &r.name,
                email: &r.email,
            },
            None => Audience::Staff,
        };
        let broken = if name == UNDELIVERABLE {
            Broken {
                name: "Dana Whitfield",
                email: "dana@whitfield.example",
                reason: "bounced (NoEmail)",
            }
        } else {
            Broken::default()
        };
        let r = emails
            .render(name, &message, audience, &broken)
            .map_err(|e| Failure::internal(e.to_string()))?;
        let write = |ext: &str, body: &str| {
            let path = out.join(format!("{name}.{ext}"));
            std::fs::write(&path, body)
                .map_err(|e| Failure::internal(format!("cannot write {}: {e}", path.display())))
        };
        write("html", &r.html)?;
        write("txt", &format!("Subject: {}\n\n{}", r.subject, r.text))?;
        rendered += 1;
    }
    Ok(format!(
        "rendered {rendered} emails into {} (.html and .txt)",
        out.display()
    ))
}

/// A morning digest with one line in each section.
fn sample_digest(date: NaiveDate) -> Result<ActionMessage, String> {
    use pastdue_shared::domain::digest::{Digest, Entry};
    let entry = |what: &str, command: Option<&str>| Entry {
        account: "acct_whitfield".into(),
        account_name: "Whitfield Hosting".into(),
        owed: "1,250.00 USD".into(),
        dpd: 7,
        what: what.into(),
        command: command.map(str::to_owned),
    };
    let digest = Digest {
        date,
        calls: vec![entry(
            "call Dana Whitfield at +15550100199 (reminder_2)",
            Some(
                "pastdue task done acct_whitfield reminder_2 --outcome promised|no-answer|wrong-number|disputes",
            ),
        )],
        promises_due: vec![entry("Dana Whitfield promised to pay today", None)],
        promises_broken: vec![entry(
            "Kevin Ortiz promised to pay by 2026-01-21: not paid",
            None,
        )],
        cut_offs: vec![entry(
            "suspend on 2026-01-23 unless paid or held",
            Some("pastdue hold place acct_whitfield --until 2026-01-30 --reason \"…\""),
        )],
        unreachable: vec![entry(
            "mail to Dana Whitfield <dana@whitfield.example> fails (bounced): call +15550100199",
            None,
        )],
        disputes: vec![entry(
            "dispute dp_1001 on WH-0042: evidence due 2026-01-29",
            None,
        )],
        yesterday: vec![entry("paid 1,250.00 USD on WH-0041", None)],
        aging: None,
    };
    let at = date.and_hms_opt(9, 0, 0).ok_or("no 09:00")?.and_utc();
    ActionMessage::staff_digest(digest, at).ok_or_else(|| "no digest message".to_owned())
}
