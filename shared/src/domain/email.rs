use std::fmt;

use serde::{Deserialize, Serialize};

/// An email address that has passed [`EmailAddress::parse`]: one `@`, a
/// non-empty local part, a dotted domain, no white space or control
/// characters, at most 254 characters. The domain is kept in lower case.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;
    fn try_from(raw: String) -> Result<Self, EmailError> {
        Self::parse(&raw)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> String {
        e.0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{value:?} is not an email address: {reason}")]
pub struct EmailError {
    pub value: String,
    pub reason: &'static str,
}

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let fail = |reason| EmailError {
            value: raw.to_owned(),
            reason,
        };
        let raw = raw.trim();
        if raw.len() > 254 {
            return Err(fail("longer than 254 characters"));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(fail("contains white space or control characters"));
        }
        let (local, domain) = raw.rsplit_once('@').ok_or_else(|| fail("no @"))?;
        if local.is_empty() || local.contains('@') {
            return Err(fail("the part before @ must be non-empty and hold no @"));
        }
        let labels_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if !domain.contains('.') || !labels_ok {
            return Err(fail(
                "the domain must be dotted labels of letters, digits and -",
            ));
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `raw` with only ASCII letters, digits, `_`, `-`, `.` and `@` kept (the
/// rest become `_`): what SES accepts as a tag value, and safe to log.
pub fn tag_value(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_lowercases_the_domain() {
        let e = EmailAddress::parse("Dana.Whitfield@Whitfield.Example").unwrap();
        assert_eq!(e.as_str(), "Dana.Whitfield@whitfield.example");
        assert!(EmailAddress::parse("billing+ops@pastdue.example").is_ok());
    }

    #[test]
    fn rejects_what_cannot_receive_mail() {
        for bad in [
            "",
            "dana",
            "@x.example",
            "dana@",
            "dana@localhost",
            "a b@x.example",
            "a@b@x.example",
            "a@x..example",
            "a@x_y.example",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(EmailAddress::parse(&format!("{}@x.example", "a".repeat(250))).is_err());
    }
}
