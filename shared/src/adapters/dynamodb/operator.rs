//! What operators read and back up: an account's timeline, accounts by
//! status (through the status index: no scan), and every item of every
//! account for exports and restores.

use serde::Serialize;

use super::codec::{Item, json_of, malformed, text};
use super::keys;
use super::links::link_item;
use super::table::DynamoStore;
use crate::domain::{AccountId, Status, TimelineEntry, invoice_link_key};
use crate::ports::StoreError;

/// Restores write this many items at once.
const IMPORT_CONCURRENCY: usize = 16;

/// An account as the status index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountSummary {
    pub id: AccountId,
    pub name: String,
    pub status: Status,
}

impl DynamoStore {
    /// The account's audit timeline, oldest first.
    pub async fn timeline(&self, account: &AccountId) -> Result<Vec<TimelineEntry>, StoreError> {
        let lo = keys::TIMELINE_PREFIX;
        let hi = format!("{}~", keys::TIMELINE_PREFIX);
        let items = self
            .query_partition(keys::account_pk(account), Some((lo, &hi)))
            .await?;
        items.iter().map(json_of::<TimelineEntry>).collect()
    }

    /// Accounts by status (all statuses when `None`), through the status
    /// index: no scan.
    pub async fn list(&self, status: Option<Status>) -> Result<Vec<AccountSummary>, StoreError> {
        let statuses = match status {
            Some(s) => vec![s],
            None => vec![Status::Active, Status::Suspended, Status::Cancelled],
        };
        let mut out = Vec::new();
        for status in statuses {
            let listed = self
                .status_index_partition(keys::status_pk(status.as_str()))
                .await?;
            for item in &listed {
                let id =
                    AccountId::parse(text(item, keys::GSI2_SK)?).map_err(|e| malformed(item, e))?;
                let name = text(item, keys::NAME)?.to_owned();
                out.push(AccountSummary { id, name, status });
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Every item of every account (state, invoices, claims, timeline), its
    /// payment links and its mail log, for backups and migrations. Reads
    /// partitions found through the status index: no scan.
    pub async fn export_items(&self) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut invoice_links = std::collections::HashSet::new();
        for summary in self.list(None).await? {
            let items = self
                .query_partition(keys::account_pk(&summary.id), None)
                .await?;
            if let Some(loaded) = self.load(&summary.id).await? {
                for (invoice, record) in loaded.state.invoice_records() {
                    // One link per invoice id: ids that two accounts share
                    // (canonical events may reuse them) link the first.
                    let key = invoice_link_key(invoice.as_str());
                    if invoice_links.insert(key.clone()) {
                        out.push(link_item(&key, &summary.id, invoice));
                    }
                    for payment in record.payment_ids() {
                        out.push(link_item(payment, &summary.id, invoice));
                    }
                }
            }
            out.extend(items);
            out.extend(self.mail_items(&summary.id).await?);
        }
        Ok(out)
    }

    /// Puts items (from [`Self::export_items`]) that are not in the table
    /// yet; an item already there is left alone. Returns (written, skipped).
    pub async fn import_items(&self, items: Vec<Item>) -> Result<(usize, usize), StoreError> {
        use futures::stream::{self, TryStreamExt};
        let results: Vec<bool> = stream::iter(items.into_iter().map(Ok))
            .map_ok(|item| self.put_if_absent(item))
            .try_buffer_unordered(IMPORT_CONCURRENCY)
            .try_collect()
            .await?;
        let written = results.iter().filter(|w| **w).count();
        Ok((written, results.len() - written))
    }
}
