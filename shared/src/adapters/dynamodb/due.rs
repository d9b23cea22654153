use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;
use chrono_tz::Tz;

use super::{classify, keys};
use crate::config::TableName;
use crate::domain::AccountId;
use crate::ports::receivables::{Listed, Receivables};
use crate::ports::{Candidate, DueCandidates, StoreError};

/// [`DueCandidates`] over the sparse `ByDue` index: one paginated Query per
/// shard. The index carries each account's time zone, so the run knows
/// whose run hour has come without reading the account.
#[derive(Clone, Debug)]
pub struct DynamoDueIndex {
    client: Client,
    table: TableName,
}

impl DynamoDueIndex {
    pub fn new(client: Client, table: TableName) -> Self {
        Self { client, table }
    }

    /// The query of shard `shard`'s entries, those sorting before `before`
    /// when given.
    fn shard_query(&self, shard: u16, before: Option<&str>) -> QueryFluentBuilder {
        let query = self
            .client
            .query()
            .table_name(self.table.as_str())
            .index_name(keys::DUE_INDEX)
            .expression_attribute_names("#pk", keys::GSI1_PK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::due_shard_pk(shard)));
        match before {
            Some(before) => query
                .key_condition_expression("#pk = :pk AND #sk < :before")
                .expression_attribute_names("#sk", keys::GSI1_SK)
                .expression_attribute_values(":before", AttributeValue::S(before.to_owned())),
            None => query.key_condition_expression("#pk = :pk"),
        }
    }

    async fn shard(&self, shard: u16, before: &str) -> Result<Vec<Candidate>, StoreError> {
        let mut pages = self
            .shard_query(shard, Some(before))
            .into_paginator()
            .items()
            .send();
        let mut found: BTreeMap<AccountId, Tz> = BTreeMap::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| classify("Query", e))?;
            let malformed = |reason: String| StoreError::Malformed {
                key: format!("{} item in shard {shard}", keys::DUE_INDEX),
                reason,
            };
            let pk = item
                .get(keys::PK)
                .and_then(|v| v.as_s().ok())
                .ok_or_else(|| malformed(format!("no string {}", keys::PK)))?;
            let account = keys::account_from_pk(pk)
                .ok_or_else(|| malformed(format!("{pk} is not an account partition")))?;
            let timezone = item
                .get(keys::TZ_ATTRIBUTE)
                .and_then(|v| v.as_s().ok())
                .and_then(|name| name.parse::<Tz>().ok())
                .ok_or_else(|| malformed(format!("{pk}: no valid {}", keys::TZ_ATTRIBUTE)))?;
            found.insert(account, timezone);
        }
        Ok(found
            .into_iter()
            .map(|(account, timezone)| Candidate { account, timezone })
            .collect())
    }
}

impl Receivables for DynamoDueIndex {
    async fn receivables(&self) -> Result<Vec<Listed>, StoreError> {
        let shards = (0..keys::DUE_SHARDS).map(|shard| self.listed(shard));
        let all = futures::future::try_join_all(shards).await?;
        Ok(all.into_iter().flatten().collect())
    }
}

impl DynamoDueIndex {
    /// Every invoice shard `shard` lists (card notices left out).
    async fn listed(&self, shard: u16) -> Result<Vec<Listed>, StoreError> {
        let mut pages = self
            .shard_query(shard, None)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| classify("Query", e))?;
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
            let sk = text(keys::GSI1_SK).map_or("", String::as_str);
            let (Some((due, account, invoice, owed)), Some(timezone)) = (
                keys::parse_due_sort_key(sk),
                text(keys::TZ_ATTRIBUTE).and_then(|n| n.parse::<Tz>().ok()),
            ) else {
                return Err(StoreError::Malformed {
                    key: format!("{} item {sk:?} in shard {shard}", keys::DUE_INDEX),
                    reason: "not a due-index entry".into(),
                });
            };
            if invoice != keys::CARD_SK {
                out.push(Listed {
                    account,
                    timezone,
                    due,
                    invoice: invoice.to_owned(),
                    owed,
                });
            }
        }
        Ok(out)
    }
}

impl DueCandidates for DynamoDueIndex {
    async fn due_in_shard(
        &self,
        shard: u16,
        cutoff: NaiveDate,
    ) -> Result<Vec<Candidate>, StoreError> {
        self.shard(shard, &keys::due_before(cutoff)).await
    }

    fn shards(&self) -> u16 {
        keys::DUE_SHARDS
    }
}
