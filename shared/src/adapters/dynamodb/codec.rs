//! Items as DynamoDB stores them: attribute values in and out, JSON in the
//! `data` attribute, malformed items reported with their key.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys;
use crate::ports::StoreError;

pub type Item = HashMap<String, AttributeValue>;

/// A string attribute value.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// The item's key, `PK/SK`, for error messages.
pub fn describe_key(item: &Item) -> String {
    let part = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    format!("{}/{}", part(keys::PK), part(keys::SK))
}

/// The error for an item that does not have the shape this code writes.
pub fn malformed(item: &Item, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Malformed {
        key: describe_key(item),
        reason: reason.to_string(),
    }
}

/// A string attribute the item must have.
pub fn text<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| malformed(item, format!("no string attribute {name}")))
}

/// A string attribute the item may have.
pub fn optional_text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// The JSON document in the item's `data` attribute.
pub fn json_of<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_str(text(item, keys::DATA)?).map_err(|e| malformed(item, e))
}

/// `value` as the JSON text of a `data` attribute.
pub fn to_json_text<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Malformed {
        key: "(new item)".into(),
        reason: e.to_string(),
    })
}

/// When a claim (event, delivery, announced action) may expire.
pub fn claim_expiry() -> AttributeValue {
    AttributeValue::N((Utc::now().timestamp() + keys::CLAIM_TTL_DAYS * 86_400).to_string())
}

/// RFC 3339 in UTC with milliseconds: sorts as text.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The key of the item in partition `pk` at sort key `sk`.
pub fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
}
