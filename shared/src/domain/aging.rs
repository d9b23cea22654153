//! Receivables aging (pure): what is owed, per currency, in the standard
//! buckets by days past due (current, 1–30, 31–60, 61–90, over 90), with
//! the accounts in each, and the day's days-sales-outstanding.
//!
//! Days past due are counted in each account's own time zone, as the
//! ladder counts them. DSO is the receivables over the last 30 days' sales
//! (invoices first issued then), times 30: how many days of sales are
//! still unpaid.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::engine::local_date;
use super::money::{format_amount, money};
use super::{AccountId, Currency};

/// The buckets, in order: their labels and the largest dpd each holds.
pub const BUCKETS: [(&str, i64); 5] = [
    ("current", 0),
    ("1-30", 30),
    ("31-60", 60),
    ("61-90", 90),
    ("over 90", i64::MAX),
];

/// The days of sales DSO is measured over.
pub const DSO_DAYS: i64 = 30;

/// One open invoice as the due index lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receivable {
    pub account: AccountId,
    pub timezone: Tz,
    pub due: NaiveDate,
    pub owed: Decimal,
    pub currency: Currency,
}

/// An account's share of a bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owing {
    pub account: String,
    pub name: String,
    pub owed: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub label: String,
    /// In the currency's decimals (`1250.00`).
    pub total: String,
    /// The share of the currency's receivables, 0 to 100.
    pub percent: u32,
    /// Largest first.
    pub accounts: Vec<Owing>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyAging {
    pub currency: String,
    pub total: String,
    /// Shown: `1,250.00 USD`.
    pub total_shown: String,
    pub buckets: Vec<Bucket>,
    /// Invoices first issued in the last [`DSO_DAYS`] days.
    pub sales: String,
    /// Days sales outstanding, one decimal; `None` without sales.
    pub dso: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aging {
    /// The UTC date it was taken on.
    pub date: NaiveDate,
    pub currencies: Vec<CurrencyAging>,
}

/// Which bucket `dpd` falls in.
fn bucket_of(dpd: i64) -> usize {
    BUCKETS
        .iter()
        .position(|(_, max)| dpd <= *max)
        .unwrap_or(BUCKETS.len() - 1)
}

impl Aging {
    /// The aging at `now` of `receivables`, naming accounts from `names`,
    /// with `sales` the amounts first issued in the last [`DSO_DAYS`] days.
    pub fn of(
        now: DateTime<Utc>,
        receivables: &[Receivable],
        names: &BTreeMap<AccountId, String>,
        sales: &[(Currency, Decimal)],
    ) -> Self {
        // currency -> bucket -> account -> owed
        let mut sums: BTreeMap<Currency, Vec<BTreeMap<&AccountId, Decimal>>> = BTreeMap::new();
        for r in receivables.iter().filter(|r| r.owed > Decimal::ZERO) {
            let dpd = (local_date(now, r.timezone) - r.due).num_days();
            let buckets = sums
                .entry(r.currency)
                .or_insert_with(|| vec![BTreeMap::new(); BUCKETS.len()]);
            *buckets[bucket_of(dpd)].entry(&r.account).or_default() += r.owed;
        }
        let mut sold: BTreeMap<Currency, Decimal> = BTreeMap::new();
        for (currency, amount) in sales {
            *sold.entry(*currency).or_default() += *amount;
        }
        let currencies = sums
            .into_iter()
            .map(|(currency, buckets)| {
                let totals: Vec<Decimal> =
                    buckets.iter().map(|b| b.values().copied().sum()).collect();
                let total: Decimal = totals.iter().copied().sum();
                let sales = sold.get(&currency).copied().unwrap_or_default();
                let dso = (sales > Decimal::ZERO)
                    .then(|| format!("{:.1}", total / sales * Decimal::from(DSO_DAYS)));
                CurrencyAging {
                    currency: currency.to_string(),
                    total: format_amount(total, currency),
                    total_shown: money(&format_amount(total, currency), currency),
                    buckets: buckets
                        .iter()
                        .zip(&totals)
                        .zip(BUCKETS)
                        .map(|((accounts, sum), (label, _))| Bucket {
                            label: label.to_owned(),
                            total: format_amount(*sum, currency),
                            percent: percent(*sum, total),
                            accounts: owing(accounts, names, currency),
                        })
                        .collect(),
                    sales: format_amount(sales, currency),
                    dso,
                }
            })
            .collect();
        Self {
            date: now.date_naive(),
            currencies,
        }
    }
}

fn percent(part: Decimal, whole: Decimal) -> u32 {
    if whole <= Decimal::ZERO {
        return 0;
    }
    (part * Decimal::from(100) / whole)
        .round()
        .to_string()
        .parse()
        .unwrap_or(0)
}

fn owing(
    accounts: &BTreeMap<&AccountId, Decimal>,
    names: &BTreeMap<AccountId, String>,
    currency: Currency,
) -> Vec<Owing> {
    let mut out: Vec<(&AccountId, Decimal)> = accounts.iter().map(|(a, d)| (*a, *d)).collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    out.into_iter()
        .map(|(account, owed)| Owing {
            account: account.to_string(),
            name: names
                .get(account)
                .cloned()
                .unwrap_or_else(|| account.to_string()),
            owed: format_amount(owed, currency),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(account: &str, tz: Tz, due: &str, owed: &str, currency: &str) -> Receivable {
        Receivable {
            account: AccountId::parse(account).unwrap(),
            timezone: tz,
            due: due.parse().unwrap(),
            owed: owed.parse().unwrap(),
            currency: Currency::parse(currency).unwrap(),
        }
    }

    #[test]
    fn buckets_totals_and_dso_match_the_hand_computed_figures() {
        // 2026-04-01 03:00 UTC: still 31 March in Chicago, 1 April in Tokyo.
        let now: DateTime<Utc> = "2026-04-01T03:00:00Z".parse().unwrap();
        let chi = chrono_tz::America::Chicago;
        let tyo = chrono_tz::Asia::Tokyo;
        let receivables = [
            r("a", Tz::UTC, "2026-04-10", "100.00", "USD"), // current
            r("a", Tz::UTC, "2026-04-01", "50.00", "USD"),  // due today: current
            r("b", Tz::UTC, "2026-03-31", "200.00", "USD"), // 1
            r("c", chi, "2026-03-01", "300.00", "USD"),     // Chicago 31 Mar: 30
            r("d", Tz::UTC, "2026-03-01", "400.00", "USD"), // 31
            r("e", Tz::UTC, "2026-01-31", "500.00", "USD"), // 60
            r("f", Tz::UTC, "2026-01-01", "600.00", "USD"), // 90
            r("g", Tz::UTC, "2025-12-31", "700.00", "USD"), // 91
            r("h", tyo, "2026-03-31", "5000", "JPY"),       // Tokyo 1 Apr: 1
            r("i", Tz::UTC, "2026-01-01", "1.250", "KWD"),  // 90
            r("z", Tz::UTC, "2026-01-01", "0", "USD"),      // nothing owed
        ];
        let names = BTreeMap::from([(AccountId::parse("b").unwrap(), "Bluefin".to_owned())]);
        let usd = Currency::parse("USD").unwrap();
        let aging = Aging::of(
            now,
            &receivables,
            &names,
            &[
                (usd, "1000.00".parse().unwrap()),
                (usd, "900.00".parse().unwrap()),
            ],
        );
        let currencies: Vec<&str> = aging
            .currencies
            .iter()
            .map(|c| c.currency.as_str())
            .collect();
        assert_eq!(currencies, ["JPY", "KWD", "USD"]);
        let usd = &aging.currencies[2];
        let totals: Vec<&str> = usd.buckets.iter().map(|b| b.total.as_str()).collect();
        assert_eq!(totals, ["150.00", "500.00", "900.00", "600.00", "700.00"]);
        assert_eq!(usd.total, "2850.00");
        assert_eq!(usd.total_shown, "2,850.00 USD");
        assert_eq!(usd.buckets[1].accounts[0].account, "c", "largest first");
        assert_eq!(usd.buckets[1].accounts[1].name, "Bluefin");
        // 2850 owed of 1900 sold in 30 days: 45 days of sales.
        assert_eq!(usd.dso.as_deref(), Some("45.0"));
        let percents: Vec<u32> = usd.buckets.iter().map(|b| b.percent).collect();
        assert_eq!(percents, [5, 18, 32, 21, 25]);
        assert_eq!(aging.currencies[0].buckets[1].total, "5000");
        assert_eq!(aging.currencies[0].dso, None, "no JPY sales");
        assert_eq!(aging.currencies[1].buckets[3].total, "1.250");
    }
}
