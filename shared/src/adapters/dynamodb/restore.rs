//! Restoring accounts from an export as a whole (`pastdue import
//! --restore`): each account in the file comes back exactly as it was
//! backed up, whatever the table holds for it now (a damaged item, a lost
//! one, later changes). `pastdue import` without `--restore` only adds what
//! is missing.
//!
//! For each account partition in the file:
//! - its state and invoices are written as backed up, over what is there;
//!   the state's version becomes one past both the table's and the
//!   backup's, so later commits never reuse a timeline or outbox key;
//! - invoices and event claims the table has but the backup does not are
//!   removed: they belong to changes the restored state does not contain,
//!   and a claim left behind would refuse the replay of its event as a
//!   duplicate. Replay the events since the backup to bring it up to date;
//! - the outbox is never republished: backed-up entries are written
//!   announced, and entries the table holds pending are marked announced
//!   (their actions came from the state being replaced);
//! - the timeline is kept, backed-up entries added where missing, and one
//!   entry records the restore.
//!
//! Other partitions (payment links, the mail log) are only added where
//! missing: what the table holds there is newer, never less true.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::classify;
use super::codec::{Item, claim_expiry, key, malformed, s, text, to_json_text};
use super::keys;
use super::states::OutboxState;
use super::table::DynamoStore;
use crate::domain::TimelineEntry;
use crate::ports::StoreError;

/// What a restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Restored {
    /// Accounts restored as a whole.
    pub accounts: usize,
    /// Items written (state, invoices, claims, outbox, timeline, links, mail log).
    pub written: usize,
    /// Invoices and event claims removed because the backup does not have them.
    pub removed: usize,
    /// Outbox entries that were pending (in the backup or the table) and are
    /// now marked announced, so nothing is published again.
    pub not_republished: usize,
}

fn sk_of(item: &Item) -> Result<&str, StoreError> {
    text(item, keys::SK)
}

fn version_of(items: &[Item]) -> Result<u64, StoreError> {
    for item in items {
        if sk_of(item)? == keys::STATE_SK {
            return item
                .get(keys::VERSION)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| malformed(item, "no numeric version"));
        }
    }
    Ok(0)
}

impl DynamoStore {
    /// Restores every account in `items` (from [`Self::export_items`]) as a
    /// whole; `recorded_at` dates the timeline entry of each restore.
    pub async fn restore_items(
        &self,
        items: Vec<Item>,
        recorded_at: DateTime<Utc>,
    ) -> Result<Restored, StoreError> {
        let mut partitions: BTreeMap<String, Vec<Item>> = BTreeMap::new();
        for item in items {
            let pk = text(&item, keys::PK)?.to_owned();
            partitions.entry(pk).or_default().push(item);
        }
        let mut done = Restored::default();
        for (pk, backup) in partitions {
            if pk.starts_with(keys::ACCOUNT_PREFIX) {
                self.restore_account(&pk, backup, recorded_at, &mut done)
                    .await?;
                done.accounts += 1;
            } else {
                for item in backup {
                    done.written += usize::from(self.put_if_absent(item).await?);
                }
            }
        }
        Ok(done)
    }

    async fn restore_account(
        &self,
        pk: &str,
        backup: Vec<Item>,
        recorded_at: DateTime<Utc>,
        done: &mut Restored,
    ) -> Result<(), StoreError> {
        let current = self.query_partition(pk.to_owned(), None).await?;
        let version = version_of(&current)?.max(version_of(&backup)?) + 1;
        let kept: BTreeSet<String> = backup
            .iter()
            .map(|i| sk_of(i).map(str::to_owned))
            .collect::<Result<_, _>>()?;
        for item in &current {
            let sk = sk_of(item)?;
            let derived =
                sk.starts_with(keys::INVOICE_PREFIX) || sk.starts_with(keys::CLAIM_PREFIX);
            if derived && !kept.contains(sk) {
                self.delete(key(pk.to_owned(), sk)).await?;
                done.removed += 1;
            } else if sk.starts_with(keys::ACTION_PREFIX)
                && !kept.contains(sk)
                && item.get(keys::STATE) == Some(&s(OutboxState::Pending.as_str()))
            {
                self.overwrite(announced(item.clone())).await?;
                done.not_republished += 1;
            }
        }
        let mut backed_up_at = None;
        for mut item in backup {
            let sk = sk_of(&item)?.to_owned();
            if sk == keys::STATE_SK {
                item.insert(
                    keys::VERSION.to_owned(),
                    AttributeValue::N(version.to_string()),
                );
                self.overwrite(item).await?;
            } else if sk.starts_with(keys::INVOICE_PREFIX) || sk.starts_with(keys::CLAIM_PREFIX) {
                self.overwrite(item).await?;
            } else if sk.starts_with(keys::ACTION_PREFIX) {
                if item.get(keys::STATE) == Some(&s(OutboxState::Pending.as_str())) {
                    done.not_republished += 1;
                }
                self.overwrite(announced(item)).await?;
            } else if sk.starts_with(keys::TIMELINE_PREFIX) {
                backed_up_at = backed_up_at.max(Some(sk.clone()));
                if !self.put_if_absent(item).await? {
                    continue;
                }
            } else {
                // Run-failure counters and anything else bookkeeping: not
                // part of an account's standing.
                continue;
            }
            done.written += 1;
        }
        let entry = TimelineEntry::account(
            recorded_at,
            "restored from a backup: replay the events since it to bring the account up to date"
                .to_owned(),
            json!({"version": version, "last_backed_up_entry": backed_up_at}),
        );
        let mut note = key(pk.to_owned(), keys::timeline_sk(version, 0));
        note.insert(keys::DATA.to_owned(), s(to_json_text(&entry)?));
        self.overwrite(note).await?;
        done.written += 1;
        Ok(())
    }

    async fn overwrite(&self, item: Item) -> Result<(), StoreError> {
        let out = self
            .put_item(item)
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        self.capacity.writes_of(out.consumed_capacity());
        Ok(())
    }

    async fn delete(&self, item_key: Item) -> Result<(), StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(self.table.as_str())
            .set_key(Some(item_key))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        self.capacity.writes_of(out.consumed_capacity());
        Ok(())
    }
}

/// An outbox entry marked announced: it is never published again, and
/// expires like announced entries do.
fn announced(mut item: Item) -> Item {
    item.insert(keys::STATE.to_owned(), s(OutboxState::Announced.as_str()));
    item.insert(keys::TTL_ATTRIBUTE.to_owned(), claim_expiry());
    item
}
