//! Exact money: `rust_decimal` amounts in an ISO 4217 currency whose minor
//! unit exponent (JPY 0, USD 2, KWD 3) bounds their precision.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("{0:?} is not an ISO 4217 currency code in upper case")]
    UnknownCurrency(String),
    #[error("{0:?} is not a decimal amount in major units (e.g. \"120.00\")")]
    NotDecimal(String),
    #[error("{amount:?} has more decimal places than {currency} allows ({exponent})")]
    TooPrecise {
        amount: String,
        currency: Currency,
        exponent: u32,
    },
    #[error("{0:?} is negative")]
    Negative(String),
    #[error("{minor} minor units of {currency} do not fit an amount")]
    Overflow { minor: i64, currency: Currency },
    #[error("{0:?} is larger than any invoice pastdue accepts (at most 10^15 in major units)")]
    TooLarge(String),
}

/// An ISO 4217 currency that has a minor unit (so not XAU, XXX, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    iso: iso_currency::Currency,
    exponent: u32,
}

impl Currency {
    /// Parses an upper-case ISO 4217 code such as `USD`.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let unknown = || MoneyError::UnknownCurrency(code.to_owned());
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(unknown());
        }
        let iso = iso_currency::Currency::from_code(code).ok_or_else(unknown)?;
        let exponent = iso.exponent().ok_or_else(unknown)?;
        Ok(Self {
            iso,
            exponent: u32::from(exponent),
        })
    }

    pub fn code(self) -> &'static str {
        self.iso.code()
    }

    /// Digits after the decimal point in a major-unit amount.
    pub fn exponent(self) -> u32 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(code: String) -> Result<Self, MoneyError> {
        Self::parse(&code)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

/// A non-negative amount of one currency, exact, at most as precise as the
/// currency's minor unit, and at most [`Money::MAX`] in major units (so
/// that sums over an account's invoices and payments stay far inside
/// `Decimal`'s range: it would take 10^13 of them to overflow). Stored as
/// `{"amount": "120.00", "currency": "USD"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "MoneyRepr", into = "MoneyRepr")]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// The largest amount accepted, in major units: 10^15, a thousand times
    /// the largest invoice any business issues.
    pub const MAX: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

    /// Parses a decimal string in major units (`"120.00"`, `"5000"` for JPY,
    /// `"1.250"` for KWD). No exponent notation, no sign, no grouping.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, MoneyError> {
        let well_formed = !amount.is_empty()
            && amount
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
            && amount.bytes().filter(|b| *b == b'.').count() <= 1
            && !amount.starts_with('.')
            && !amount.ends_with('.');
        let value = well_formed
            .then(|| Decimal::from_str(amount).ok())
            .flatten()
            .ok_or_else(|| MoneyError::NotDecimal(amount.to_owned()))?;
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative(amount.to_owned()));
        }
        if value.scale() > currency.exponent() {
            return Err(MoneyError::TooPrecise {
                amount: amount.to_owned(),
                currency,
                exponent: currency.exponent(),
            });
        }
        if value > Self::MAX {
            return Err(MoneyError::TooLarge(amount.to_owned()));
        }
        Ok(Self::exact(value, currency))
    }

    /// Exact conversion from processor minor units (cents, yen, fils).
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        Self::from_scaled(minor, currency.exponent(), currency)
    }

    /// Exact conversion from `minor` × 10^−`scale`, for a processor whose
    /// unit is not the currency's ISO minor unit (Stripe sends ISK in
    /// hundredths, MGA in whole ariary). An amount finer than the currency
    /// allows is [`MoneyError::TooPrecise`].
    pub fn from_scaled(minor: i64, scale: u32, currency: Currency) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative(minor.to_string()));
        }
        let amount = Decimal::try_from_i128_with_scale(i128::from(minor), scale)
            .map_err(|_| MoneyError::Overflow { minor, currency })?;
        if amount.normalize().scale() > currency.exponent() {
            return Err(MoneyError::TooPrecise {
                amount: amount.to_string(),
                currency,
                exponent: currency.exponent(),
            });
        }
        if amount > Self::MAX {
            return Err(MoneyError::TooLarge(amount.to_string()));
        }
        Ok(Self::exact(amount, currency))
    }

    fn exact(amount: Decimal, currency: Currency) -> Self {
        let mut amount = amount;
        amount.rescale(currency.exponent());
        Self { amount, currency }
    }

    pub fn amount(self) -> Decimal {
        self.amount
    }

    pub fn currency(self) -> Currency {
        self.currency
    }
}

#[derive(Serialize, Deserialize)]
struct MoneyRepr {
    amount: String,
    currency: Currency,
}

impl TryFrom<MoneyRepr> for Money {
    type Error = MoneyError;
    fn try_from(r: MoneyRepr) -> Result<Self, MoneyError> {
        Self::parse(&r.amount, r.currency)
    }
}

impl From<Money> for MoneyRepr {
    fn from(m: Money) -> Self {
        Self {
            amount: format_amount(m.amount, m.currency),
            currency: m.currency,
        }
    }
}

/// An amount written with exactly the currency's decimal places (`"-20.00"`).
pub fn format_amount(amount: Decimal, currency: Currency) -> String {
    let mut a = amount;
    a.rescale(currency.exponent());
    if a.is_zero() {
        a.set_sign_positive(true);
    }
    a.to_string()
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            format_amount(self.amount, self.currency),
            self.currency
        )
    }
}

/// An amount with its currency's decimals, grouped: `1,250.00 USD`,
/// `5,000 JPY`, `1.250 KWD`.
pub fn money(amount: &str, currency: Currency) -> String {
    let (sign, digits) = amount
        .strip_prefix('-')
        .map_or(("", amount), |rest| ("-", rest));
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped} {currency}")
    } else {
        format!("{sign}{grouped}.{frac} {currency}")
    }
}

/// The sum of `amounts` per currency, each with its decimals and grouped,
/// joined by "and".
pub fn total_of(amounts: impl Iterator<Item = (Decimal, Currency)>) -> String {
    let mut sums: std::collections::BTreeMap<&str, (Decimal, Currency)> =
        std::collections::BTreeMap::new();
    for (owed, currency) in amounts {
        let e = sums
            .entry(currency.code())
            .or_insert((Decimal::ZERO, currency));
        e.0 += owed;
    }
    sums.values()
        .map(|(sum, c)| money(&format_amount(*sum, *c), *c))
        .collect::<Vec<_>>()
        .join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_keep_their_currency_decimals_and_are_grouped() {
        let c = |s: &str| Currency::parse(s).unwrap();
        assert_eq!(money("1250.00", c("USD")), "1,250.00 USD");
        assert_eq!(money("5000", c("JPY")), "5,000 JPY");
        assert_eq!(money("1.250", c("KWD")), "1.250 KWD");
        assert_eq!(money("999", c("JPY")), "999 JPY");
        assert_eq!(money("1234567.5", c("EUR")), "1,234,567.5 EUR");
    }

    fn cur(c: &str) -> Currency {
        Currency::parse(c).unwrap()
    }

    #[test]
    fn currencies_carry_their_minor_unit() {
        assert_eq!(cur("JPY").exponent(), 0);
        assert_eq!(cur("USD").exponent(), 2);
        assert_eq!(cur("KWD").exponent(), 3);
        for bad in ["usd", "US", "USDX", "ZZZ", "XAU", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn amounts_are_exact_and_no_more_precise_than_the_currency() {
        assert_eq!(
            Money::parse("120.00", cur("USD")).unwrap().to_string(),
            "120.00 USD"
        );
        assert_eq!(
            Money::parse("120", cur("USD")).unwrap().to_string(),
            "120.00 USD"
        );
        assert_eq!(
            Money::parse("5000", cur("JPY")).unwrap().to_string(),
            "5000 JPY"
        );
        assert_eq!(
            Money::parse("1.250", cur("KWD")).unwrap().to_string(),
            "1.250 KWD"
        );
        assert!(matches!(
            Money::parse("0.1", cur("JPY")),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            Money::parse("1.2345", cur("KWD")),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            Money::parse("-5.00", cur("USD")),
            Err(MoneyError::Negative(_))
        ));
        for bad in [
            "", "abc", "1e3", "1,000.00", ".5", "5.", "1.2.3", " 1", "+1",
        ] {
            assert!(
                matches!(
                    Money::parse(bad, cur("USD")),
                    Err(MoneyError::NotDecimal(_))
                ),
                "{bad:?}"
            );
        }
        let sum = Money::parse("0.10", cur("USD")).unwrap().amount()
            + Money::parse("0.20", cur("USD")).unwrap().amount();
        assert_eq!(
            sum,
            Money::parse("0.30", cur("USD")).unwrap().amount(),
            "no float drift"
        );
    }

    #[test]
    fn minor_units_convert_exactly() {
        assert_eq!(
            Money::from_minor(12000, cur("USD")).unwrap().to_string(),
            "120.00 USD"
        );
        assert_eq!(
            Money::from_minor(5000, cur("JPY")).unwrap().to_string(),
            "5000 JPY"
        );
        assert_eq!(
            Money::from_minor(1250, cur("KWD")).unwrap().to_string(),
            "1.250 KWD"
        );
        assert!(Money::from_minor(-1, cur("USD")).is_err());
        assert_eq!(format_amount(Decimal::new(-2000, 2), cur("USD")), "-20.00");
        assert_eq!(format_amount(Decimal::ZERO, cur("KWD")), "0.000");
    }

    #[test]
    fn amounts_are_bounded_where_they_are_parsed() {
        assert_eq!(Money::MAX.to_string(), "1000000000000000");
        assert!(Money::parse("1000000000000000.00", cur("USD")).is_ok());
        assert!(matches!(
            Money::parse("1000000000000000.01", cur("USD")),
            Err(MoneyError::TooLarge(_))
        ));
        assert!(matches!(
            Money::parse("79000000000000000000000000000", cur("JPY")),
            Err(MoneyError::TooLarge(_) | MoneyError::NotDecimal(_))
        ));
        assert!(matches!(
            Money::from_minor(i64::MAX, cur("JPY")),
            Err(MoneyError::TooLarge(_))
        ));
    }
}
