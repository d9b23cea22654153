//! What the staff digest reads besides the accounts being chased: open
//! disputes (by evidence deadline) and a day's payments and
//! reinstatements, each found without a table scan.

use std::future::Future;

use chrono::NaiveDate;

use super::StoreError;
use crate::domain::digest::Entry;

pub trait Attention: Send + Sync {
    /// Every dispute opened and not closed, soonest evidence deadline first.
    fn open_disputes(&self) -> impl Future<Output = Result<Vec<Entry>, StoreError>> + Send;

    /// The payments applied and accounts reinstated on (their accounts')
    /// local date `date`.
    fn activity_on(
        &self,
        date: NaiveDate,
    ) -> impl Future<Output = Result<Vec<Entry>, StoreError>> + Send;
}
