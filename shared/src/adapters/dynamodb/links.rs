//! Payment links: `LINK#<payment or charge id>` → the account and invoice
//! it paid, so a later dispute or refund finds its invoice. Account links:
//! `LINK#<processor>:<customer>` and `LINK#email:<address>` → the account a
//! processor's customer is (see [`crate::ports::account_links`]).

use super::codec::{Item, key, malformed, s, text};
use super::keys;
use super::table::DynamoStore;
use crate::domain::{Account, AccountId, InvoiceId};
use crate::ports::account_links::{AccountLinks, new_email_keys};
use crate::ports::{PaymentLinks, StoreError};

/// The link item of `payment` (written with the payment's commit).
pub(super) fn link_item(payment: &str, account: &AccountId, invoice: &InvoiceId) -> Item {
    let mut item = key(keys::link_pk(payment), keys::LINK_SK);
    item.insert("account".to_owned(), s(account.as_str()));
    item.insert("invoice".to_owned(), s(invoice.as_str()));
    item
}

/// An account link item: `key` names `account`.
fn account_link_item(link: &str, account: &AccountId) -> Item {
    let mut item = key(keys::link_pk(link), keys::LINK_SK);
    item.insert("account".to_owned(), s(account.as_str()));
    item
}

/// The email links a change to an account's contacts writes (with the
/// change): one per address it did not have before, naming the account.
/// The account that most recently added an address is the one a processor's
/// customer with that address joins.
pub(super) fn email_link_items(before: Option<&Account>, after: &Account) -> Vec<Item> {
    new_email_keys(before, after)
        .iter()
        .map(|link| account_link_item(link, &after.id))
        .collect()
}

impl DynamoStore {
    /// The invoice a payment (or charge) id was applied to, if any.
    pub async fn find_link(
        &self,
        payment: &str,
    ) -> Result<Option<(AccountId, InvoiceId)>, StoreError> {
        let Some(item) = self
            .get(key(keys::link_pk(payment), keys::LINK_SK), None)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some((
            AccountId::parse(text(&item, "account")?).map_err(|e| malformed(&item, e))?,
            InvoiceId::parse(text(&item, "invoice")?).map_err(|e| malformed(&item, e))?,
        )))
    }
}

impl PaymentLinks for DynamoStore {
    async fn find_link(&self, payment: &str) -> Result<Option<(AccountId, InvoiceId)>, StoreError> {
        DynamoStore::find_link(self, payment).await
    }
}

impl DynamoStore {
    /// Writes the email link of every contact of every account (listed
    /// through the status index, never a scan): for accounts whose contacts
    /// predate email links, so a PayPal or GoCardless customer with one of
    /// those addresses joins the account. Where two accounts share an
    /// address, the one listed later (by id) holds it, as the latest commit
    /// would. Idempotent. Returns the accounts and links written.
    pub async fn link_every_email(&self) -> Result<(usize, usize), StoreError> {
        let (mut accounts, mut links) = (0, 0);
        for summary in self.list(None).await? {
            let Some(loaded) = self.load(&summary.id).await? else {
                continue;
            };
            accounts += 1;
            for item in email_link_items(None, &loaded.state.account) {
                self.overwrite(item).await?;
                links += 1;
            }
        }
        Ok((accounts, links))
    }
}

impl AccountLinks for DynamoStore {
    async fn linked_account(&self, link: &str) -> Result<Option<AccountId>, StoreError> {
        let Some(item) = self
            .get(key(keys::link_pk(link), keys::LINK_SK), None)
            .await?
        else {
            return Ok(None);
        };
        let account = AccountId::parse(text(&item, "account")?).map_err(|e| malformed(&item, e))?;
        Ok(Some(account))
    }

    async fn link_account(&self, link: &str, account: &AccountId) -> Result<AccountId, StoreError> {
        if self.put_if_absent(account_link_item(link, account)).await? {
            return Ok(account.clone());
        }
        // Linked first by another delivery: that one holds.
        match self.linked_account(link).await? {
            Some(first) => Ok(first),
            None => Err(StoreError::Unavailable {
                operation: "GetItem",
                message: format!("link {link} was taken and is not readable yet"),
            }),
        }
    }

    async fn account_exists(&self, account: &AccountId) -> Result<bool, StoreError> {
        Ok(self
            .get(
                key(keys::account_pk(account), keys::STATE_SK),
                Some(keys::PK),
            )
            .await?
            .is_some())
    }
}
