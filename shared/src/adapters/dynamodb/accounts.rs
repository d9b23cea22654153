//! Accounts in the table: one partition per account holding its state item
//! (with the version every write is conditional on), one item per invoice
//! (indexed in `ByDue` while it can need dunning), event-id claims, the
//! timeline and the outbox. A commit is one `TransactWriteItems`.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnConsumedCapacity, TransactWriteItem};

use super::classify;
use super::codec::{Item, claim_expiry, json_of, key, malformed, s, text, to_json_text};
use super::keys;
use super::links::{email_link_items, link_item};
use super::states::OutboxState;
use super::table::DynamoStore;
use crate::domain::{AccountId, AccountState, Event, Invoice, InvoiceId};
use crate::ports::{AccountRepository, Change, Committed, ContactNames, Loaded, StoreError};

/// A change touches at most this many items (DynamoDB's transaction limit).
const MAX_TRANSACTION_ITEMS: usize = 100;

/// The condition a put in a transaction carries.
enum Guard {
    /// The item must not exist yet (claims, new accounts).
    Absent,
    /// The state item must still be at this version.
    Version(u64),
}

impl DynamoStore {
    /// The account's state, read consistently, or `None` if it is unknown.
    pub async fn load(&self, account: &AccountId) -> Result<Option<Loaded>, StoreError> {
        let items = self
            .query_partition(
                keys::account_pk(account),
                Some((keys::INVOICE_PREFIX, keys::STATE_SK)),
            )
            .await?;
        let mut invoices = BTreeMap::new();
        let mut state = None;
        for item in &items {
            let sk = text(item, keys::SK)?;
            if sk == keys::STATE_SK {
                let version = item
                    .get(keys::VERSION)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<u64>().ok())
                    .ok_or_else(|| malformed(item, "no numeric version"))?;
                state = Some((json_of::<AccountState>(item)?, version));
            } else if let Some(id) = sk.strip_prefix(keys::INVOICE_PREFIX) {
                let id = InvoiceId::parse(id).map_err(|e| malformed(item, e))?;
                invoices.insert(id, json_of::<Invoice>(item)?);
            }
        }
        Ok(state.map(|(state, version)| Loaded {
            state: state.restored(invoices),
            version,
        }))
    }

    /// The invoice items of a state: the record as JSON and, for invoices
    /// that can need dunning, the sparse due-index keys.
    fn invoice_items(&self, state: &AccountState) -> Result<BTreeMap<String, Item>, StoreError> {
        let account = &state.account.id;
        let standing: HashMap<&InvoiceId, _> =
            state.invoices().iter().map(|i| (&i.id, i)).collect();
        let mut items = BTreeMap::new();
        for (id, record) in state.invoice_records() {
            let sk = keys::invoice_sk(id);
            let mut item = key(keys::account_pk(account), sk.clone());
            item.insert(keys::DATA.to_owned(), s(to_json_text(record)?));
            if let Some(st) = standing.get(id)
                && !st.void
                && !st.in_dispute
                && !st.written_off
                && st.owed >= self.policy.min_balance
            {
                let shard = keys::due_shard_pk(keys::due_shard(account));
                item.insert(keys::GSI1_PK.to_owned(), s(shard));
                item.insert(
                    keys::GSI1_SK.to_owned(),
                    s(keys::owed_sort_key(
                        st.effective_due,
                        account,
                        id.as_str(),
                        &crate::domain::money::format_amount(st.owed, st.currency()),
                        st.currency(),
                    )),
                );
                item.insert(
                    keys::TZ_ATTRIBUTE.to_owned(),
                    s(state.account.timezone.name()),
                );
            }
            items.insert(sk, item);
        }
        Ok(items)
    }

    /// The account's card-notice item while a notice is pending: indexed by
    /// the day before it is due, so a run on that date or later finds the
    /// account ("due before the cutoff", as for invoices).
    fn card_item(state: &AccountState) -> Option<Item> {
        let from = state.card_notice_from()?;
        let account = &state.account.id;
        let mut item = key(keys::account_pk(account), keys::CARD_SK);
        item.insert(
            keys::GSI1_PK.to_owned(),
            s(keys::due_shard_pk(keys::due_shard(account))),
        );
        let day_before = from.pred_opt().unwrap_or(from);
        item.insert(
            keys::GSI1_SK.to_owned(),
            s(keys::due_sort_key(day_before, account, keys::CARD_SK)),
        );
        item.insert(
            keys::TZ_ATTRIBUTE.to_owned(),
            s(state.account.timezone.name()),
        );
        Some(item)
    }

    fn put(&self, item: Item, guard: Option<Guard>) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder()
            .table_name(self.table.as_str())
            .set_item(Some(item));
        match guard {
            None => {}
            Some(Guard::Absent) => {
                put = put
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", keys::PK);
            }
            Some(Guard::Version(v)) => {
                put = put
                    .condition_expression("#v = :v")
                    .expression_attribute_names("#v", keys::VERSION)
                    .expression_attribute_values(":v", AttributeValue::N(v.to_string()));
            }
        }
        let put = put.build().map_err(|e| StoreError::Rejected {
            operation: "TransactWriteItems",
            message: e.to_string(),
        })?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The writes of a change: [claim,] state, changed invoices, timeline,
    /// links, outbox. The claim is first, the state second, so a
    /// cancellation tells a duplicate from a version conflict.
    fn writes(
        &self,
        before: Option<&Loaded>,
        after: &AccountState,
        change: &Change<'_>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let account = &after.account.id;
        let pk = keys::account_pk(account);
        let version = before.map_or(0, |l| l.version) + 1;
        let mut writes = Vec::new();
        if let Some(event) = change.claim {
            writes.push(self.put(claim_item(&pk, event), Some(Guard::Absent))?);
        }
        let mut state_item = key(pk.clone(), keys::STATE_SK);
        state_item.extend([
            (
                keys::VERSION.to_owned(),
                AttributeValue::N(version.to_string()),
            ),
            (keys::NAME.to_owned(), s(after.account.name.clone())),
            (keys::STATUS.to_owned(), s(after.status.as_str())),
            (
                keys::GSI2_PK.to_owned(),
                s(keys::status_pk(after.status.as_str())),
            ),
            (keys::GSI2_SK.to_owned(), s(account.as_str())),
            (keys::DATA.to_owned(), s(to_json_text(after)?)),
        ]);
        let guard = match before {
            None => Guard::Absent,
            Some(l) => Guard::Version(l.version),
        };
        writes.push(self.put(state_item, Some(guard))?);
        let old = match before {
            Some(l) => self.invoice_items(&l.state)?,
            None => BTreeMap::new(),
        };
        for (sk, item) in self.invoice_items(after)? {
            if old.get(&sk) != Some(&item) {
                writes.push(self.put(item, None)?);
            }
        }
        let old_disputes = match before {
            Some(l) => Self::dispute_items(&l.state)?,
            None => BTreeMap::new(),
        };
        let disputes = Self::dispute_items(after)?;
        for (sk, item) in &disputes {
            if old_disputes.get(sk) != Some(item) {
                writes.push(self.put(item.clone(), None)?);
            }
        }
        // A dispute closed: its item leaves the index.
        for sk in old_disputes.keys().filter(|sk| !disputes.contains_key(*sk)) {
            writes.push(self.put(key(pk.clone(), sk.clone()), None)?);
        }
        for item in Self::activity_items(before.map(|l| &l.state), after, change)? {
            writes.push(self.put(item, None)?);
        }
        let old_card = before.and_then(|l| Self::card_item(&l.state));
        match (old_card, Self::card_item(after)) {
            (old, Some(new)) if old.as_ref() != Some(&new) => writes.push(self.put(new, None)?),
            // The notice went out, or is no longer wanted: the item leaves
            // the index.
            (Some(_), None) => writes.push(self.put(key(pk.clone(), keys::CARD_SK), None)?),
            _ => {}
        }
        for (n, entry) in change.timeline.iter().enumerate() {
            let mut item = key(pk.clone(), keys::timeline_sk(version, n));
            item.insert(keys::DATA.to_owned(), s(to_json_text(entry)?));
            writes.push(self.put(item, None)?);
        }
        for (payment, invoice) in &change.links {
            writes.push(self.put(link_item(payment, account, invoice), None)?);
        }
        for item in email_link_items(before.map(|l| &l.state.account), &after.account) {
            writes.push(self.put(item, None)?);
        }
        for (n, message) in change.messages.iter().enumerate() {
            let mut item = key(pk.clone(), keys::action_sk(version, n));
            item.insert(keys::STATE.to_owned(), s(OutboxState::Pending.as_str()));
            item.insert(keys::DATA.to_owned(), s(to_json_text(message)?));
            writes.push(self.put(item, None)?);
        }
        if writes.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Rejected {
                operation: "TransactWriteItems",
                message: format!(
                    "one change to {account} would write {} items (limit {MAX_TRANSACTION_ITEMS})",
                    writes.len()
                ),
            });
        }
        Ok(writes)
    }
}

/// The event-id claim: written with the change that applies the event.
fn claim_item(pk: &str, event: &Event) -> Item {
    let mut item = key(pk.to_owned(), keys::claim_sk(&event.id));
    item.extend([
        ("type".to_owned(), s(event.kind.type_name())),
        ("at".to_owned(), s(event.at.to_rfc3339())),
        (keys::TTL_ATTRIBUTE.to_owned(), claim_expiry()),
    ]);
    item
}

impl AccountRepository for DynamoStore {
    async fn load(&self, account: &AccountId) -> Result<Option<Loaded>, StoreError> {
        DynamoStore::load(self, account).await
    }

    async fn event_claimed(&self, event: &Event) -> Result<bool, StoreError> {
        let claim = key(keys::account_pk(&event.account), keys::claim_sk(&event.id));
        Ok(self.get(claim, Some(keys::PK)).await?.is_some())
    }

    async fn commit(
        &self,
        before: Option<&Loaded>,
        after: &AccountState,
        change: &Change<'_>,
    ) -> Result<Committed, StoreError> {
        let writes = self.writes(before, after, change)?;
        let count = writes.len() as u64;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let err = match result {
            Ok(out) => {
                self.capacity.writes_of(out.consumed_capacity());
                self.capacity.items(count);
                return Ok(Committed::Done);
            }
            Err(err) => err,
        };
        let verdict = match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                let codes: Vec<Option<&str>> =
                    e.cancellation_reasons().iter().map(|r| r.code()).collect();
                cancelled(&codes, change.claim.is_some())
            }
            Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                Cancelled::Committed(Committed::Conflict)
            }
            _ => Cancelled::Refused,
        };
        match verdict {
            Cancelled::Committed(c) => Ok(c),
            Cancelled::Throttled(reason) => Err(StoreError::Unavailable {
                operation: "TransactWriteItems",
                message: format!("transaction cancelled: {reason}"),
            }),
            Cancelled::Refused => Err(classify("TransactWriteItems", err)),
        }
    }
}

impl ContactNames for DynamoStore {
    async fn contact_name(
        &self,
        account: &AccountId,
        email: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self.load(account).await?.and_then(|l| {
            l.state
                .account
                .contacts
                .iter()
                .find(|c| c.email.as_str().eq_ignore_ascii_case(email))
                .map(|c| c.name.clone())
        }))
    }
}

/// What a cancelled transaction means, from its cancellation reasons (one
/// per item, in order; the event claim first when there is one).
#[derive(Debug, PartialEq, Eq)]
enum Cancelled {
    Committed(Committed),
    /// A capacity limit on some item: the same write can succeed later.
    Throttled(&'static str),
    /// Anything else (validation, an item too large): not retryable.
    Refused,
}

fn cancelled(codes: &[Option<&str>], claim_first: bool) -> Cancelled {
    if claim_first && codes.first() == Some(&Some("ConditionalCheckFailed")) {
        return Cancelled::Committed(Committed::Duplicate);
    }
    for code in codes.iter().flatten() {
        match *code {
            "ThrottlingError" => return Cancelled::Throttled("ThrottlingError"),
            "ProvisionedThroughputExceeded" => {
                return Cancelled::Throttled("ProvisionedThroughputExceeded");
            }
            _ => {}
        }
    }
    if codes
        .iter()
        .any(|c| matches!(c, Some("ConditionalCheckFailed" | "TransactionConflict")))
    {
        return Cancelled::Committed(Committed::Conflict);
    }
    Cancelled::Refused
}

#[cfg(test)]
mod tests {
    use super::{Cancelled, Committed, cancelled};

    #[test]
    fn a_throttled_transaction_is_retryable_and_a_claim_taken_is_a_duplicate() {
        let none = Some("None");
        assert_eq!(
            cancelled(&[none, Some("ThrottlingError"), none], true),
            Cancelled::Throttled("ThrottlingError")
        );
        assert_eq!(
            cancelled(&[none, Some("ProvisionedThroughputExceeded")], false),
            Cancelled::Throttled("ProvisionedThroughputExceeded")
        );
        assert_eq!(
            cancelled(&[Some("ConditionalCheckFailed"), none], true),
            Cancelled::Committed(Committed::Duplicate)
        );
        assert_eq!(
            cancelled(&[none, Some("ConditionalCheckFailed")], true),
            Cancelled::Committed(Committed::Conflict)
        );
        assert_eq!(
            cancelled(&[none, Some("TransactionConflict")], false),
            Cancelled::Committed(Committed::Conflict)
        );
        assert_eq!(
            cancelled(&[none, Some("ValidationError")], false),
            Cancelled::Refused
        );
    }
}
