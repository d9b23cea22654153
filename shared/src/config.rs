//! Settings read from the environment once, at init.
//!
//! Endpoints are never configured here: the AWS SDK's standard configuration
//! (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SESV2`, `AWS_REGION`, ...)
//! decides where requests go, locally and in AWS alike.

use std::fmt;

/// A setting that is missing or malformed. Never retryable: the function
/// cannot start until its configuration is fixed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {name} is not set")]
    Missing { name: &'static str },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Reads a required environment variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::Missing { name }),
    }
}

/// A DynamoDB table name, as DynamoDB accepts them: 3 to 255 characters of
/// `a-z A-Z 0-9 _ - .`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableName(String);

impl TableName {
    pub const ENV: &'static str = "TABLE_NAME";

    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok_len = (3..=255).contains(&raw.len());
        let ok_chars = raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if ok_len && ok_chars {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "{raw:?} is not a DynamoDB table name (3-255 characters of a-z A-Z 0-9 _ - .)"
            ))
        }
    }

    /// Reads `TABLE_NAME`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let raw = required(Self::ENV)?;
        Self::parse(&raw).map_err(|reason| ConfigError::Invalid {
            name: Self::ENV,
            reason,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_follow_dynamodb_rules() {
        assert!(TableName::parse("pastdue-local").is_ok());
        assert!(TableName::parse("a.b_c-1").is_ok());
        assert!(TableName::parse("ab").is_err());
        assert!(TableName::parse("has space").is_err());
        assert!(TableName::parse("semi;colon").is_err());
        assert!(TableName::parse(&"x".repeat(256)).is_err());
    }
}
