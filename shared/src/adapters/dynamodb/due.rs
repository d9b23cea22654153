use std::collections::BTreeSet;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;
use futures::future::try_join_all;

use super::{classify, keys};
use crate::config::TableName;
use crate::domain::AccountId;
use crate::ports::{DueCandidates, StoreError};

/// [`DueCandidates`] over the sparse `ByDue` index: one paginated Query per
/// shard, all shards at once (the fan-out is bounded by `DUE_SHARDS`).
#[derive(Clone, Debug)]
pub struct DynamoDueIndex {
    client: Client,
    table: TableName,
}

impl DynamoDueIndex {
    pub fn new(client: Client, table: TableName) -> Self {
        Self { client, table }
    }

    async fn shard(&self, shard: u16, before: &str) -> Result<Vec<AccountId>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(self.table.as_str())
            .index_name(keys::DUE_INDEX)
            .key_condition_expression("#pk = :pk AND #sk < :before")
            .expression_attribute_names("#pk", keys::GSI1_PK)
            .expression_attribute_names("#sk", keys::GSI1_SK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::due_shard_pk(shard)))
            .expression_attribute_values(":before", AttributeValue::S(before.to_owned()))
            .into_paginator()
            .items()
            .send();
        let mut accounts = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| classify("Query", e))?;
            let pk = item
                .get(keys::PK)
                .and_then(|v| v.as_s().ok())
                .ok_or_else(|| StoreError::Malformed {
                    key: format!("{} item in shard {shard}", keys::DUE_INDEX),
                    reason: format!("no string {}", keys::PK),
                })?;
            let account = keys::account_from_pk(pk).ok_or_else(|| StoreError::Malformed {
                key: pk.clone(),
                reason: "due-index entry outside an account partition".into(),
            })?;
            accounts.push(account);
        }
        Ok(accounts)
    }
}

impl DueCandidates for DynamoDueIndex {
    async fn accounts_due_before(&self, cutoff: NaiveDate) -> Result<Vec<AccountId>, StoreError> {
        let before = keys::due_before(cutoff);
        let shards = (0..keys::DUE_SHARDS).map(|shard| self.shard(shard, &before));
        let found: BTreeSet<AccountId> =
            try_join_all(shards).await?.into_iter().flatten().collect();
        Ok(found.into_iter().collect())
    }
}
