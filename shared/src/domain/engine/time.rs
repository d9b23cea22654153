//! Local dates and run instants in an account's time zone (spec §3, §6).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The local date of an instant in a time zone.
pub fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// The instant of `hour:00` local on `date`. A time that does not exist
/// (a DST gap) moves forward to the first hour that does; an ambiguous one
/// (the hour repeated when clocks go back) is its first occurrence.
pub fn run_instant(date: NaiveDate, hour: u32, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    (hour..hour + 4)
        .find_map(|h| {
            tz.from_local_datetime(&(midnight + Duration::hours(i64::from(h))))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&(midnight + Duration::hours(i64::from(hour)))))
}
