//! What the demo prints and writes: the timeline as it happens, the final
//! table of accounts, and the emails read back from the SES emulator.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use pastdue_shared::adapters::dynamodb::{DynamoStore, MailRecord};
use pastdue_shared::domain::TimelineEntry;
use pastdue_shared::domain::engine::local_date;
use pastdue_shared::domain::money::format_amount;
use pastdue_shared::domain::{Account, AccountId, Currency, Money};
use pastdue_shared::notify::render;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::DemoError;
use crate::story::{Delivery, Promise, Story};

mod gocardless;

const NAME_WIDTH: usize = 18;
const WHAT_WIDTH: usize = 32;

/// Amount in minor units and currency of a Stripe object, as emails write it.
fn stripe_money(object: &Value, key: &str) -> Option<String> {
    let currency = Currency::parse(&object["currency"].as_str()?.to_ascii_uppercase()).ok()?;
    let money = Money::from_minor(object[key].as_i64()?, currency).ok()?;
    Some(amount(money.amount(), currency))
}

fn amount(value: Decimal, currency: Currency) -> String {
    render::money(&format_amount(value, currency), currency)
}

/// What a Stripe delivery says, in a few words. An invoice payment names
/// its invoice by the number the story's invoice deliveries show.
fn describe(delivery: &Delivery, story: &Story) -> String {
    let o = delivery.object();
    let number = o["number"].as_str().unwrap_or("");
    let date = |key: &str| {
        o[key]
            .as_i64()
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .map(|t| t.date_naive().to_string())
            .unwrap_or_default()
    };
    match delivery.kind() {
        "invoice.finalized" => format!(
            "{number}: {} due {}",
            stripe_money(o, "amount_due").unwrap_or_default(),
            date("due_date")
        ),
        "invoice_payment.paid" => {
            let invoice = o["invoice"].as_str().unwrap_or("");
            let number = story
                .deliveries
                .iter()
                .map(Delivery::object)
                .find(|i| i["object"] == "invoice" && i["id"] == invoice)
                .and_then(|i| i["number"].as_str())
                .unwrap_or(invoice);
            format!(
                "{number}: {} paid",
                stripe_money(o, "amount_paid").unwrap_or_default()
            )
        }
        // On basil and later these restate the invoice; the payment is the
        // invoice_payment.paid before them.
        "invoice.paid" | "invoice.payment_succeeded" => match o["amount_remaining"].as_i64() {
            Some(0) => format!("{number}: paid in full"),
            _ => format!(
                "{number}: paid, {} remaining",
                stripe_money(o, "amount_remaining").unwrap_or_default()
            ),
        },
        "invoice.payment_failed" => format!(
            "{number}: {} declined",
            stripe_money(o, "amount_due").unwrap_or_default()
        ),
        "charge.dispute.created" => format!(
            "{}: {} disputed ({})",
            o["charge"].as_str().unwrap_or(""),
            stripe_money(o, "amount").unwrap_or_default(),
            o["reason"].as_str().unwrap_or("").replace('_', " ")
        ),
        "charge.dispute.closed" => format!(
            "{}: dispute {}",
            o["charge"].as_str().unwrap_or(""),
            o["status"].as_str().unwrap_or("")
        ),
        "payment_method.attached"
        | "payment_method.updated"
        | "payment_method.automatically_updated" => {
            let card = &o["card"];
            format!(
                "{} ending {} expires {}/{}",
                card["brand"].as_str().unwrap_or("card"),
                card["last4"].as_str().unwrap_or(""),
                card["exp_month"],
                card["exp_year"]
            )
        }
        "payment_method.detached" => format!("{} removed", o["id"].as_str().unwrap_or("card")),
        "customer.created" | "customer.updated" => {
            match o["invoice_settings"]["default_payment_method"].as_str() {
                Some(pm) => format!("default card {pm}"),
                None => "no default card".to_owned(),
            }
        }
        "customer.source.expiring" => format!(
            "{} ending {} expires {}/{}",
            o["brand"].as_str().unwrap_or("card"),
            o["last4"].as_str().unwrap_or(""),
            o["exp_month"],
            o["exp_year"]
        ),
        _ => String::new(),
    }
}

/// What an action did besides the emails.
fn consequence(action: &Value) -> String {
    let dpd = action["dpd"].as_i64().unwrap_or(0);
    let late = match dpd {
        0 => String::new(),
        1 => "1 day late".to_owned(),
        n => format!("{n} days late"),
    };
    let extra = match action["action"].as_str().unwrap_or("") {
        "final_notice" => format!(
            "suspension set for {}",
            action["suspend_on"].as_str().unwrap_or("?")
        ),
        "suspend" => "service suspended".to_owned(),
        "reinstate" => "service restored".to_owned(),
        "cancel" => "service cancelled".to_owned(),
        "dispute_alert" => "dunning paused on the invoice".to_owned(),
        _ => String::new(),
    };
    [late, extra]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One account's progress through the story, as read from the table.
#[derive(Default)]
struct Seen {
    entries: usize,
    actions: Vec<String>,
}

/// Prints the timeline as the story plays, and keeps a copy for the file.
pub struct Report<'a> {
    story: &'a Story,
    store: &'a DynamoStore,
    seen: HashMap<AccountId, Seen>,
    text: String,
    progress: bool,
}

fn weekday(date: NaiveDate) -> String {
    date.format("%Y-%m-%d %a").to_string()
}

impl<'a> Report<'a> {
    pub fn new(story: &'a Story, store: &'a DynamoStore, progress: bool) -> Self {
        Self {
            story,
            store,
            seen: HashMap::new(),
            text: String::new(),
            progress,
        }
    }

    /// Prints a line (clearing the progress line first) and keeps it.
    pub fn line(&mut self, line: &str) {
        if self.progress {
            eprint!("\r\x1b[2K");
        }
        println!("{line}");
        self.text.push_str(line);
        self.text.push('\n');
    }

    /// Shows which simulated day the story is on (terminals only).
    pub fn progress(&self, n: u32, date: NaiveDate) {
        if self.progress {
            eprint!("\r  … day {}/{} {}", n + 1, self.story.days, date);
            let _ = std::io::stderr().flush();
        }
    }

    fn entry(&mut self, date: NaiveDate, who: &str, what: &str, detail: &str) {
        let line = format!(
            "{}  {who:<NAME_WIDTH$}  {what:<WHAT_WIDTH$} {detail}",
            weekday(date)
        );
        self.line(line.trim_end());
    }

    pub fn header(&mut self) {
        let story = self.story;
        self.line(&format!(
            "{}: {} to {}, the schedule invoked daily at {} UTC",
            story.title,
            story.from,
            story.from + chrono::Days::new(u64::from(story.days.saturating_sub(1))),
            story.run_at.format("%H:%M")
        ));
        for (i, plot) in story.plot.iter().enumerate() {
            let name = story
                .customer(&plot.account)
                .map_or(plot.account.as_str(), |a| a.name.as_str());
            self.line(&format!("  {}. {name} {}", i + 1, plot.story));
        }
        self.line("");
        self.line(&format!(
            "{:<14}  {:<NAME_WIDTH$}  {:<WHAT_WIDTH$} details",
            "date", "customer", "what happened"
        ));
    }

    /// A webhook was delivered; then prints what it caused.
    pub async fn delivered(&mut self, delivery: &Delivery, outcome: &str) -> Result<(), DemoError> {
        let changed = self.changes().await?;
        let customer = delivery.object()["customer"]
            .as_str()
            .and_then(|c| AccountId::parse(c).ok())
            .or_else(|| changed.first().map(|(a, _)| a.clone()));
        let account = customer.as_ref().and_then(|c| self.story.customer(c));
        let date = local_date(delivery.created, account.map_or(Tz::UTC, |a| a.timezone));
        let who = account.map_or("", |a| a.name.as_str()).to_owned();
        let detail = match outcome {
            "applied" => describe(delivery, self.story),
            other => format!("{} ({other})", describe(delivery, self.story)),
        };
        self.entry(date, &who, &format!("stripe {}", delivery.kind()), &detail);
        self.actions(changed).await
    }

    /// A customer used their page; then prints what it caused.
    pub async fn promised(&mut self, promise: &Promise, said: &str) -> Result<(), DemoError> {
        let changed = self.changes().await?;
        if let Some(account) = self.story.customer(&promise.account) {
            let date = local_date(promise.at, account.timezone);
            let who = account.name.clone();
            let detail = format!("{}: \"{said}\"", promise.contact);
            self.entry(date, &who, "customer page: promise", &detail);
        }
        self.actions(changed).await
    }

    /// Stripe sent `delivery` and it never reached pastdue.
    pub async fn lost(&mut self, delivery: &Delivery) -> Result<(), DemoError> {
        // An invoice payment names its invoice, whose customer it is.
        let invoice = delivery.object()["invoice"].as_str();
        let customer = delivery.object()["customer"]
            .as_str()
            .or_else(|| {
                self.story
                    .deliveries
                    .iter()
                    .map(Delivery::object)
                    .find(|o| o["object"] == "invoice" && o["id"].as_str() == invoice)
                    .and_then(|o| o["customer"].as_str())
            })
            .and_then(|c| AccountId::parse(c).ok());
        let account = customer.as_ref().and_then(|c| self.story.customer(c));
        let date = local_date(delivery.created, account.map_or(Tz::UTC, |a| a.timezone));
        let who = account.map_or("", |a| a.name.as_str()).to_owned();
        let detail = format!(
            "{}: the webhook never arrived (only Stripe's API has it)",
            describe(delivery, self.story)
        );
        self.entry(
            date,
            &who,
            &format!("stripe {} ✗", delivery.kind()),
            &detail,
        );
        Ok(())
    }

    /// The schedule ran; prints what it fired.
    pub async fn ran(&mut self) -> Result<(), DemoError> {
        let changed = self.changes().await?;
        self.actions(changed).await
    }

    /// New timeline entries of every customer since the last look.
    async fn changes(&mut self) -> Result<Vec<(AccountId, Vec<TimelineEntry>)>, DemoError> {
        let mut out = Vec::new();
        for account in &self.story.customers {
            let entries = self.store.timeline(&account.id).await?;
            let seen = self.seen.entry(account.id.clone()).or_default();
            if entries.len() > seen.entries {
                let new = entries[seen.entries..].to_vec();
                seen.entries = entries.len();
                out.push((account.id.clone(), new));
            }
        }
        Ok(out)
    }

    async fn actions(
        &mut self,
        changed: Vec<(AccountId, Vec<TimelineEntry>)>,
    ) -> Result<(), DemoError> {
        for (id, entries) in changed {
            let Some(account) = self.story.customer(&id) else {
                continue;
            };
            // What the webhooks missed and pastdue found in Stripe.
            for entry in entries.iter().filter(|e| {
                e.kind == "event"
                    && e.detail["event"]["via"].is_string()
                    && e.detail["outcome"] == "applied"
            }) {
                let date = entry.detail["event"]["at"]
                    .as_str()
                    .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
                    .map_or(self.story.from, |t| local_date(t, account.timezone));
                let summary = entry.summary.clone();
                self.entry(date, &account.name, "← found in Stripe", &summary);
            }
            let actions: Vec<&TimelineEntry> =
                entries.iter().filter(|e| e.kind == "action").collect();
            if actions.is_empty() {
                continue;
            }
            let mails = self.store.mails(&id).await?;
            for entry in actions {
                let a = &entry.detail;
                let name = a["action"].as_str().unwrap_or("?").to_owned();
                let date = a["date"]
                    .as_str()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(self.story.from);
                let emailed = emailed(&mails, &name, date, account);
                let mut detail = consequence(a);
                if !emailed.is_empty() {
                    if !detail.is_empty() {
                        detail.push_str("; ");
                    }
                    detail.push_str("emailed ");
                    detail.push_str(&emailed);
                }
                self.entry(date, &account.name, &format!("→ {name}"), &detail);
                self.seen.entry(id.clone()).or_default().actions.push(name);
            }
        }
        Ok(())
    }

    /// The actions fired for `account`, in order.
    pub fn fired(&self, account: &AccountId) -> &[String] {
        self.seen.get(account).map_or(&[], |s| s.actions.as_slice())
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Who received `action` of `date`: names, and `staff` for the staff copy.
fn emailed(mails: &[MailRecord], action: &str, date: NaiveDate, account: &Account) -> String {
    let date = date.to_string();
    let mut names: Vec<String> = mails
        .iter()
        .filter(|m| {
            m.state == "sent"
                && m.detail["action"] == action
                && m.detail["date"].as_str() == Some(date.as_str())
        })
        .map(|m| {
            if m.detail["audience"] == "staff" {
                "staff".to_owned()
            } else {
                account
                    .contacts
                    .iter()
                    .find(|c| c.email.as_str() == m.recipient)
                    .map_or_else(|| m.recipient.clone(), |c| c.name.clone())
            }
        })
        .collect();
    names.dedup();
    names.join(", ")
}

/// The final table: one row per customer, on the story's last day.
pub async fn final_table(
    story: &Story,
    store: &DynamoStore,
    report: &mut Report<'_>,
) -> Result<Vec<(AccountId, String)>, DemoError> {
    let last = story.from + chrono::Days::new(u64::from(story.days.saturating_sub(1)));
    report.line("");
    report.line(&format!("Accounts on {last}:"));
    report.line(&format!(
        "  {:<NAME_WIDTH$}  {:<10} {:>9}  {:<22} {:>6}  story",
        "customer", "status", "days late", "owed", "emails"
    ));
    let mut statuses = Vec::new();
    for plot in &story.plot {
        let loaded = store
            .load(&plot.account)
            .await?
            .ok_or_else(|| DemoError::Plot(format!("{} has no account", plot.account)))?;
        let state = &loaded.state;
        let mut owed: BTreeMap<&str, (Decimal, Currency)> = BTreeMap::new();
        for i in state
            .invoices()
            .iter()
            .filter(|i| !i.void && i.owed > Decimal::ZERO)
        {
            let c = i.currency();
            owed.entry(c.code()).or_insert((Decimal::ZERO, c)).0 += i.owed;
        }
        let owed = if owed.is_empty() {
            "nothing".to_owned()
        } else {
            owed.values()
                .map(|(v, c)| amount(*v, *c))
                .collect::<Vec<_>>()
                .join(" + ")
        };
        let emails = store
            .mails(&plot.account)
            .await?
            .iter()
            .filter(|m| m.state == "sent")
            .count();
        let status = state.status.as_str().to_owned();
        report.line(&format!(
            "  {:<NAME_WIDTH$}  {:<10} {:>9}  {:<22} {:>6}  {}",
            state.account.name,
            status,
            state.dpd(last, store.policy()),
            owed,
            emails,
            plot.story
        ));
        statuses.push((plot.account.clone(), status));
    }
    Ok(statuses)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Reads every email the story sent back from the SES emulator (by the
/// message ids the notifier recorded) and writes each as an `.html` file
/// under `dir`, with an `index.html`. Returns how many.
pub async fn write_emails(
    story: &Story,
    store: &DynamoStore,
    ses: &HashMap<String, Value>,
    dir: &Path,
) -> Result<usize, DemoError> {
    let io = |e: std::io::Error| DemoError::Output(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut rows = Vec::new();
    for account in &story.customers {
        for mail in store.mails(&account.id).await? {
            let Some(id) = mail.message_id.as_deref().filter(|_| mail.state == "sent") else {
                continue;
            };
            let message = ses.get(id).ok_or_else(|| {
                DemoError::Ses(format!(
                    "SES message {id} ({} to {}) is not in the emulator",
                    mail.message, mail.recipient
                ))
            })?;
            let date = mail.detail["date"].as_str().unwrap_or("").to_owned();
            let action = mail.detail["action"].as_str().unwrap_or("").to_owned();
            let who = mail.recipient.split('@').next().unwrap_or("");
            rows.push((
                date,
                account,
                action,
                mail.recipient.clone(),
                who.to_owned(),
                message,
            ));
        }
    }
    rows.sort_by(|a, b| (&a.0, &a.1.name, &a.2, &a.3).cmp(&(&b.0, &b.1.name, &b.2, &b.3)));
    let mut index = String::from(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<title>pastdue demo: emails</title>\n\
         <style>body{font-family:system-ui,sans-serif;margin:2em}td,th{padding:.25em .75em;text-align:left}</style>\n\
         <h1>Emails sent in the demo</h1>\n<table>\n<tr><th>date</th><th>customer</th><th>action</th><th>to</th><th>subject</th></tr>\n",
    );
    let mut seen = HashSet::new();
    for (date, account, action, to, who, message) in &rows {
        let mut name = format!(
            "{date}_{}_{}_{}",
            file_safe(account.id.as_str()),
            file_safe(action),
            file_safe(who)
        );
        while !seen.insert(name.clone()) {
            name.push('_');
        }
        let file = format!("{name}.html");
        let body = message["body"].as_str().unwrap_or("");
        std::fs::write(dir.join(&file), body).map_err(io)?;
        let subject = message["subject"].as_str().unwrap_or("");
        let _ = writeln!(
            index,
            "<tr><td>{date}</td><td>{}</td><td>{action}</td><td>{}</td><td><a href=\"{file}\">{}</a></td></tr>",
            escape(&account.name),
            escape(to),
            escape(subject)
        );
    }
    index.push_str("</table>\n");
    std::fs::write(dir.join("index.html"), index).map_err(io)?;
    Ok(rows.len())
}
