//! Identifier newtypes. Each is 1 to its limit of visible ASCII characters
//! with no `#` (the table's key separator); processor ids (`cus_…`, `in_…`,
//! `pi_…`, `evt_…`) all fit.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{value:?} is not a valid {kind} id: 1 to {max} visible ASCII characters, no '#'")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
    pub max: usize,
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;

            pub fn parse(raw: &str) -> Result<Self, IdError> {
                let ok = (1..=Self::MAX_LEN).contains(&raw.len())
                    && raw.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
                if ok {
                    Ok(Self(raw.to_owned()))
                } else {
                    Err(IdError { kind: $kind, value: raw.to_owned(), max: Self::MAX_LEN })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(raw: String) -> Result<Self, IdError> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

string_id!(
    /// A customer account, as the processor names the customer.
    AccountId, "account", 128
);
string_id!(
    /// A canonical event; a repeated id is a duplicate.
    EventId, "event", 255
);
string_id!(InvoiceId, "invoice", 255);
string_id!(PaymentId, "payment", 255);
string_id!(RefundId, "refund", 255);
string_id!(DisputeId, "dispute", 255);
string_id!(CardId, "card", 255);
string_id!(
    /// A direct-debit mandate (GoCardless `MD…`, namespaced).
    MandateId, "mandate", 255
);

/// The payment-link key that finds the account of an invoice (written when
/// the invoice is first issued), for a processor whose payments name only
/// their invoice. Prefixed so it never meets a payment or charge id.
pub fn invoice_link_key(invoice: &str) -> String {
    format!("invoice:{invoice}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_visible_ascii_without_the_key_separator() {
        assert_eq!(
            AccountId::parse("cus_Nf0aQ2").unwrap().as_str(),
            "cus_Nf0aQ2"
        );
        for bad in ["", "a#b", "with space", "tab\t", "é", &"x".repeat(129)] {
            assert!(AccountId::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(EventId::parse(&"x".repeat(255)).is_ok());
        let err = InvoiceId::parse("in 1").unwrap_err();
        assert_eq!(err.kind, "invoice");
    }

    #[test]
    fn ids_round_trip_through_json_and_refuse_bad_values() {
        let id: PaymentId = serde_json::from_str("\"pi_1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"pi_1\"");
        assert!(serde_json::from_str::<PaymentId>("\"a#b\"").is_err());
    }
}
