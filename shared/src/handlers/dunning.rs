//! The scheduled `dunning` function. So far it finds the day's candidate
//! accounts through the due index; evaluating them arrives with the engine.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::HandlerError;
use crate::ports::DueCandidates;

/// The largest UTC offset in use (UTC+14, Line Islands).
const MAX_UTC_OFFSET_HOURS: i64 = 14;

/// The EventBridge Scheduled Event fields the run reads.
#[derive(Debug, Deserialize)]
struct ScheduledEvent {
    time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    pub time: DateTime<Utc>,
    /// Invoices due before this date can be overdue somewhere on Earth at `time`.
    pub due_before: NaiveDate,
    pub candidates: usize,
}

/// An invoice is overdue on local date D when D > its effective due date. At
/// instant `now` no local date is later than `now + 14 h`, so every invoice
/// that can be overdue anywhere has effective due < that date.
pub fn candidate_cutoff(now: DateTime<Utc>) -> NaiveDate {
    (now + Duration::hours(MAX_UTC_OFFSET_HOURS)).date_naive()
}

pub async fn handle<P: DueCandidates>(
    due: &P,
    event: serde_json::Value,
) -> Result<RunReport, HandlerError> {
    let ScheduledEvent { time } = serde_json::from_value(event).map_err(|e| {
        HandlerError::BadEvent(format!(
            "expected a Scheduled Event with an RFC 3339 `time`: {e}"
        ))
    })?;
    let due_before = candidate_cutoff(time);
    let candidates = due.accounts_due_before(due_before).await?;
    tracing::info!(%time, %due_before, candidates = candidates.len(), "dunning candidates found");
    Ok(RunReport {
        time,
        due_before,
        candidates: candidates.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_covers_the_earliest_time_zone() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
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
}
