//! Which account a processor's customer is: keys such as
//! `paypal:<payer id>`, `gocardless:CU…` and `email:<address>` name the
//! account they were linked to, so one business's customer has one
//! account whichever processor the money came through.

use std::future::Future;

use super::StoreError;
use crate::domain::{Account, AccountId};

/// The key a contact's email address is linked under (lower-cased).
pub fn email_key(email: &str) -> String {
    format!("email:{}", email.to_ascii_lowercase())
}

/// The email keys `after` names that `before` (the same account before a
/// change, if it existed) did not: the links a change writes, each once.
/// The stores share this rule.
pub fn new_email_keys(before: Option<&Account>, after: &Account) -> Vec<String> {
    let keys = |a: &Account| -> Vec<String> {
        a.contacts
            .iter()
            .map(|c| email_key(c.email.as_str()))
            .collect()
    };
    let had = before.map(keys).unwrap_or_default();
    let mut new: Vec<String> = keys(after)
        .into_iter()
        .filter(|k| !had.contains(k))
        .collect();
    new.sort_unstable();
    new.dedup();
    new
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Contact, EmailAddress, Role};

    fn account(emails: &[&str]) -> Account {
        let contacts = emails
            .iter()
            .map(|e| {
                Contact::new(
                    "Dana",
                    EmailAddress::parse(e).unwrap(),
                    [Role::Billing].into(),
                )
                .unwrap()
            })
            .collect();
        Account::from_processor(AccountId::parse("acct_1").unwrap(), "A".into(), None, None)
            .map(|mut a| {
                a.contacts = contacts;
                a
            })
            .unwrap()
    }

    #[test]
    fn only_addresses_new_to_the_account_are_linked_once_whatever_their_case() {
        let before = account(&["dana@a.example"]);
        let after = account(&["Dana@A.example", "kim@a.example", "KIM@a.example"]);
        assert_eq!(
            new_email_keys(Some(&before), &after),
            ["email:kim@a.example"]
        );
        assert_eq!(
            new_email_keys(None, &after),
            ["email:dana@a.example", "email:kim@a.example"]
        );
        assert!(new_email_keys(Some(&after), &after).is_empty());
    }
}
