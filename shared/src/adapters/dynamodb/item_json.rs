//! DynamoDB items as DynamoDB JSON (`{"PK": {"S": "ACCT#a"}, ...}`), the
//! lossless line format of `pastdue export` and `pastdue import`.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value, json};

pub use super::codec::Item;

pub fn to_json(item: &Item) -> Value {
    let mut keys: Vec<&String> = item.keys().collect();
    keys.sort();
    Value::Object(
        keys.into_iter()
            .map(|k| (k.clone(), value_to_json(&item[k])))
            .collect(),
    )
}

fn value_to_json(v: &AttributeValue) -> Value {
    use base64::Engine as _;
    let b64 = |b: &Blob| base64::engine::general_purpose::STANDARD.encode(b.as_ref());
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::Ss(v) => json!({"SS": v}),
        AttributeValue::Ns(v) => json!({"NS": v}),
        AttributeValue::B(b) => json!({"B": b64(b)}),
        AttributeValue::Bs(v) => json!({"BS": v.iter().map(b64).collect::<Vec<_>>()}),
        AttributeValue::L(l) => json!({"L": l.iter().map(value_to_json).collect::<Vec<_>>()}),
        AttributeValue::M(m) => {
            let inner: Map<String, Value> = m
                .iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect();
            json!({"M": inner})
        }
        _ => Value::Null,
    }
}

/// Reads one exported item; the error says what is wrong with it.
pub fn from_json(value: &Value) -> Result<Item, String> {
    let map = value.as_object().ok_or("an item must be a JSON object")?;
    map.iter()
        .map(|(k, v)| {
            value_from_json(v)
                .map(|v| (k.clone(), v))
                .map_err(|e| format!("attribute {k}: {e}"))
        })
        .collect()
}

fn value_from_json(v: &Value) -> Result<AttributeValue, String> {
    use base64::Engine as _;
    let obj = v
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or("expected {\"<type>\": value}")?;
    let (kind, inner) = obj.iter().next().ok_or("empty attribute")?;
    let strings = |inner: &Value| -> Result<Vec<String>, String> {
        inner
            .as_array()
            .ok_or("expected an array")?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "expected strings".to_owned())
            })
            .collect()
    };
    let blob = |s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(Blob::new)
            .map_err(|e| e.to_string())
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str().ok_or("S must be a string")?.to_owned()),
        "N" => AttributeValue::N(inner.as_str().ok_or("N must be a string")?.to_owned()),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or("BOOL must be true or false")?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "B" => AttributeValue::B(blob(inner.as_str().ok_or("B must be base64")?)?),
        "BS" => AttributeValue::Bs(
            strings(inner)?
                .iter()
                .map(|s| blob(s))
                .collect::<Result<_, _>>()?,
        ),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or("L must be an array")?
                .iter()
                .map(value_from_json)
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(
            inner
                .as_object()
                .ok_or("M must be an object")?
                .iter()
                .map(|(k, v)| value_from_json(v).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("unknown attribute type {other}")),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn items_round_trip() {
        let item: Item = HashMap::from([
            ("PK".into(), AttributeValue::S("ACCT#a".into())),
            ("version".into(), AttributeValue::N("3".into())),
            ("flag".into(), AttributeValue::Bool(true)),
            (
                "nested".into(),
                AttributeValue::M(HashMap::from([(
                    "l".into(),
                    AttributeValue::L(vec![
                        AttributeValue::Null(true),
                        AttributeValue::Ss(vec!["x".into()]),
                    ]),
                )])),
            ),
            ("blob".into(), AttributeValue::B(Blob::new(vec![0, 1, 255]))),
        ]);
        assert_eq!(from_json(&to_json(&item)).unwrap(), item);
        assert!(
            from_json(&json!({"PK": {"Q": "x"}}))
                .unwrap_err()
                .contains("PK")
        );
        assert!(from_json(&json!([1])).is_err());
    }
}
