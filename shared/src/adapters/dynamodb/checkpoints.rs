//! The daily run's checkpoints: `RUN#<shard>` holds the instant up to which
//! every run of that due-index shard has been evaluated.

use chrono::{DateTime, Utc};

use super::codec::{key, malformed, s, text};
use super::keys;
use super::table::DynamoStore;
use crate::ports::{RunCheckpoints, StoreError};

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
