//! The action outbox: `ACT#` items in the account's partition, written
//! `pending` with the change that caused them and marked `announced` once
//! the bus has them.

use super::codec::{claim_expiry, json_of, key, s, text};
use super::keys;
use super::states::OutboxState;
use super::table::DynamoStore;
use crate::domain::{AccountId, ActionMessage};
use crate::ports::{Outbox, PendingAction, StoreError};

impl Outbox for DynamoStore {
    async fn pending_actions(&self, account: &AccountId) -> Result<Vec<PendingAction>, StoreError> {
        self.in_state(
            keys::account_pk(account),
            keys::ACTION_PREFIX,
            OutboxState::Pending.as_str(),
        )
        .await?
        .iter()
        .map(|item| {
            Ok(PendingAction {
                key: text(item, keys::SK)?.to_owned(),
                message: json_of::<ActionMessage>(item)?,
            })
        })
        .collect()
    }

    /// Marks an entry announced; announced entries expire like event claims
    /// (the timeline keeps the permanent record of every action).
    async fn mark_announced(&self, account: &AccountId, sk: &str) -> Result<(), StoreError> {
        self.set_attributes(
            key(keys::account_pk(account), sk),
            &[
                (keys::STATE, s(OutboxState::Announced.as_str())),
                (keys::TTL_ATTRIBUTE, claim_expiry()),
            ],
            true,
        )
        .await
    }
}
