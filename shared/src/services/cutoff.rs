//! The check before cutting off (issue 16): before `suspend`, `cancel` or
//! `collections` fires, each overdue invoice the processor issued is read
//! from its API and taken through the webhook's own path, so a payment,
//! a void, a write-off, a smaller amount or a later due date the webhooks
//! never brought is applied first, and the run decides again.

use chrono::{DateTime, Utc};

use super::deliver::{DeliveryPath, ReadBody, Taken};
use crate::domain::{AccountId, InvoiceId, Via};
use crate::ports::account_links::AccountLinks;
use crate::ports::cutoff::{ConfirmCutOff, Confirmed, CurrentInvoices, Unconfirmed};
use crate::ports::{Deliveries, NewAccounts, PaymentLinks, Publish, PublishActions};

/// The check, over a processor's current invoices `I` and the delivery
/// path's parts. Its bus must apply what it publishes in this process
/// (an [`crate::adapters::bus::InlineBus`]): the run decides again right
/// after, on what was applied.
pub struct CutOffCheck<I, S, A, B> {
    pub invoices: I,
    pub store: S,
    pub accounts: A,
    pub bus: B,
    /// How the processor's webhook reads a body.
    pub read: ReadBody,
}

impl<I, S, A, B> CutOffCheck<I, S, A, B> {
    pub fn new(invoices: I, store: S, accounts: A, bus: B, read: ReadBody) -> Self {
        Self {
            invoices,
            store,
            accounts,
            bus,
            read,
        }
    }
}

impl<I, S, A, B> ConfirmCutOff for CutOffCheck<I, S, A, B>
where
    I: CurrentInvoices,
    S: Deliveries + PaymentLinks + AccountLinks,
    A: NewAccounts,
    B: Publish + PublishActions,
{
    async fn confirm(
        &self,
        account: &AccountId,
        invoices: &[InvoiceId],
        at: DateTime<Utc>,
    ) -> Result<Confirmed, Unconfirmed> {
        let processor = self.invoices.processor();
        let path = DeliveryPath {
            store: &self.store,
            accounts: &self.accounts,
            bus: &self.bus,
            via: Some(Via::CutOffCheck),
        };
        let now = at.timestamp();
        let mut changed = false;
        for invoice in invoices {
            if !self.invoices.issued(account, invoice) {
                continue;
            }
            let body = self
                .invoices
                .current(invoice, now)
                .await
                .map_err(|e| Unconfirmed(e.reason))?
                .ok_or_else(|| Unconfirmed(format!("{processor} has no invoice {invoice}")))?;
            let delivery = (self.read)(&body)
                .map_err(|e| Unconfirmed(format!("{processor}'s invoice {invoice}: {e}")))?;
            match path.take(processor, delivery.as_ref(), now).await {
                Taken::Events {
                    outcome: "applied", ..
                } => {
                    tracing::info!(%account, %invoice, processor, "before the cut-off: the processor knew more, applied");
                    changed = true;
                }
                // Published to be applied elsewhere: not visible to this
                // run yet, so not confirmed yet.
                Taken::Events {
                    outcome: "accepted",
                    ..
                } => {
                    return Err(Unconfirmed(format!(
                        "{processor}'s invoice {invoice} is being applied elsewhere"
                    )));
                }
                Taken::Events { .. } | Taken::Ignored { .. } | Taken::Alerted { .. } => {}
                Taken::Waiting => {}
                Taken::Refused(why) => {
                    return Err(Unconfirmed(format!(
                        "{processor}'s invoice {invoice} does not read: {why}"
                    )));
                }
                Taken::Unavailable(why) => return Err(Unconfirmed(why.to_owned())),
            }
        }
        Ok(if changed {
            Confirmed::Changed
        } else {
            Confirmed::Unchanged
        })
    }
}
