//! Ports of the check before cutting off: before `suspend`, `cancel` or
//! `collections` fires, the processor is asked about each overdue invoice.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::reconcile::LogError;
use crate::domain::{AccountId, InvoiceId};

/// What asking the processor came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// The processor agrees with pastdue (or none of the invoices is a
    /// processor's): the cut-off may go ahead.
    Unchanged,
    /// The processor knew something pastdue did not, and it has been
    /// applied: decide again on the new state.
    Changed,
}

/// Why the cut-off could not be confirmed: the processor could not be
/// reached, answered an error, or has no such invoice. The step waits.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct Unconfirmed(pub String);

/// Asks the processor about `invoices` of `account` and applies, through
/// the webhook's own path, what it says that pastdue lacks, as of `at`
/// (the run's instant: what the processor says is dated then).
pub trait ConfirmCutOff: Send + Sync {
    fn confirm(
        &self,
        account: &AccountId,
        invoices: &[InvoiceId],
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Confirmed, Unconfirmed>> + Send;
}

/// No processor API is configured: cut-offs go ahead on pastdue's state.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCheck;

impl ConfirmCutOff for NoCheck {
    async fn confirm(
        &self,
        _: &AccountId,
        _: &[InvoiceId],
        _: DateTime<Utc>,
    ) -> Result<Confirmed, Unconfirmed> {
        Ok(Confirmed::Unchanged)
    }
}

/// A processor's invoices as its API has them now.
pub trait CurrentInvoices: Send + Sync {
    /// The processor's name, as its deliveries are claimed under.
    fn processor(&self) -> &'static str;

    /// Whether `invoice` of `account` is one this processor issued.
    fn issued(&self, account: &AccountId, invoice: &InvoiceId) -> bool;

    /// The invoice as the processor has it now, as a delivery body its
    /// webhook reader takes (stamped `now`, Unix seconds); `None` when the
    /// processor has no invoice by that id.
    fn current(
        &self,
        invoice: &InvoiceId,
        now: i64,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, LogError>> + Send;
}

/// A check that may not be configured: without one, cut-offs go ahead on
/// pastdue's state, as they did before checks existed.
impl<C: ConfirmCutOff> ConfirmCutOff for Option<C> {
    async fn confirm(
        &self,
        account: &AccountId,
        invoices: &[InvoiceId],
        at: DateTime<Utc>,
    ) -> Result<Confirmed, Unconfirmed> {
        match self {
            Some(check) => check.confirm(account, invoices, at).await,
            None => Ok(Confirmed::Unchanged),
        }
    }
}
