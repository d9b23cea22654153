//! GoCardless's deliveries in the timeline: one line per event of a
//! batch, with what ingest answered when it was not `applied`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use pastdue_shared::domain::engine::local_date;
use pastdue_shared::domain::{Currency, Money};
use serde_json::Value;

use super::{Report, amount};
use crate::DemoError;
use crate::gocardless::{Batch, GoCardless};

/// A payment's amount in minor units, as emails write it.
fn payment_money(payment: &Value) -> Option<String> {
    let currency = Currency::parse(payment["currency"].as_str()?).ok()?;
    let money = Money::from_minor(payment["amount"].as_i64()?, currency).ok()?;
    Some(amount(money.amount(), currency))
}

/// What a GoCardless event says, in a few words, the payment named by
/// its reference.
fn describe(event: &Value, gocardless: &GoCardless) -> String {
    let payment = gocardless.payment(event["links"]["payment"].as_str());
    let name = payment
        .and_then(|p| p["reference"].as_str().or(p["id"].as_str()))
        .unwrap_or_default();
    let money = payment.and_then(payment_money).unwrap_or_default();
    let details = &event["details"];
    let cause = details["cause"].as_str().unwrap_or("").replace('_', " ");
    match (
        event["resource_type"].as_str().unwrap_or(""),
        event["action"].as_str().unwrap_or(""),
    ) {
        ("payments", "created") => format!(
            "{name}: {money} to collect on {}",
            payment
                .and_then(|p| p["charge_date"].as_str())
                .unwrap_or("?")
        ),
        ("payments", "submitted") => format!("{name}: submitted to the bank"),
        ("payments", "failed") => {
            let retry = if details["will_attempt_retry"] == true {
                "will retry"
            } else {
                "no retry"
            };
            format!("{name}: {money} failed, {cause} ({retry})")
        }
        ("payments", "resubmission_requested") => {
            format!("{name}: GoCardless collects it again")
        }
        ("payments", "confirmed") => format!("{name}: {money} collected"),
        ("subscriptions", "payment_created") => format!(
            "{}: created {name}",
            event["links"]["subscription"].as_str().unwrap_or("")
        ),
        (_, action) => format!("{name} {action}").trim().to_owned(),
    }
}

impl Report<'_> {
    /// A GoCardless batch was delivered; then prints what it caused.
    pub async fn gocardless(
        &mut self,
        batch: &Batch,
        outcomes: &[String],
    ) -> Result<(), DemoError> {
        let changed = self.changes().await?;
        let gocardless = &self.story.gocardless;
        let mut lines = Vec::new();
        for (event, outcome) in batch.events.iter().zip(outcomes) {
            let account = event["links"]["payment"]
                .as_str()
                .and_then(|pm| gocardless.account_of_payment(pm))
                .and_then(|id| self.story.customer(&id));
            let at = event["created_at"]
                .as_str()
                .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                .unwrap_or(batch.sent);
            let date = local_date(at, account.map_or(Tz::UTC, |a| a.timezone));
            let who = account.map_or("", |a| a.name.as_str()).to_owned();
            let what = format!(
                "gocardless {}.{}",
                event["resource_type"].as_str().unwrap_or("?"),
                event["action"].as_str().unwrap_or("?")
            );
            let mut detail = describe(event, gocardless);
            if outcome != "applied" {
                // "… (will retry)" becomes "… (will retry; duplicate)".
                match detail.strip_suffix(')') {
                    Some(open) => detail = format!("{open}; {outcome})"),
                    None => detail.push_str(&format!(" ({outcome})")),
                }
            }
            lines.push((date, who, what, detail));
        }
        for (date, who, what, detail) in lines {
            self.entry(date, &who, &what, &detail);
        }
        self.actions(changed).await
    }
}
