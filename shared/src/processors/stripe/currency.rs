//! Stripe's amounts: integers in Stripe's unit of each currency, which is
//! not always ISO 4217's minor unit (<https://docs.stripe.com/currencies>).
//!
//! - Zero-decimal currencies are sent in whole units: `5000` JPY is ¥5,000,
//!   and `5000` MGA is 5,000 ariary (ISO gives MGA two decimals).
//! - Three-decimal currencies (BHD, JOD, KWD, OMR, TND) are sent in
//!   thousandths.
//! - ISK and UGX are sent with two decimals although neither has a minor
//!   unit: `50000` ISK is 500 krónur; Stripe requires the last two digits
//!   to be zero.
//! - HUF and TWD are two-decimal in the API (their payouts are whole, which
//!   does not change what an invoice says is owed).
//! - Every other currency has two decimals.

use crate::domain::fields::FieldError;
use crate::domain::{Currency, Money};

/// Stripe's zero-decimal currencies, as its currency list names them
/// (UGX is listed there, but sent with two decimals: see the module note).
const ZERO_DECIMAL: [&str; 15] = [
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF",
    "XOF", "XPF",
];

const THREE_DECIMAL: [&str; 5] = ["BHD", "JOD", "KWD", "OMR", "TND"];

/// Digits after the decimal point in Stripe's integer amounts of `code`.
pub fn stripe_scale(code: &str) -> u32 {
    if ZERO_DECIMAL.contains(&code) {
        0
    } else if THREE_DECIMAL.contains(&code) {
        3
    } else {
        2
    }
}

/// The exact amount Stripe means by `amount` of lower-case `currency`;
/// `field` names the amount in errors.
pub fn stripe_money(amount: i64, currency: &str, field: &str) -> Result<Money, FieldError> {
    let code = currency.to_ascii_uppercase();
    let currency =
        Currency::parse(&code).map_err(|e| FieldError::new("data.object.currency", e))?;
    Money::from_scaled(amount, stripe_scale(&code), currency)
        .map_err(|e| FieldError::new(format!("data.object.{field}"), e))
}

#[cfg(test)]
mod tests {
    use super::stripe_money;

    fn major(amount: i64, currency: &str) -> String {
        stripe_money(amount, currency, "amount")
            .map(|m| m.amount().to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn amounts_follow_stripes_unit_of_each_currency() {
        assert_eq!(major(12000, "usd"), "120.00");
        assert_eq!(major(5000, "jpy"), "5000");
        assert_eq!(major(5000, "mga"), "5000.00", "zero-decimal in Stripe");
        assert_eq!(major(1250, "kwd"), "1.250");
        assert_eq!(major(50000, "isk"), "500", "ISK comes in hundredths");
        assert_eq!(major(370000, "ugx"), "3700", "so does UGX");
        assert_eq!(major(150000, "huf"), "1500.00");
        assert_eq!(major(99950, "twd"), "999.50");
        assert!(major(50050, "isk").starts_with("error"), "half a króna");
        assert!(major(-1, "usd").starts_with("error"));
        assert!(major(100, "zzz").contains("currency"));
    }
}
