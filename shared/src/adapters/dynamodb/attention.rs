//! What staff should look at, listed without a scan: items in the account's
//! own partition that the status index (`ByStatus`) also lists under a
//! partition of their own.
//!
//! - `SK = ATTN#dispute#<dispute>`: an open dispute, under
//!   `GSI2PK = ATTN#disputes`, `GSI2SK = <evidence due>#<account>#<dispute>`;
//!   written from the state with every commit, and taken out of the index
//!   when the dispute closes;
//! - `SK = ATTN#day#<date>#<id>`: a payment applied or an account
//!   reinstated on that (account-local) date, under `GSI2PK =
//!   ATTN#day#<date>#<shard>`; written with the change that applied it,
//!   expiring with the claims;
//! - `SK = ATTN#issued#<date>#<invoice>`: an invoice first issued that
//!   day, under `GSI2PK = ATTN#issued#<date>#<shard>` with its amount in
//!   the sort key (the aging report's sales).
//!
//! Day and issued listings are spread over the due index's shards, so a
//! billing day's burst does not write one index key.
//!
//! The index projects keys and `name` only: each listed item is then read
//! whole from its partition.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::codec::{Item, claim_expiry, json_of, key, s, text, to_json_text};
use super::keys;
use super::table::DynamoStore;
use crate::domain::digest::Entry;
use crate::domain::engine::local_date;
use crate::domain::money::{format_amount, money};
use crate::domain::{AccountId, AccountState, Currency, EventKind, InvoiceId, Money};
use crate::ports::attention::Attention;
use crate::ports::receivables::SalesLedger;
use crate::ports::{Change, StoreError};
use rust_decimal::Decimal;

const DISPUTES_PK: &str = "ATTN#disputes";
pub(super) const DISPUTE_PREFIX: &str = "ATTN#dispute#";

/// An item of `account`'s partition at `sk`, listed under `gsi_pk`.
fn listed(
    state: &AccountState,
    sk: String,
    gsi_pk: String,
    gsi_sk: String,
    entry: &Entry,
) -> Result<Item, StoreError> {
    let mut item = key(keys::account_pk(&state.account.id), sk);
    item.insert(keys::GSI2_PK.to_owned(), s(gsi_pk));
    item.insert(keys::GSI2_SK.to_owned(), s(gsi_sk));
    item.insert(keys::NAME.to_owned(), s(state.account.name.clone()));
    item.insert(keys::DATA.to_owned(), s(to_json_text(entry)?));
    Ok(item)
}

fn entry(state: &AccountState, owed: String, what: String) -> Entry {
    Entry {
        account: state.account.id.to_string(),
        account_name: state.account.name.clone(),
        owed,
        dpd: 0,
        what,
        command: None,
    }
}

/// How the customer knows `invoice`: its number, else its id.
fn shown_as(state: &AccountState, invoice: &crate::domain::InvoiceId) -> String {
    state
        .shown(invoice)
        .number
        .unwrap_or_else(|| invoice.to_string())
}

/// The listing of `invoice`, first issued on `date` for `amount`: its
/// sort key carries the amount, so sales are summed from the index alone.
fn issued_item(state: &AccountState, invoice: &InvoiceId, amount: Money, date: NaiveDate) -> Item {
    let account = &state.account.id;
    let listed_as = keys::issued_sort_key(
        amount.currency(),
        &format_amount(amount.amount(), amount.currency()),
        account,
        invoice.as_str(),
    );
    let mut item = key(
        keys::account_pk(account),
        format!("ATTN#issued#{date}#{invoice}"),
    );
    item.insert(
        keys::GSI2_PK.to_owned(),
        s(keys::issued_pk(date, keys::due_shard(account))),
    );
    item.insert(keys::GSI2_SK.to_owned(), s(listed_as));
    item.insert(keys::NAME.to_owned(), s(state.account.name.clone()));
    item.insert(keys::TTL_ATTRIBUTE.to_owned(), claim_expiry());
    item
}

impl DynamoStore {
    /// The open-dispute items of `state`, by sort key.
    pub(super) fn dispute_items(
        state: &AccountState,
    ) -> Result<BTreeMap<String, Item>, StoreError> {
        let account = &state.account.id;
        let mut items = BTreeMap::new();
        for (dispute, invoice, amount, due) in state.open_disputes() {
            let sk = format!("{DISPUTE_PREFIX}{dispute}");
            let deadline = due.map_or_else(
                || "no deadline given".to_owned(),
                |d| format!("evidence due {d}"),
            );
            let e = entry(
                state,
                money(
                    &format_amount(amount.amount(), amount.currency()),
                    amount.currency(),
                ),
                format!(
                    "dispute {dispute} on {}: {deadline}",
                    shown_as(state, invoice)
                ),
            );
            let order = due.map_or_else(|| "9999-12-31".to_owned(), |d| d.to_string());
            let item = listed(
                state,
                sk.clone(),
                DISPUTES_PK.to_owned(),
                format!("{order}#{account}#{dispute}"),
                &e,
            )?;
            items.insert(sk, item);
        }
        Ok(items)
    }

    /// The day items a change writes: its payment, when applied, and the
    /// reinstatements it announces; and the listing of an invoice issued
    /// for the first time (the aging report's sales).
    pub(super) fn activity_items(
        before: Option<&AccountState>,
        after: &AccountState,
        change: &Change<'_>,
    ) -> Result<Vec<Item>, StoreError> {
        let account = &after.account.id;
        let mut out = Vec::new();
        let applied = change
            .timeline
            .iter()
            .any(|t| t.kind == "event" && t.detail["outcome"] == "applied");
        if let Some(event) = change.claim
            && let EventKind::InvoiceIssued {
                invoice, amount, ..
            } = &event.kind
            && applied
            && before.is_none_or(|b| !b.invoices().iter().any(|i| &i.id == invoice))
        {
            out.push(issued_item(
                after,
                invoice,
                *amount,
                local_date(event.at, after.account.timezone),
            ));
        }
        let mut add = |date: NaiveDate, id: &str, e: Entry| -> Result<(), StoreError> {
            let sk = format!("ATTN#day#{date}#{id}");
            let pk = keys::day_pk(date, keys::due_shard(account));
            let mut item = listed(after, sk, pk, format!("{account}#{id}"), &e)?;
            item.insert(keys::TTL_ATTRIBUTE.to_owned(), claim_expiry());
            out.push(item);
            Ok(())
        };
        if let Some(event) = change.claim
            && let EventKind::PaymentSucceeded {
                invoice, amount, ..
            } = &event.kind
            && applied
        {
            let paid = money(
                &format_amount(amount.amount(), amount.currency()),
                amount.currency(),
            );
            let what = format!("paid {paid} on {}", shown_as(after, invoice));
            add(
                local_date(event.at, after.account.timezone),
                event.id.as_str(),
                entry(after, paid, what),
            )?;
        }
        for m in change.messages.iter().filter(|m| m.action == "reinstate") {
            let why = m.settled.map_or("nothing overdue", |s| s.as_str());
            add(
                m.date,
                &m.id,
                entry(after, String::new(), format!("service reinstated ({why})")),
            )?;
        }
        Ok(out)
    }

    /// The items `pk` lists in the status index, read whole.
    async fn listed_under(&self, pk: String) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        for listed in &self.status_index_partition(pk).await? {
            let (pk, sk) = (text(listed, keys::PK)?, text(listed, keys::SK)?);
            for item in self.query_partition(pk.to_owned(), Some((sk, sk))).await? {
                // Still listed: a closed dispute's item has left the index.
                if item.contains_key(keys::GSI2_PK) {
                    out.push(json_of::<Entry>(&item)?);
                }
            }
        }
        Ok(out)
    }
}

impl Attention for DynamoStore {
    async fn open_disputes(&self) -> Result<Vec<Entry>, StoreError> {
        self.listed_under(DISPUTES_PK.to_owned()).await
    }

    async fn activity_on(&self, date: NaiveDate) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        for shard in 0..keys::DUE_SHARDS {
            out.extend(self.listed_under(keys::day_pk(date, shard)).await?);
        }
        Ok(out)
    }
}

impl SalesLedger for DynamoStore {
    async fn issued_on(&self, date: NaiveDate) -> Result<Vec<(Currency, Decimal)>, StoreError> {
        let mut out = Vec::new();
        let shards = (0..keys::DUE_SHARDS)
            .map(|shard| self.status_index_partition(keys::issued_pk(date, shard)));
        let listed_all: Vec<Item> = futures::future::try_join_all(shards)
            .await?
            .into_iter()
            .flatten()
            .collect();
        for listed in &listed_all {
            let sk = text(listed, keys::GSI2_SK)?;
            let mut parts = sk.split('#');
            let parsed = parts
                .next()
                .and_then(|c| Currency::parse(c).ok())
                .zip(parts.next().and_then(|a| a.parse::<Decimal>().ok()));
            let Some(sale) = parsed else {
                return Err(StoreError::Malformed {
                    key: sk.to_owned(),
                    reason: "not an issued invoice's listing".into(),
                });
            };
            out.push(sale);
        }
        Ok(out)
    }

    async fn account_names(&self) -> Result<BTreeMap<AccountId, String>, StoreError> {
        Ok(self
            .list(None)
            .await?
            .into_iter()
            .map(|a| (a.id, a.name))
            .collect())
    }
}
