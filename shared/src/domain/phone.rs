//! A contact's phone number, in E.164: `+`, the country code and the
//! number, 8 to 15 digits in all (ITU-T E.164 allows at most 15). Written
//! the way people write numbers (`+1 (555) 010-0199`), it is kept in the
//! one form a phone system dials (`+15550100199`).

use serde::{Deserialize, Serialize};

/// A phone number in E.164.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{raw:?} is not a phone number in E.164: {why}; write it as + and the country code, e.g. +15550100199"
)]
pub struct PhoneError {
    raw: String,
    why: &'static str,
}

impl Phone {
    /// Reads `raw`, allowing the spaces, dots, dashes and parentheses
    /// people group digits with.
    pub fn parse(raw: &str) -> Result<Self, PhoneError> {
        let error = |why| PhoneError {
            raw: raw.chars().take(40).collect(),
            why,
        };
        let trimmed = raw.trim();
        let Some(rest) = trimmed.strip_prefix('+') else {
            return Err(error("it does not start with +"));
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(error("it has characters other than digits")),
            }
        }
        if digits.starts_with('0') {
            return Err(error("no country code starts with 0"));
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(error("it must have 8 to 15 digits"));
        }
        Ok(Self(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> Self {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_people_write_them_are_kept_in_e164() {
        for (raw, e164) in [
            ("+15550100199", "+15550100199"),
            ("+1 (555) 010-0199", "+15550100199"),
            (" +44 20 7946 0958 ", "+442079460958"),
            ("+81.3.1234.5678", "+81312345678"),
        ] {
            assert_eq!(Phone::parse(raw).unwrap().as_str(), e164);
        }
    }

    #[test]
    fn anything_else_is_a_clear_error() {
        for (raw, why) in [
            ("555-0199", "does not start with +"),
            ("+1 555 CALL NOW", "other than digits"),
            ("+0 20 7946 0958", "country code"),
            ("+1234567", "8 to 15 digits"),
            ("+1234567890123456", "8 to 15 digits"),
            ("", "does not start with +"),
        ] {
            let e = Phone::parse(raw).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("E.164"), "{raw:?}: {e}");
        }
    }
}
