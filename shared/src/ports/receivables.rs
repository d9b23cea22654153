//! What the aging report reads, all without a table scan: the open
//! invoices the due index lists, the invoices first issued on each day, and
//! the accounts' names (the status index).

use std::collections::BTreeMap;
use std::future::Future;

use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::StoreError;
use crate::domain::{AccountId, Currency};

/// One invoice as the due index lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub account: AccountId,
    pub timezone: Tz,
    pub due: NaiveDate,
    pub invoice: String,
    /// What is owed, when its index entry carries it (entries written
    /// before it did do not: the report reads their account).
    pub owed: Option<(Decimal, Currency)>,
}

pub trait Receivables: Send + Sync {
    /// Every open invoice the due index lists.
    fn receivables(&self) -> impl Future<Output = Result<Vec<Listed>, StoreError>> + Send;
}

pub trait SalesLedger: Send + Sync {
    /// The amounts of the invoices first issued on `date`.
    fn issued_on(
        &self,
        date: NaiveDate,
    ) -> impl Future<Output = Result<Vec<(Currency, Decimal)>, StoreError>> + Send;

    /// Every account's name.
    fn account_names(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<AccountId, String>, StoreError>> + Send;
}
