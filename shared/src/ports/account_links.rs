//! Which account a processor's customer is: keys such as
//! `paypal:<payer id>`, `gocardless:CU…` and `email:<address>` name the
//! account they were linked to, so one business's customer has one
//! account whichever processor the money came through.

use std::future::Future;

use super::StoreError;
use crate::domain::AccountId;

/// The key a contact's email address is linked under (lower-cased).
pub fn email_key(email: &str) -> String {
    format!("email:{}", email.to_ascii_lowercase())
}

/// Reads and writes account links.
pub trait AccountLinks: Send + Sync {
    /// The account `key` is linked to, if any.
    fn linked_account(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<AccountId>, StoreError>> + Send;

    /// Links `key` to `account` unless it is linked already; returns the
    /// account it is linked to (the first link wins, so two deliveries
    /// racing agree).
    fn link_account(
        &self,
        key: &str,
        account: &AccountId,
    ) -> impl Future<Output = Result<AccountId, StoreError>> + Send;

    /// Whether pastdue has the account.
    fn account_exists(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
