//! The story in `events/demo/`: who the customers are, what Stripe and
//! GoCardless send and when, and what the story says must happen.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use pastdue_shared::domain::{Account, AccountId};
use serde::Deserialize;
use serde_json::Value;

use crate::DemoError;
use crate::gocardless::GoCardless;

/// `story.json`.
#[derive(Debug, Deserialize)]
struct StoryFile {
    title: String,
    from: NaiveDate,
    days: u32,
    /// The UTC time of day at which the schedule is invoked.
    run_at: NaiveTime,
    customers: PathBuf,
    deliveries: PathBuf,
    /// What Stripe sent that never reached pastdue (an endpoint down past
    /// Stripe's retries): only Stripe's API knows them.
    #[serde(default)]
    lost: Option<PathBuf>,
    /// What GoCardless's API holds and its webhooks send.
    #[serde(default)]
    gocardless: Option<PathBuf>,
    #[serde(default)]
    promises: Vec<Promise>,
    plot: Vec<Plot>,
}

/// A customer who opens the page from their latest email at `at` and
/// promises to pay by `until`.
#[derive(Debug, Clone, Deserialize)]
pub struct Promise {
    pub account: AccountId,
    pub at: DateTime<Utc>,
    /// The contact whose email carries the link.
    pub contact: String,
    pub until: NaiveDate,
}

/// One customer's line of the story and what must come of it.
#[derive(Debug, Clone, Deserialize)]
pub struct Plot {
    pub account: AccountId,
    pub story: String,
    /// The account's status at the end.
    pub status: String,
    /// Every action fired for the account, in order.
    pub actions: Vec<String>,
}

/// One Stripe delivery: the event as Stripe posts it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub created: DateTime<Utc>,
    pub body: Value,
    /// Stripe sent it, and it never reached pastdue.
    pub lost: bool,
}

impl Delivery {
    pub fn kind(&self) -> &str {
        self.body["type"].as_str().unwrap_or("?")
    }

    pub fn object(&self) -> &Value {
        &self.body["data"]["object"]
    }
}

#[derive(Debug)]
pub struct Story {
    pub title: String,
    pub from: NaiveDate,
    pub days: u32,
    pub run_at: NaiveTime,
    pub customers: Vec<Account>,
    pub deliveries: Vec<Delivery>,
    pub gocardless: GoCardless,
    /// In order of `at`.
    pub promises: Vec<Promise>,
    pub plot: Vec<Plot>,
}

fn read_json(path: &Path) -> Result<Value, DemoError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| DemoError::Story(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| DemoError::Story(format!("{}: not valid JSON: {e}", path.display())))
}

/// A file of Stripe events, in the order Stripe sent them.
fn read_deliveries(path: &Path, lost: bool) -> Result<Vec<Delivery>, DemoError> {
    let Value::Array(items) = read_json(path)? else {
        return Err(DemoError::Story(format!(
            "{}: expected an array of Stripe events",
            path.display()
        )));
    };
    let mut deliveries = Vec::with_capacity(items.len());
    for (i, body) in items.into_iter().enumerate() {
        let created = body["created"]
            .as_i64()
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .ok_or_else(|| {
                DemoError::Story(format!(
                    "{}: [{i}]: `created` must be Unix seconds",
                    path.display()
                ))
            })?;
        deliveries.push(Delivery {
            created,
            body,
            lost,
        });
    }
    if !deliveries.is_sorted_by_key(|d| d.created) {
        return Err(DemoError::Story(format!(
            "{}: deliveries must be in the order Stripe sends them (by `created`)",
            path.display()
        )));
    }
    Ok(deliveries)
}

impl Story {
    /// Reads `dir/story.json` and the files it names, and checks that they
    /// tell one consistent story.
    pub fn load(dir: &Path) -> Result<Self, DemoError> {
        let path = dir.join("story.json");
        let file: StoryFile = serde_json::from_value(read_json(&path)?)
            .map_err(|e| DemoError::Story(format!("{}: {e}", path.display())))?;
        let customers_path = dir.join(&file.customers);
        let customers = match read_json(&customers_path)? {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    Account::from_json(v).map_err(|e| {
                        DemoError::Story(format!("{}: [{i}]: {e}", customers_path.display()))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => {
                return Err(DemoError::Story(format!(
                    "{}: expected an array of accounts",
                    customers_path.display()
                )));
            }
        };
        let mut deliveries = read_deliveries(&dir.join(&file.deliveries), false)?;
        if let Some(lost) = &file.lost {
            deliveries.extend(read_deliveries(&dir.join(lost), true)?);
            // Stable: each file is in Stripe's order already.
            deliveries.sort_by_key(|d| d.created);
        }
        let story = Self {
            title: file.title,
            from: file.from,
            days: file.days,
            run_at: file.run_at,
            customers,
            deliveries,
            gocardless: match &file.gocardless {
                Some(path) => GoCardless::load(&dir.join(path))?,
                None => GoCardless::default(),
            },
            promises: {
                let mut promises = file.promises;
                promises.sort_by_key(|p| p.at);
                promises
            },
            plot: file.plot,
        };
        story.check()?;
        Ok(story)
    }

    fn check(&self) -> Result<(), DemoError> {
        let end = self.run_time(self.days.saturating_sub(1));
        if let Some(late) = self.deliveries.iter().find(|d| d.created > end) {
            return Err(DemoError::Story(format!(
                "{} is after the last run ({end})",
                late.body["id"]
            )));
        }
        if let Some(late) = self.gocardless.last_sent().filter(|t| *t > end) {
            return Err(DemoError::Story(format!(
                "a GoCardless delivery is sent at {late}, after the last run ({end})"
            )));
        }
        for batch in &self.gocardless.deliveries {
            let payments = batch
                .events
                .iter()
                .filter_map(|e| e["links"]["payment"].as_str());
            for pm in payments {
                let account = self.gocardless.account_of_payment(pm);
                if account.as_ref().and_then(|a| self.customer(a)).is_none() {
                    return Err(DemoError::Story(format!(
                        "GoCardless payment {pm} belongs to {account:?}, who is not a customer"
                    )));
                }
            }
        }
        for promise in &self.promises {
            if self.customer(&promise.account).is_none() || promise.at > end {
                return Err(DemoError::Story(format!(
                    "the promise of {} at {} names no customer or is after the last run",
                    promise.account, promise.at
                )));
            }
        }
        for plot in &self.plot {
            if self.customer(&plot.account).is_none() {
                return Err(DemoError::Story(format!(
                    "the plot names {}, who is not a customer",
                    plot.account
                )));
            }
        }
        Ok(())
    }

    /// The instant the schedule fires on day `n` (0 is `from`).
    pub fn run_time(&self, n: u32) -> DateTime<Utc> {
        (self.from + chrono::Days::new(u64::from(n)))
            .and_time(self.run_at)
            .and_utc()
    }

    pub fn customer(&self, id: &AccountId) -> Option<&Account> {
        self.customers.iter().find(|a| &a.id == id)
    }
}
