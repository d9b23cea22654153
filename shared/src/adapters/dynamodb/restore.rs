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
//! - what the account announced after the backup (its `ACT#` entries above
//!   the backup's version) stays done: the restored state takes the latest
//!   status and the ladder steps fired since, so nothing is sent twice;
//! - the timeline is kept, backed-up entries added where missing, and one
//!   entry records the restore.
//! - the state is written first, conditional on the version read: a change
//!   committed meanwhile stops that account's restore untouched (run it
//!   again). Events arriving during a restore are best replayed after it.
//!
//! Other partitions (payment links, the mail log) are only added where
//! missing: what the table holds there is newer, never less true.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::attention::DISPUTE_PREFIX;
use super::classify;
use super::codec::{Item, claim_expiry, json_of, key, s, text, to_json_text};
use super::keys;
use super::states::OutboxState;
use super::table::DynamoStore;
use crate::domain::restored::carry_forward;
use crate::domain::{AccountState, ActionMessage, TimelineEntry};
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

/// The highest account version `items` show: the state's, or any timeline
/// or outbox key's (a damaged state item may have lost its version, and
/// a key written at a version must never be written again).
fn version_of(items: &[Item]) -> Result<u64, StoreError> {
    let mut highest = 0;
    for item in items {
        let sk = sk_of(item)?;
        let version = if sk == keys::STATE_SK {
            item.get(keys::VERSION)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
        } else {
            keys::version_in_sk(sk)
        };
        highest = highest.max(version.unwrap_or(0));
    }
    Ok(highest)
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
        let backup_version = version_of(&backup)?;
        let version = version_of(&current)?.max(backup_version) + 1;
        let kept: BTreeSet<String> = backup
            .iter()
            .map(|i| sk_of(i).map(str::to_owned))
            .collect::<Result<_, _>>()?;
        // What the account announced after the backup stays done.
        let mut later = Vec::new();
        for item in &current {
            let sk = sk_of(item)?;
            if sk.starts_with(keys::ACTION_PREFIX)
                && keys::version_in_sk(sk).is_some_and(|v| v > backup_version)
                && let Ok(message) = json_of::<ActionMessage>(item)
            {
                later.push(message);
            }
        }
        // The state first, fenced on the one read: a change committed since
        // makes this account's restore stop before it touches anything else.
        let mut restored: Option<AccountState> = None;
        if let Some(mut state_item) = backup
            .iter()
            .find(|i| sk_of(i).is_ok_and(|sk| sk == keys::STATE_SK))
            .cloned()
        {
            let mut state = json_of::<AccountState>(&state_item)?;
            carry_forward(&mut state, &later, self.policy());
            restored = Some(state.clone());
            state_item.insert(keys::DATA.to_owned(), s(to_json_text(&state)?));
            state_item.insert(keys::STATUS.to_owned(), s(state.status.as_str()));
            state_item.insert(
                keys::GSI2_PK.to_owned(),
                s(keys::status_pk(state.status.as_str())),
            );
            state_item.insert(
                keys::VERSION.to_owned(),
                AttributeValue::N(version.to_string()),
            );
            let read = current
                .iter()
                .find(|i| sk_of(i).is_ok_and(|sk| sk == keys::STATE_SK))
                .map(|i| i.get(keys::VERSION).cloned());
            let mut put = self.put_item(state_item);
            put = match read {
                Some(Some(v)) => put
                    .condition_expression("#v = :read")
                    .expression_attribute_names("#v", keys::VERSION)
                    .expression_attribute_values(":read", v),
                Some(None) => put
                    .condition_expression("attribute_not_exists(#v)")
                    .expression_attribute_names("#v", keys::VERSION),
                None => put
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", keys::PK),
            };
            if !self.put_if(put).await? {
                return Err(StoreError::Unavailable {
                    operation: "PutItem",
                    message: format!(
                        "{pk} changed while it was being restored: run the restore again"
                    ),
                });
            }
            done.written += 1;
        }
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
        // The open-dispute listings follow the restored state, not the
        // table's nor the backup's.
        if let Some(state) = &restored {
            let listed = Self::dispute_items(state)?;
            for item in &current {
                let sk = sk_of(item)?;
                if sk.starts_with(DISPUTE_PREFIX) && !listed.contains_key(sk) {
                    self.overwrite(key(pk.to_owned(), sk)).await?;
                }
            }
            for item in listed.into_values() {
                self.overwrite(item).await?;
                done.written += 1;
            }
            // So does the account's contacts' email links: a PayPal or
            // GoCardless customer finds the restored account.
            for item in super::links::email_link_items(None, &state.account) {
                self.overwrite(item).await?;
                done.written += 1;
            }
        }
        let mut backed_up_at = None;
        for item in backup {
            let sk = sk_of(&item)?.to_owned();
            if sk == keys::STATE_SK {
                // Written first, above.
                continue;
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

    pub(super) async fn overwrite(&self, item: Item) -> Result<(), StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sk: &str, version: Option<&str>) -> Item {
        let mut item = key("ACCT#a".into(), sk);
        if let Some(v) = version {
            item.insert(keys::VERSION.to_owned(), AttributeValue::N(v.into()));
        }
        item
    }

    #[test]
    fn the_version_comes_from_the_state_or_any_key_written_at_one() {
        let damaged = [
            item(keys::STATE_SK, Some("not a number")),
            item(&keys::timeline_sk(41, 0), None),
            item(&keys::action_sk(40, 1), None),
            item("INV#in_1", None),
        ];
        assert_eq!(version_of(&damaged).unwrap(), 41);
        assert_eq!(version_of(&[item(keys::STATE_SK, Some("7"))]).unwrap(), 7);
        assert_eq!(version_of(&[]).unwrap(), 0);
    }
}
