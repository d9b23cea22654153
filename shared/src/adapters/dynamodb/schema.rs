//! The table schema, read from the `Table` resource of `infra/template.yaml`:
//! the template is the one definition, and the local stack and the tests
//! create their tables from it.

use std::path::Path;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use serde::Deserialize;

use super::classify;
use crate::config::TableName;
use crate::ports::StoreError;

/// The logical id of the table resource in the template.
pub const TABLE_RESOURCE: &str = "Table";

/// Why the template could not give a table schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("the template has no {TABLE_RESOURCE} resource of type AWS::DynamoDB::Table")]
    NoTable,
    #[error("the table definition is incomplete: {0}")]
    Incomplete(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Attribute {
    #[serde(rename = "AttributeName")]
    pub name: String,
    /// `S`, `N` or `B`.
    #[serde(rename = "AttributeType")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KeyElement {
    #[serde(rename = "AttributeName")]
    pub name: String,
    /// `HASH` or `RANGE`.
    #[serde(rename = "KeyType")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IndexProjection {
    #[serde(rename = "ProjectionType")]
    pub kind: String,
    #[serde(rename = "NonKeyAttributes", default)]
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Index {
    #[serde(rename = "IndexName")]
    pub name: String,
    #[serde(rename = "KeySchema")]
    pub key: Vec<KeyElement>,
    #[serde(rename = "Projection")]
    pub projection: IndexProjection,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Ttl {
    #[serde(rename = "AttributeName")]
    name: String,
    #[serde(rename = "Enabled")]
    enabled: bool,
}

#[derive(Debug, Deserialize)]
struct Properties {
    #[serde(rename = "AttributeDefinitions")]
    attributes: Vec<Attribute>,
    #[serde(rename = "KeySchema")]
    key: Vec<KeyElement>,
    #[serde(rename = "GlobalSecondaryIndexes", default)]
    indexes: Vec<Index>,
    #[serde(rename = "TimeToLiveSpecification")]
    ttl: Option<Ttl>,
}

/// Keys, indexes and TTL of the table, as the template defines them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    pub attributes: Vec<Attribute>,
    pub key: Vec<KeyElement>,
    pub indexes: Vec<Index>,
    pub ttl_attribute: Option<String>,
}

/// What [`ensure_table`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableSetup {
    Created,
    AlreadyThere,
}

impl TableSchema {
    pub fn from_template_file(path: &Path) -> Result<Self, SchemaError> {
        let text = std::fs::read_to_string(path).map_err(|source| SchemaError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_template(&text)
    }

    /// Parses a CloudFormation/SAM template. Intrinsic-function tags (`!Sub`,
    /// `!Ref`, ...) elsewhere in the template are left alone.
    pub fn from_template(text: &str) -> Result<Self, SchemaError> {
        let template: serde_yaml::Value = serde_yaml::from_str(text)?;
        let resource = template
            .get("Resources")
            .and_then(|r| r.get(TABLE_RESOURCE))
            .filter(|r| {
                r.get("Type").and_then(serde_yaml::Value::as_str) == Some("AWS::DynamoDB::Table")
            })
            .ok_or(SchemaError::NoTable)?;
        let properties = resource
            .get("Properties")
            .cloned()
            .ok_or_else(|| SchemaError::Incomplete("no Properties".into()))?;
        let p: Properties = serde_yaml::from_value(properties)?;
        let schema = Self {
            attributes: p.attributes,
            key: p.key,
            indexes: p.indexes,
            ttl_attribute: p.ttl.filter(|t| t.enabled).map(|t| t.name),
        };
        schema.check()?;
        Ok(schema)
    }

    /// Every key attribute is defined, and every definition is a key.
    fn check(&self) -> Result<(), SchemaError> {
        let keys: Vec<&str> = self
            .key
            .iter()
            .chain(self.indexes.iter().flat_map(|i| i.key.iter()))
            .map(|k| k.name.as_str())
            .collect();
        if self.key.is_empty() {
            return Err(SchemaError::Incomplete("empty KeySchema".into()));
        }
        for name in &keys {
            if !self.attributes.iter().any(|a| a.name == *name) {
                return Err(SchemaError::Incomplete(format!(
                    "key attribute {name} has no AttributeDefinitions entry"
                )));
            }
        }
        for a in &self.attributes {
            if !keys.contains(&a.name.as_str()) {
                return Err(SchemaError::Incomplete(format!(
                    "attribute {} is defined but used by no key",
                    a.name
                )));
            }
        }
        Ok(())
    }

    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indexes.iter().find(|i| i.name == name)
    }
}

fn key_elements(key: &[KeyElement]) -> Result<Vec<KeySchemaElement>, StoreError> {
    key.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.name)
                .key_type(KeyType::from(k.kind.as_str()))
                .build()
                .map_err(|e| rejected_build("KeySchemaElement", &e))
        })
        .collect()
}

fn rejected_build(what: &str, err: &dyn std::fmt::Display) -> StoreError {
    StoreError::Rejected {
        operation: "CreateTable",
        message: format!("{what}: {err}"),
    }
}

/// Creates the table from the schema if it does not exist, waits until it is
/// active, and enables TTL. Idempotent. An existing table whose keys or
/// indexes differ from the schema is an error, not silently reused.
pub async fn ensure_table(
    client: &Client,
    table: &TableName,
    schema: &TableSchema,
) -> Result<TableSetup, StoreError> {
    let attributes = schema
        .attributes
        .iter()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(&a.name)
                .attribute_type(ScalarAttributeType::from(a.kind.as_str()))
                .build()
                .map_err(|e| rejected_build("AttributeDefinition", &e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let indexes = schema
        .indexes
        .iter()
        .map(|i| {
            GlobalSecondaryIndex::builder()
                .index_name(&i.name)
                .set_key_schema(Some(key_elements(&i.key)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(i.projection.kind.as_str()))
                        .set_non_key_attributes(
                            (!i.projection.non_key_attributes.is_empty())
                                .then(|| i.projection.non_key_attributes.clone()),
                        )
                        .build(),
                )
                .build()
                .map_err(|e| rejected_build("GlobalSecondaryIndex", &e))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let exists = match client
        .describe_table()
        .table_name(table.as_str())
        .send()
        .await
    {
        Ok(_) => true,
        Err(SdkError::ServiceError(e)) if e.err().is_resource_not_found_exception() => false,
        Err(e) => return Err(classify("DescribeTable", e)),
    };
    let setup = if exists {
        TableSetup::AlreadyThere
    } else {
        let created = client
            .create_table()
            .table_name(table.as_str())
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attributes))
            .set_key_schema(Some(key_elements(&schema.key)?))
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .send()
            .await;
        match created {
            Ok(_) => TableSetup::Created,
            // Created concurrently by another setup: compare it below.
            Err(SdkError::ServiceError(e)) if e.err().is_resource_in_use_exception() => {
                TableSetup::AlreadyThere
            }
            Err(e) => return Err(classify("CreateTable", e)),
        }
    };
    wait_until_active_and_matching(client, table, schema).await?;
    if let Some(attribute) = &schema.ttl_attribute {
        enable_ttl(client, table, attribute).await?;
    }
    Ok(setup)
}

async fn wait_until_active_and_matching(
    client: &Client,
    table: &TableName,
    schema: &TableSchema,
) -> Result<(), StoreError> {
    for _ in 0..120 {
        let described = client
            .describe_table()
            .table_name(table.as_str())
            .send()
            .await
            .map_err(|e| classify("DescribeTable", e))?;
        let Some(desc) = described.table() else {
            continue;
        };
        let key_names = |k: &[KeySchemaElement]| -> Vec<(String, String)> {
            k.iter()
                .map(|e| {
                    (
                        e.attribute_name().to_owned(),
                        e.key_type().as_str().to_owned(),
                    )
                })
                .collect()
        };
        let wanted_key: Vec<(String, String)> = schema
            .key
            .iter()
            .map(|k| (k.name.clone(), k.kind.clone()))
            .collect();
        let mut have_indexes: Vec<(&str, &str)> = desc
            .global_secondary_indexes()
            .iter()
            .map(|i| {
                let projection = i
                    .projection()
                    .and_then(|p| p.projection_type())
                    .map_or("", |p| p.as_str());
                (i.index_name().unwrap_or_default(), projection)
            })
            .collect();
        have_indexes.sort_unstable();
        let mut want_indexes: Vec<(&str, &str)> = schema
            .indexes
            .iter()
            .map(|i| (i.name.as_str(), i.projection.kind.as_str()))
            .collect();
        want_indexes.sort_unstable();
        if key_names(desc.key_schema()) != wanted_key || have_indexes != want_indexes {
            return Err(StoreError::Rejected {
                operation: "CreateTable",
                message: format!(
                    "table {table} exists with other keys or indexes than infra/template.yaml \
                     (indexes {have_indexes:?}, expected {want_indexes:?}); for a local stack, \
                     recreate it: make stack-down && make stack"
                ),
            });
        }
        if desc.table_status() == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::Unavailable {
        operation: "DescribeTable",
        message: format!("table {table} did not become ACTIVE within 60 s"),
    })
}

async fn enable_ttl(client: &Client, table: &TableName, attribute: &str) -> Result<(), StoreError> {
    let current = client
        .describe_time_to_live()
        .table_name(table.as_str())
        .send()
        .await
        .map_err(|e| classify("DescribeTimeToLive", e))?;
    let on = current
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status())
        .is_some_and(|s| matches!(s, TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling));
    if on {
        return Ok(());
    }
    let spec = TimeToLiveSpecification::builder()
        .attribute_name(attribute)
        .enabled(true)
        .build()
        .map_err(|e| rejected_build("TimeToLiveSpecification", &e))?;
    client
        .update_time_to_live()
        .table_name(table.as_str())
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|e| classify("UpdateTimeToLive", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::dynamodb::keys;

    fn template() -> TableSchema {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
        TableSchema::from_template_file(&path).expect("infra/template.yaml has a table")
    }

    #[test]
    fn the_template_defines_the_keys_the_code_uses() {
        let s = template();
        let names = |k: &[KeyElement]| k.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&s.key), [keys::PK, keys::SK]);
        let due = s.index(keys::DUE_INDEX).expect("due index");
        assert_eq!(names(&due.key), [keys::GSI1_PK, keys::GSI1_SK]);
        let status = s.index(keys::STATUS_INDEX).expect("status index");
        assert_eq!(names(&status.key), [keys::GSI2_PK, keys::GSI2_SK]);
        assert_eq!(s.ttl_attribute.as_deref(), Some(keys::TTL_ATTRIBUTE));
        assert!(s.attributes.iter().all(|a| a.kind == "S"));
    }

    #[test]
    fn broken_templates_are_refused_with_a_reason() {
        assert!(matches!(
            TableSchema::from_template("Resources: {}"),
            Err(SchemaError::NoTable)
        ));
        assert!(matches!(
            TableSchema::from_template(": : :"),
            Err(SchemaError::Yaml(_))
        ));
        let undefined_key = r#"
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "x-${Stage}"
      AttributeDefinitions: [{AttributeName: PK, AttributeType: S}]
      KeySchema: [{AttributeName: PK, KeyType: HASH}, {AttributeName: SK, KeyType: RANGE}]
"#;
        let err = TableSchema::from_template(undefined_key).unwrap_err();
        assert!(err.to_string().contains("SK"), "{err}");
    }
}
