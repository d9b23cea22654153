//! Payment links: `LINK#<payment or charge id>` → the account and invoice
//! it paid, so a later dispute or refund finds its invoice.

use super::codec::{Item, key, malformed, s, text};
use super::keys;
use super::table::DynamoStore;
use crate::domain::{AccountId, InvoiceId};
use crate::ports::{PaymentLinks, StoreError};

/// The link item of `payment` (written with the payment's commit).
pub(super) fn link_item(payment: &str, account: &AccountId, invoice: &InvoiceId) -> Item {
    let mut item = key(keys::link_pk(payment), keys::LINK_SK);
    item.insert("account".to_owned(), s(account.as_str()));
    item.insert("invoice".to_owned(), s(invoice.as_str()));
    item
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
