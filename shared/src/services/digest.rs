//! The staff's morning digest: gathered from the accounts the due index
//! lists (never a table scan) and put on the bus as a `staff_digest` for
//! the notifier, once a business day at the policy's `run_hour` in the
//! staff's own time zone (`STAFF_TIMEZONE`). Its id is the date, so two
//! runs that overlap, or a run retried, send it once: the notifier's mail
//! log claims it per date.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use futures::{StreamExt, TryStreamExt};

use crate::domain::digest::{Digest, SECTION_LINES};
use crate::domain::{ActionMessage, Policy};
use crate::ports::attention::Attention;
use crate::ports::receivables::{Receivables, SalesLedger};
use crate::ports::{AccountRepository, DueCandidates, PublishActions, PublishError, StoreError};

/// Accounts read at once while gathering.
const CONCURRENCY: usize = 8;

/// When the digest goes out.
#[derive(Debug, Clone, Copy)]
pub struct Morning {
    /// The staff's time zone (`STAFF_TIMEZONE`).
    pub timezone: Tz,
    /// Local hour (the policy's `run_hour`).
    pub hour: u32,
    /// No digest on Saturdays and Sundays (the policy's `business_days_only`).
    pub business_days_only: bool,
}

impl Morning {
    pub fn new(timezone: Tz, policy: &Policy) -> Self {
        Self {
            timezone,
            hour: policy.run_hour,
            business_days_only: policy.business_days_only,
        }
    }

    /// The staff-local date whose digest is due in the hour `now` falls in.
    pub fn due(&self, now: DateTime<Utc>) -> Option<NaiveDate> {
        let local = now.with_timezone(&self.timezone);
        let weekend = matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
        (local.hour() == self.hour && !(self.business_days_only && weekend))
            .then(|| local.date_naive())
    }
}

/// The date of the digest before `date`'s: the business day before when
/// the policy skips weekends (Monday's covers Friday to Sunday), else the
/// day before.
pub fn last_digest(date: NaiveDate, policy: &Policy) -> NaiveDate {
    let mut day = date.pred_opt().unwrap_or(date);
    while policy.business_days_only && matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        day = day.pred_opt().unwrap_or(day);
    }
    day
}

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] PublishError),
}

/// The digest of staff-local `date` at `now`, over every account with an
/// invoice that can be overdue somewhere by then, the open disputes and
/// yesterday's payments and reinstatements.
pub async fn gather<D, S>(
    due: &D,
    store: &S,
    policy: &Policy,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Digest, StoreError>
where
    D: DueCandidates + Receivables,
    S: AccountRepository + Attention + SalesLedger,
{
    let ids = due
        .accounts_due_before(crate::handlers::dunning::candidate_cutoff(now))
        .await?;
    let states: Vec<_> = futures::stream::iter(ids)
        .map(|id| async move { store.load(&id).await })
        .buffered(CONCURRENCY)
        .try_filter_map(|loaded| async move { Ok(loaded.map(|l| l.state)) })
        .try_collect()
        .await?;
    let since = last_digest(date, policy);
    let mut digest = Digest::gather(date, since, now, &states, policy);
    digest.disputes = store.open_disputes().await?;
    for day in since.iter_days().take_while(|d| *d < date) {
        digest.yesterday.extend(store.activity_on(day).await?);
    }
    let aging = super::aging::report(due, store, policy, now).await?;
    digest.aging = (!aging.currencies.is_empty()).then_some(aging);
    Ok(digest)
}

/// Gathers and publishes the digest when `now` is its hour; returns its
/// date then.
pub async fn send_if_due<D, S, B>(
    due: &D,
    store: &S,
    bus: &B,
    policy: &Policy,
    morning: &Morning,
    now: DateTime<Utc>,
) -> Result<Option<NaiveDate>, DigestError>
where
    D: DueCandidates + Receivables,
    S: AccountRepository + Attention + SalesLedger,
    B: PublishActions,
{
    let Some(date) = morning.due(now) else {
        return Ok(None);
    };
    let digest = gather(due, store, policy, date, now).await?;
    tracing::info!(%date, calls = digest.calls.len(), cut_offs = digest.cut_offs.len(), "staff digest");
    let message = ActionMessage::staff_digest(digest.capped(SECTION_LINES), now)
        .into_iter()
        .collect::<Vec<_>>();
    bus.publish_actions(&message).await?;
    Ok(Some(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_due_at_run_hour_in_the_staffs_own_zone_on_business_days() {
        let morning = Morning::new(chrono_tz::America::Chicago, &Policy::default());
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // 09:00 in Chicago is 15:00 UTC in January, 14:00 in July.
        assert_eq!(
            morning.due(at("2026-01-22T15:30:00Z")),
            Some("2026-01-22".parse().unwrap())
        );
        assert_eq!(morning.due(at("2026-01-22T09:00:00Z")), None);
        assert_eq!(
            morning.due(at("2026-07-22T14:05:00Z")),
            Some("2026-07-22".parse().unwrap())
        );
        assert_eq!(morning.due(at("2026-01-24T15:00:00Z")), None, "Saturday");
        let monday = "2026-01-26".parse().unwrap();
        assert_eq!(
            last_digest(monday, &Policy::default()),
            "2026-01-23".parse().unwrap()
        );
        let every_day = Morning {
            business_days_only: false,
            ..morning
        };
        assert!(every_day.due(at("2026-01-24T15:00:00Z")).is_some());
    }
}
