//! The staff's morning digest: what only a person can do today, gathered
//! from the accounts being chased (pure: the accounts and the instant come
//! in). The same digest is emailed to staff (`staff_digest`) and printed by
//! `pastdue today`.
//!
//! Sections, each left out when empty:
//! - the calls to make (the ladder's open tasks);
//! - promises to pay due today, and promises broken since the last digest;
//! - cut-offs (suspend, cancel, collections) the next run will take, each
//!   with the one command that holds it;
//! - contacts mail cannot reach (call them instead);
//! - disputes waiting for evidence, soonest deadline first;
//! - the payments and reinstatements since the last digest.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::engine::{AccountState, ActionKind, local_date};
use super::policy::Policy;

/// One line about one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub account: String,
    pub account_name: String,
    /// What is owed, per currency (`120.00 USD and 5,000 JPY`).
    pub owed: String,
    pub dpd: i64,
    /// What to do or know, in a sentence.
    pub what: String,
    /// The command that acts on it, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// The digest of one (staff-local) date.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub date: NaiveDate,
    pub calls: Vec<Entry>,
    pub promises_due: Vec<Entry>,
    pub promises_broken: Vec<Entry>,
    pub cut_offs: Vec<Entry>,
    pub unreachable: Vec<Entry>,
    #[serde(default)]
    pub disputes: Vec<Entry>,
    #[serde(default)]
    pub yesterday: Vec<Entry>,
    /// The receivables by age, drawn as a chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aging: Option<super::aging::Aging>,
}

/// The most lines one section of the emailed digest carries; the rest are
/// counted in a last line (`pastdue today` lists all).
pub const SECTION_LINES: usize = 50;

impl Digest {
    /// The digest as it goes on the bus (an event is at most 256 KB): each
    /// section cut to `limit` lines and a line saying how many more, and
    /// the aging chart without its lists of accounts.
    pub fn capped(mut self, limit: usize) -> Self {
        for section in [
            &mut self.calls,
            &mut self.promises_due,
            &mut self.promises_broken,
            &mut self.cut_offs,
            &mut self.unreachable,
            &mut self.disputes,
            &mut self.yesterday,
        ] {
            if section.len() > limit {
                let more = section.len() - limit;
                section.truncate(limit);
                section.push(Entry {
                    account: String::new(),
                    account_name: format!("and {more} more"),
                    owed: String::new(),
                    dpd: 0,
                    what: "`pastdue today` lists them all".to_owned(),
                    command: Some("pastdue today".to_owned()),
                });
            }
        }
        if let Some(aging) = self.aging.as_mut() {
            for bucket in aging
                .currencies
                .iter_mut()
                .flat_map(|c| c.buckets.iter_mut())
            {
                bucket.accounts.clear();
            }
        }
        self
    }

    /// Whether there is nothing for a person to do.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
            && self.promises_due.is_empty()
            && self.promises_broken.is_empty()
            && self.cut_offs.is_empty()
            && self.unreachable.is_empty()
            && self.disputes.is_empty()
            && self.yesterday.is_empty()
    }

    /// The digest of staff-local `date`, at `now`, over `accounts`; a
    /// promise whose date fell from `since` (the last digest's date) to
    /// yesterday is broken.
    pub fn gather(
        date: NaiveDate,
        since: NaiveDate,
        now: DateTime<Utc>,
        accounts: &[AccountState],
        policy: &Policy,
    ) -> Self {
        let mut digest = Self {
            date,
            ..Self::default()
        };
        for state in accounts {
            digest.add(state, since, now, policy);
        }
        for section in [
            &mut digest.calls,
            &mut digest.promises_due,
            &mut digest.promises_broken,
            &mut digest.cut_offs,
            &mut digest.unreachable,
        ] {
            section.sort_by(|a, b| b.dpd.cmp(&a.dpd).then(a.account.cmp(&b.account)));
        }
        digest
    }

    fn add(&mut self, state: &AccountState, since: NaiveDate, now: DateTime<Utc>, policy: &Policy) {
        let today = local_date(now, state.account.timezone);
        let overdue = state.overdue(today, policy);
        let entry = |what: String, command: Option<String>| Entry {
            account: state.account.id.to_string(),
            account_name: state.account.name.clone(),
            owed: super::money::total_of(overdue.iter().map(|i| (i.owed, i.currency()))),
            dpd: state.dpd(today, policy),
            what,
            command,
        };
        let id = state.account.id.as_str();
        for task in state.open_tasks() {
            let who: Vec<String> = state
                .task_contacts(task)
                .iter()
                .map(|c| match (c.callable_phone(), &c.phone) {
                    (Some(p), _) => format!("{} at {p}", c.name),
                    (None, Some(p)) => format!("{} ({p} is a wrong number)", c.name),
                    (None, None) => format!("{} (no number)", c.name),
                })
                .collect();
            self.calls.push(entry(
                format!("call {} ({})", who.join(", "), task.id()),
                Some(format!(
                    "pastdue task done {id} {} --outcome promised|no-answer|wrong-number|disputes",
                    task.id()
                )),
            ));
        }
        if let Some(promise) = state.promises().last() {
            let by = state
                .account
                .contacts
                .iter()
                .find(|c| c.email == promise.by)
                .map_or_else(|| promise.by.to_string(), |c| c.name.clone());
            if promise.until == today && !overdue.is_empty() {
                self.promises_due
                    .push(entry(format!("{by} promised to pay today"), None));
            }
            if (since..today).contains(&promise.until) && !overdue.is_empty() {
                self.promises_broken.push(entry(
                    format!("{by} promised to pay by {}: not paid", promise.until),
                    None,
                ));
            }
        }
        if !overdue.is_empty()
            && let Some((on, step)) = next_cut_off(state, today, policy)
        {
            let hold_to = on + Duration::days(7);
            self.cut_offs.push(entry(
                format!("{step} on {on} unless paid or held"),
                Some(format!(
                    "pastdue hold place {id} --until {hold_to} --reason \"…\""
                )),
            ));
        }
        for c in state
            .account
            .contacts
            .iter()
            .filter(|c| c.undeliverable.is_some())
        {
            let phone = c
                .callable_phone()
                .map_or_else(|| "no number".to_owned(), |p| p.to_string());
            self.unreachable.push(entry(
                format!(
                    "mail to {} <{}> fails ({}): call {phone}",
                    c.name,
                    c.email,
                    c.undeliverable.as_deref().unwrap_or_default()
                ),
                None,
            ));
        }
    }
}

/// The cut-off the account's next run will take, if any: its date (the
/// next business day after `today`, or the next day) and step.
fn next_cut_off(
    state: &AccountState,
    today: NaiveDate,
    policy: &Policy,
) -> Option<(NaiveDate, &'static str)> {
    let mut next = today + Duration::days(1);
    while policy.business_days_only && matches!(next.weekday(), Weekday::Sat | Weekday::Sun) {
        next += Duration::days(1);
    }
    let mut ahead = state.clone();
    // Today's run first (a no-op when it has been), then the next one.
    let _ = ahead.run(today, policy);
    ahead
        .run(next, policy)
        .into_iter()
        .find_map(|a| match a.kind {
            ActionKind::Step(step) if step.cuts_off() => Some((next, step.as_str())),
            _ => None,
        })
}
