//! The scheduled `dunning` function: hourly, it evaluates every account
//! whose local `run_hour` has come since the last run, once per local date,
//! stores the fired step atomically with the account's version and
//! publishes the actions.
//!
//! - "Now" is the Scheduled Event's `time`, so any instant can be replayed.
//! - Candidates come from the sparse due index (never a scan), shard by
//!   shard; the index carries each account's time zone, so an account is
//!   read only when its run instant falls in the shard's window
//!   (checkpoint, now].
//! - Shards run concurrently, and accounts within a shard, both bounded.
//! - Before each account the deadline is checked; a run that stops early
//!   leaves the unfinished shards' checkpoints where they were, and the next
//!   invocation covers them. The engine never runs a local date twice
//!   (`last_run`, guarded by the account's version), whatever happens.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use futures::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::HandlerError;
use crate::domain::AccountId;
use crate::domain::engine::{local_date, run_instant};
use crate::ports::{
    DueCandidates, Outbox, PublishActions, RunAccounts, RunCheckpoints, RunFailures, RunOutcome,
};
use crate::services::{AnnounceError, announce};

/// Attempts of one account's run of one date before the run skips past it
/// (each hourly invocation is one attempt): a failure that survives three
/// is in the account's data, not the weather.
pub const MAX_RUN_ATTEMPTS: u32 = 3;

/// The largest UTC offset in use (UTC+14, Line Islands).
const MAX_UTC_OFFSET_HOURS: i64 = 14;

/// The EventBridge Scheduled Event fields the run reads.
#[derive(Debug, Deserialize)]
struct ScheduledEvent {
    time: DateTime<Utc>,
}

/// Reads "now" from a Scheduled Event.
pub fn scheduled_time(event: &serde_json::Value) -> Result<DateTime<Utc>, HandlerError> {
    ScheduledEvent::deserialize(event)
        .map(|e| e.time)
        .map_err(|e| {
            HandlerError::BadEvent(format!(
                "expected a Scheduled Event with an RFC 3339 `time`: {e}"
            ))
        })
}

/// The Scheduled Event EventBridge Scheduler delivers at `time` (the shape
/// the template's schedule input gives): for local runs and replays.
pub fn scheduled_event(time: DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": format!("local-{}", time.timestamp()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "000000000000",
        "time": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    })
}

/// An invoice is overdue on local date D when D > its effective due date. At
/// instant `now` no local date is later than `now + 14 h`, so every invoice
/// that can be overdue anywhere has effective due < that date.
pub fn candidate_cutoff(now: DateTime<Utc>) -> NaiveDate {
    (now + Duration::hours(MAX_UTC_OFFSET_HOURS)).date_naive()
}

/// The latest local date whose run (at `run_hour` local) has come at `now`,
/// and that run's instant.
pub fn latest_run(now: DateTime<Utc>, tz: Tz, run_hour: u32) -> (NaiveDate, DateTime<Utc>) {
    let today = local_date(now, tz);
    let at = run_instant(today, run_hour, tz);
    if at <= now {
        return (today, at);
    }
    let yesterday = today.pred_opt().unwrap_or(today);
    (yesterday, run_instant(yesterday, run_hour, tz))
}

/// Whether the run must stop taking new accounts.
pub trait Deadline: Sync {
    fn expired(&self) -> bool;
}

/// The Lambda invocation's deadline, less a margin to finish what started.
#[derive(Debug, Clone, Copy)]
pub struct LambdaDeadline {
    pub stop_at: std::time::Instant,
}

/// Lambda's longest timeout: the budget when the runtime's deadline cannot
/// be right.
const LONGEST_INVOCATION: std::time::Duration = std::time::Duration::from_secs(900);

impl LambdaDeadline {
    /// `deadline_ms`: the context's deadline (Unix milliseconds). In AWS it
    /// is always ahead when an invocation starts. A deadline already past
    /// comes only from an emulator (`cargo lambda watch` sends a fixed
    /// `600000`, 1970): honouring it would defer every account forever, so
    /// the run gets Lambda's longest timeout instead.
    pub fn from_context(deadline_ms: u64, margin: std::time::Duration) -> Self {
        let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
        let left = if deadline_ms > now_ms {
            std::time::Duration::from_millis(deadline_ms - now_ms)
        } else {
            tracing::warn!(
                deadline_ms,
                "the runtime's deadline has already passed (an emulator?): running with Lambda's longest timeout"
            );
            LONGEST_INVOCATION
        };
        Self {
            stop_at: std::time::Instant::now() + left.saturating_sub(margin),
        }
    }
}

impl Deadline for LambdaDeadline {
    fn expired(&self) -> bool {
        std::time::Instant::now() >= self.stop_at
    }
}

/// Everything a run needs, built once at init.
pub struct Dunning<D, R, S, B> {
    pub due: D,
    /// The daily run of one account ([`crate::services::Accounts`]).
    pub runs: R,
    /// Checkpoints and the outbox.
    pub store: S,
    pub bus: B,
    /// The policy's local hour of the daily run.
    pub run_hour: u32,
    /// Shards evaluated at once, and accounts at once within a shard.
    pub shard_parallelism: usize,
    pub account_parallelism: usize,
}

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    pub time: DateTime<Utc>,
    /// Invoices due before this date can be overdue somewhere at `time`.
    pub due_before: NaiveDate,
    /// Accounts the index listed.
    pub candidates: usize,
    /// Accounts whose run instant fell in their shard's window.
    pub due: usize,
    /// Accounts the engine evaluated now.
    pub evaluated: usize,
    /// Accounts whose local date had already been run.
    pub already_run: usize,
    /// Actions fired, by name.
    pub actions: BTreeMap<String, usize>,
    /// Action messages put on the bus (including any left pending earlier).
    pub published: usize,
    /// Accounts that failed (logged; retried by the next invocation).
    pub failed: usize,
    /// Accounts whose run of their date failed [`MAX_RUN_ATTEMPTS`] times:
    /// logged with the error, alarmed on, and no longer holding back their
    /// shard. Staff look at them (`pastdue account show`).
    pub skipped: usize,
    /// Accounts not started because the deadline came.
    pub deferred: usize,
    /// Shards whose checkpoint moved to `time`.
    pub shards_done: u16,
    /// True when every shard finished: nothing is left for the next run.
    pub complete: bool,
}

/// Runs the dunning step for `now`.
pub async fn run<D, R, S, B>(
    deps: &Dunning<D, R, S, B>,
    now: DateTime<Utc>,
    deadline: &impl Deadline,
) -> Result<RunReport, HandlerError>
where
    D: DueCandidates,
    R: RunAccounts,
    S: RunCheckpoints + RunFailures + Outbox,
    B: PublishActions,
{
    let due_before = candidate_cutoff(now);
    let report = Mutex::new(RunReport {
        time: now,
        due_before,
        ..RunReport::default()
    });
    let shards = deps.due.shards();
    let results: Vec<Result<bool, HandlerError>> = futures::stream::iter(0..shards)
        .map(|shard| run_shard(deps, shard, now, due_before, deadline, &report))
        .buffer_unordered(deps.shard_parallelism.max(1))
        .collect()
        .await;
    let mut report = report.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut first_error = None;
    for r in results {
        match r {
            Ok(true) => report.shards_done += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, "shard not run");
                first_error.get_or_insert(e);
            }
        }
    }
    report.complete = report.shards_done == shards;
    tracing::info!(
        time = %now,
        candidates = report.candidates,
        due = report.due,
        evaluated = report.evaluated,
        already_run = report.already_run,
        published = report.published,
        failed = report.failed,
        skipped = report.skipped,
        deferred = report.deferred,
        complete = report.complete,
        "dunning run"
    );
    // Nothing ran at all and a shard failed: let the scheduler retry.
    match first_error {
        Some(e) if report.shards_done == 0 => Err(e),
        _ => Ok(report),
    }
}

/// One shard: its window is (checkpoint, now]. Returns whether it finished
/// (and its checkpoint moved to `now`).
async fn run_shard<D, R, S, B>(
    deps: &Dunning<D, R, S, B>,
    shard: u16,
    now: DateTime<Utc>,
    due_before: NaiveDate,
    deadline: &impl Deadline,
    report: &Mutex<RunReport>,
) -> Result<bool, HandlerError>
where
    D: DueCandidates,
    R: RunAccounts,
    S: RunCheckpoints + RunFailures + Outbox,
    B: PublishActions,
{
    let since = deps
        .store
        .checkpoint(shard)
        .await?
        .unwrap_or(now - Duration::days(1));
    if since >= now {
        return Ok(true);
    }
    let candidates = deps.due.due_in_shard(shard, due_before).await?;
    let due: Vec<(AccountId, NaiveDate)> = candidates
        .iter()
        .filter_map(|c| {
            let (date, at) = latest_run(now, c.timezone, deps.run_hour);
            (at > since).then(|| (c.account.clone(), date))
        })
        .collect();
    if let Ok(mut r) = report.lock() {
        r.candidates += candidates.len();
        r.due += due.len();
    }
    let finished: Vec<bool> = futures::stream::iter(due)
        .map(|(account, date)| async move {
            if deadline.expired() {
                if let Ok(mut r) = report.lock() {
                    r.deferred += 1;
                }
                return false;
            }
            run_one(deps, &account, date, report).await
        })
        .buffer_unordered(deps.account_parallelism.max(1))
        .collect()
        .await;
    if finished.iter().all(|done| *done) {
        deps.store.advance(shard, now).await?;
        return Ok(true);
    }
    Ok(false)
}

/// One account on its local date; returns whether it is done (a failure is
/// logged and left for the next invocation).
async fn run_one<D, R, S, B>(
    deps: &Dunning<D, R, S, B>,
    account: &AccountId,
    date: NaiveDate,
    report: &Mutex<RunReport>,
) -> bool
where
    R: RunAccounts,
    S: Outbox + RunFailures,
    B: PublishActions,
{
    let span = tracing::info_span!("run", account = %account, %date);
    async move {
        // Counted and logged; after MAX_RUN_ATTEMPTS the account is passed
        // over (done, as far as its shard's checkpoint goes) and alarmed on.
        let failed = |what: &'static str, e: String| async move {
            let attempts = deps.store.failed_attempt(account, date).await;
            let skip = attempts
                .as_ref()
                .is_ok_and(|n| *n >= MAX_RUN_ATTEMPTS);
            if let Ok(mut r) = report.lock() {
                r.failed += 1;
                r.skipped += usize::from(skip);
            }
            match attempts {
                Ok(n) if skip => tracing::error!(error = %e, attempts = n, skipped = true, "{what}: skipped after {n} attempts"),
                Ok(n) => tracing::error!(error = %e, attempts = n, "{what}"),
                Err(count) => tracing::error!(error = %e, count_error = %count, "{what}"),
            }
            skip
        };
        // A panic on one account's data must not stop its shard's others.
        let run = std::panic::AssertUnwindSafe(deps.runs.run_due(account, date));
        let outcome = match run.catch_unwind().await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => return failed("account not run", e.to_string()).await,
            Err(_) => return failed("account not run", "the run panicked".to_owned()).await,
        };
        // Every run flushes the outbox, not only one that fired a step: an
        // earlier commit's actions must not wait for the next action.
        let announce_needed = match &outcome {
            RunOutcome::Ran(actions) => {
                if let Ok(mut r) = report.lock() {
                    r.evaluated += 1;
                    for a in actions {
                        *r.actions.entry(a.kind.as_str().to_owned()).or_default() += 1;
                    }
                }
                true
            }
            // An earlier invocation may have stopped between commit and publish.
            RunOutcome::AlreadyRun => {
                if let Ok(mut r) = report.lock() {
                    r.already_run += 1;
                }
                true
            }
            RunOutcome::Unknown => false,
        };
        if announce_needed {
            match announce(&deps.store, &deps.bus, account).await {
                Ok(n) => {
                    if let Ok(mut r) = report.lock() {
                        r.published += n;
                    }
                }
                // Reading this account's outbox failed: its data, counted.
                Err(AnnounceError::Store(e)) => {
                    return failed("actions not published", e.to_string()).await;
                }
                // The bus, not this account: retried by the next
                // invocation, never skipped past (the actions wait in the
                // outbox meanwhile).
                Err(e @ AnnounceError::Bus(_)) => {
                    tracing::error!(error = %e, "actions not published");
                    if let Ok(mut r) = report.lock() {
                        r.failed += 1;
                    }
                    return false;
                }
            }
        }
        true
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_cutoff_covers_the_earliest_time_zone() {
        // 09:00 UTC is already 23:00 on the same date in UTC+14.
        assert_eq!(
            candidate_cutoff(at("2026-01-16T09:00:00Z")),
            d("2026-01-16")
        );
        // 10:00 UTC is midnight of the next date in UTC+14.
        assert_eq!(
            candidate_cutoff(at("2026-01-16T10:00:00Z")),
            d("2026-01-17")
        );
    }

    #[test]
    fn the_latest_run_is_today_from_the_run_hour_on_and_yesterday_before() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 13:59 UTC is 08:59 in New York (EST): today's 09:00 run is ahead.
        assert_eq!(
            latest_run(at("2026-01-16T13:59:00Z"), ny, 9),
            (d("2026-01-15"), at("2026-01-15T14:00:00Z"))
        );
        assert_eq!(
            latest_run(at("2026-01-16T14:00:00Z"), ny, 9),
            (d("2026-01-16"), at("2026-01-16T14:00:00Z"))
        );
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        // 00:00 UTC is 09:00 in Tokyo, already the next date.
        assert_eq!(
            latest_run(at("2026-01-16T00:00:00Z"), tokyo, 9).0,
            d("2026-01-16")
        );
    }

    #[test]
    fn a_scheduled_event_gives_the_time_and_anything_else_is_refused() {
        let event: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/schedule.json")).unwrap();
        assert_eq!(scheduled_time(&event).unwrap(), at("2026-01-16T09:00:00Z"));
        assert!(scheduled_time(&serde_json::json!({"time": "yesterday"})).is_err());
        let t = at("2026-09-01T18:00:00Z");
        assert_eq!(scheduled_time(&scheduled_event(t)).unwrap(), t);
    }

    #[test]
    fn the_deadline_keeps_its_margin_and_an_impossible_one_gets_the_longest_timeout() {
        let margin = std::time::Duration::from_secs(20);
        let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap();
        // 10 s left, 20 s kept back: take no new account.
        assert!(LambdaDeadline::from_context(now_ms + 10_000, margin).expired());
        assert!(!LambdaDeadline::from_context(now_ms + 60_000, margin).expired());
        // What `cargo lambda watch` sends.
        let emulated = LambdaDeadline::from_context(600_000, margin);
        assert!(!emulated.expired());
        assert!(emulated.stop_at > std::time::Instant::now() + std::time::Duration::from_secs(800));
    }
}
