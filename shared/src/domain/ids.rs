use std::fmt;

/// An account id as the processor names the customer (`cus_...` for
/// Stripe): 1 to 128 visible ASCII characters, none of them `#` (the table's
/// key separator).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{value:?} is not a valid {kind} id: 1 to 128 visible ASCII characters, no '#'")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
}

impl AccountId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let ok = (1..=128).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdError {
                kind: "account",
                value: raw.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_visible_ascii_without_the_key_separator() {
        assert_eq!(
            AccountId::parse("cus_Nf0aQ2").unwrap().as_str(),
            "cus_Nf0aQ2"
        );
        for bad in ["", "a#b", "with space", "tab\t", "é", &"x".repeat(129)] {
            assert!(AccountId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
