//! Reading JSON objects field by field, so every error names its field.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

/// A field that is missing or malformed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("field `{field}`: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self {
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}

/// A JSON object being read.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub fn of(value: &'a Value, what: &str) -> Result<Self, FieldError> {
        value
            .as_object()
            .map(|map| Self { map })
            .ok_or_else(|| FieldError::new(what, "expected a JSON object"))
    }

    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub fn str(&self, name: &str) -> Result<&'a str, FieldError> {
        match self.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(FieldError::new(name, "expected a string")),
            None => Err(FieldError::new(name, "missing")),
        }
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>, FieldError> {
        self.get(name).map(|_| self.str(name)).transpose()
    }

    /// A required string, parsed by `parse`; its error becomes the reason.
    pub fn parsed<T, E: std::fmt::Display>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, FieldError> {
        parse(self.str(name)?).map_err(|e| FieldError::new(name, e))
    }

    pub fn opt_parsed<T, E: std::fmt::Display>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, FieldError> {
        self.opt_str(name)?
            .map(|s| parse(s).map_err(|e| FieldError::new(name, e)))
            .transpose()
    }

    pub fn date(&self, name: &str) -> Result<NaiveDate, FieldError> {
        self.parsed(name, parse_date)
    }

    pub fn instant(&self, name: &str) -> Result<DateTime<Utc>, FieldError> {
        self.parsed(name, |s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| format!("{s:?} is not an RFC 3339 instant"))
        })
    }

    pub fn int(&self, name: &str) -> Result<i64, FieldError> {
        match self.get(name) {
            Some(v) => v
                .as_i64()
                .ok_or_else(|| FieldError::new(name, "expected a whole number")),
            None => Err(FieldError::new(name, "missing")),
        }
    }

    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, FieldError> {
        match self.get(name) {
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(FieldError::new(name, "expected true or false")),
            None => Ok(None),
        }
    }

    pub fn array(&self, name: &str) -> Result<&'a [Value], FieldError> {
        match self.get(name) {
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(FieldError::new(name, "expected an array")),
            None => Err(FieldError::new(name, "missing")),
        }
    }
}

/// A `YYYY-MM-DD` calendar date.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let shaped = s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-';
    shaped
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

/// An IANA time zone name such as `America/New_York`.
pub fn parse_timezone(s: &str) -> Result<chrono_tz::Tz, String> {
    s.parse::<chrono_tz::Tz>()
        .map_err(|_| format!("{s:?} is not an IANA time zone"))
}
