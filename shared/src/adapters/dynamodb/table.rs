//! The store and its few DynamoDB calls: paged queries, conditional puts,
//! `SET` updates and consistent gets, each metering its capacity. The
//! concerns built on them (accounts, deliveries, links, outbox, checkpoints,
//! mail log, operator reads) are the sibling files.

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};

use super::capacity::Capacity;
use super::classify;
use super::codec::{Item, s};
use super::keys;
use crate::config::TableName;
use crate::domain::Policy;
use crate::ports::StoreError;

/// The store. Clients and policy are built once at init and shared.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    pub(super) client: Client,
    pub(super) table: TableName,
    /// Decides which invoices the due index lists (`min_balance`).
    pub(super) policy: Arc<Policy>,
    pub(super) capacity: Arc<Capacity>,
}

impl DynamoStore {
    pub fn new(client: Client, table: TableName, policy: impl Into<Arc<Policy>>) -> Self {
        Self {
            client,
            table,
            policy: policy.into(),
            capacity: Arc::new(Capacity::default()),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The policy, shared (for the services built over this store).
    pub fn shared_policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy)
    }

    /// Capacity consumed by this store's calls so far.
    pub fn capacity(&self) -> &Capacity {
        &self.capacity
    }

    /// Every item of partition `pk`, or those with `lo <= SK <= hi`,
    /// read consistently.
    pub(super) async fn query_partition(
        &self,
        pk: String,
        between: Option<(&str, &str)>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(self.table.as_str())
            .consistent_read(true)
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":pk", s(pk));
        query = match between {
            Some((lo, hi)) => query
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_values(":lo", s(lo))
                .expression_attribute_values(":hi", s(hi)),
            None => query.key_condition_expression("#pk = :pk"),
        };
        self.all_pages(query).await
    }

    /// Every entry of the status index's partition `pk` (keys and `name`).
    pub(super) async fn status_index_partition(&self, pk: String) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(self.table.as_str())
            .index_name(keys::STATUS_INDEX)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::GSI2_PK)
            .expression_attribute_values(":pk", s(pk));
        self.all_pages(query).await
    }

    /// Every item a query returns, page by page, its read capacity counted.
    pub(super) async fn all_pages(
        &self,
        query: QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut pages = query
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .into_paginator()
            .send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("Query", e))?;
            self.capacity.reads_of(page.consumed_capacity());
            items.extend(page.items().iter().cloned());
        }
        Ok(items)
    }

    /// The items of partition `pk` whose sort key starts with `prefix` and
    /// whose `state` is `state`, read consistently.
    pub(super) async fn in_state(
        &self,
        pk: String,
        prefix: &str,
        state: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(self.table.as_str())
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .filter_expression("#state = :state")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_names("#state", keys::STATE)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .expression_attribute_values(":state", s(state));
        self.all_pages(query).await
    }

    /// A put builder for this table.
    pub(super) fn put_item(&self, item: Item) -> PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(self.table.as_str())
            .set_item(Some(item))
    }

    /// A conditional put: `Ok(false)` when its condition did not hold.
    pub(super) async fn put_if(&self, put: PutItemFluentBuilder) -> Result<bool, StoreError> {
        match put
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(out) => {
                self.capacity.writes_of(out.consumed_capacity());
                Ok(true)
            }
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    /// Puts `item` unless an item with its key exists: `Ok(false)` then.
    pub(super) async fn put_if_absent(&self, item: Item) -> Result<bool, StoreError> {
        let put = self
            .put_item(item)
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK);
        self.put_if(put).await
    }

    /// Sets attributes of the item at `key` (`UpdateItem … SET`), which
    /// must exist when `must_exist`.
    pub(super) async fn set_attributes(
        &self,
        key: Item,
        set: &[(&str, AttributeValue)],
        must_exist: bool,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(self.table.as_str())
            .set_key(Some(key))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        if must_exist {
            update = update
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", keys::PK);
        }
        let mut parts = Vec::with_capacity(set.len());
        for (i, (name, value)) in set.iter().enumerate() {
            parts.push(format!("#a{i} = :v{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), *name)
                .expression_attribute_values(format!(":v{i}"), value.clone());
        }
        let out = update
            .update_expression(format!("SET {}", parts.join(", ")))
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        self.capacity.writes_of(out.consumed_capacity());
        Ok(())
    }

    /// The item at `key`, read consistently, with only `projection` when
    /// given.
    pub(super) async fn get(
        &self,
        key: Item,
        projection: Option<&str>,
    ) -> Result<Option<Item>, StoreError> {
        let mut get = self
            .client
            .get_item()
            .table_name(self.table.as_str())
            .set_key(Some(key))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        if let Some(attribute) = projection {
            get = get
                .projection_expression("#p")
                .expression_attribute_names("#p", attribute);
        }
        let out = get.send().await.map_err(|e| classify("GetItem", e))?;
        self.capacity.reads_of(out.consumed_capacity());
        Ok(out.item)
    }
}
