//! Values the property tests generate events from.

/// The instant `day` days after 2026-01-01, at `hour`:17 UTC, as RFC 3339.
pub fn at(day: u32, hour: u32) -> String {
    let date = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
        + chrono::Duration::days(i64::from(day));
    format!("{date}T{hour:02}:17:00Z")
}

/// `c` cents as a decimal string in major units (`"12.05"`).
pub fn cents(c: u32) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}
