//! The runs' bookkeeping: `RUN#<shard>` holds the instant up to which every
//! run of that due-index shard has been evaluated; `FAIL#<date>` in an
//! account's partition counts failed attempts of its run of that date;
//! `RECONCILE#<processor>` is where reconciliation stands, versioned.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity, ReturnValue};
use chrono::{DateTime, NaiveDate, Utc};

use super::classify;
use super::codec::{claim_expiry, json_of, key, malformed, s, text, to_json_text};
use super::keys;
use super::table::DynamoStore;
use crate::domain::AccountId;
use crate::ports::reconcile::{Checkpoint, ReconcileCheckpoints};
use crate::ports::{RunCheckpoints, RunFailures, StoreError};

impl RunCheckpoints for DynamoStore {
    async fn checkpoint(&self, shard: u16) -> Result<Option<DateTime<Utc>>, StoreError> {
        let checkpoint = key(keys::checkpoint_pk(shard), keys::CHECKPOINT_SK);
        let Some(item) = self.get(checkpoint, None).await? else {
            return Ok(None);
        };
        let until = text(&item, keys::UNTIL)?;
        DateTime::parse_from_rfc3339(until)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| malformed(&item, format!("{}: {e}", keys::UNTIL)))
    }

    async fn advance(&self, shard: u16, to: DateTime<Utc>) -> Result<(), StoreError> {
        // RFC 3339 in UTC with fixed precision sorts as text, so the
        // condition keeps the checkpoint monotonic under concurrent runs.
        let to = to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut item = key(keys::checkpoint_pk(shard), keys::CHECKPOINT_SK);
        item.insert(keys::UNTIL.to_owned(), s(to.clone()));
        let put = self
            .put_item(item)
            .condition_expression("attribute_not_exists(#until) OR #until < :to")
            .expression_attribute_names("#until", keys::UNTIL)
            .expression_attribute_values(":to", s(to));
        // Not written: a concurrent run already moved it as far or further.
        self.put_if(put).await.map(|_| ())
    }
}

impl RunFailures for DynamoStore {
    async fn failed_attempt(
        &self,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<u32, StoreError> {
        let counter = key(keys::account_pk(account), keys::run_failure_sk(date));
        let out = self
            .client
            .update_item()
            .table_name(self.table.as_str())
            .set_key(Some(counter.clone()))
            .update_expression("ADD #attempts :one SET #ttl = :ttl")
            .expression_attribute_names("#attempts", keys::ATTEMPTS)
            .expression_attribute_names("#ttl", keys::TTL_ATTRIBUTE)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":ttl", claim_expiry())
            .return_values(ReturnValue::UpdatedNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        self.capacity.writes_of(out.consumed_capacity());
        out.attributes()
            .and_then(|a| a.get(keys::ATTEMPTS))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| malformed(&counter, "no numeric attempts"))
    }
}

impl ReconcileCheckpoints for DynamoStore {
    async fn load(&self, processor: &str) -> Result<Option<(Checkpoint, u64)>, StoreError> {
        let at = key(keys::reconcile_pk(processor), keys::RECONCILE_SK);
        let Some(item) = self.get(at, None).await? else {
            return Ok(None);
        };
        let version = item
            .get(keys::VERSION)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| malformed(&item, "no numeric version"))?;
        Ok(Some((json_of(&item)?, version)))
    }

    async fn save(
        &self,
        processor: &str,
        checkpoint: &Checkpoint,
        version: u64,
    ) -> Result<bool, StoreError> {
        let mut item = key(keys::reconcile_pk(processor), keys::RECONCILE_SK);
        item.insert(keys::DATA.to_owned(), s(to_json_text(checkpoint)?));
        item.insert(
            keys::VERSION.to_owned(),
            AttributeValue::N((version + 1).to_string()),
        );
        let put = self
            .put_item(item)
            .expression_attribute_names("#v", keys::VERSION);
        let put = if version == 0 {
            put.condition_expression("attribute_not_exists(#v)")
        } else {
            put.condition_expression("#v = :v")
                .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
        };
        self.put_if(put).await
    }
}
