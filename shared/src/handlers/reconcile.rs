//! The `reconcile` function: one backfill run against Stripe's API, through
//! the webhook's own path, stopping before the invocation's deadline.

use std::time::Instant;

use serde_json::{Value, json};

use super::HandlerError;
use crate::adapters::stripe_api::StripeEvents;
use crate::domain::Via;
use crate::ports::account_links::AccountLinks;
use crate::ports::reconcile::ReconcileCheckpoints;
use crate::ports::{Deliveries, NewAccounts, PaymentLinks, Publish, PublishActions};
use crate::processors::stripe::mapping::read_delivery;
use crate::services::deliver::{DeliveryPath, FromApi};
use crate::services::reconcile::{ReconcileError, Settings, run as backfill};

/// The Stripe event types a run lists: those pastdue acts on, at most the
/// 20 Stripe takes in one request. Left out, as they repeat another's
/// information: `invoice.payment_succeeded` (`invoice.paid`),
/// `charge.refund.updated` and `refund.failed` (`refund.updated`), and
/// `customer.created` (an invoice brings its customer).
pub const STRIPE_TYPES: [&str; 20] = [
    "invoice.finalized",
    "invoice.updated",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "invoice_payment.paid",
    "refund.created",
    "refund.updated",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "customer.source.expiring",
    "payment_method.attached",
    "payment_method.updated",
    "payment_method.automatically_updated",
    "payment_method.detached",
    "customer.updated",
];

/// Everything a run needs, built once at init.
pub struct Reconcile<S, A, B> {
    /// Delivery claims, payment links and the checkpoint.
    pub store: S,
    pub accounts: A,
    pub bus: B,
    pub log: StripeEvents,
    pub settings: Settings,
}

/// One run at `now` (Unix seconds) that must stop by `stop_at`.
pub async fn run<S, A, B>(
    deps: &Reconcile<S, A, B>,
    now: i64,
    stop_at: Instant,
) -> Result<Value, HandlerError>
where
    S: Deliveries + PaymentLinks + AccountLinks + ReconcileCheckpoints,
    A: NewAccounts,
    B: Publish + PublishActions,
{
    let take = FromApi {
        path: DeliveryPath {
            store: &deps.store,
            accounts: &deps.accounts,
            bus: &deps.bus,
            via: Some(Via::Reconciliation),
        },
        read: read_delivery,
        name: "stripe",
        now,
    };
    let left = || stop_at.saturating_duration_since(Instant::now());
    match backfill(
        &deps.log,
        &take,
        &deps.store,
        "stripe",
        &deps.settings,
        now,
        left,
    )
    .await
    {
        Ok(report) => Ok(json!({
            "pages": report.pages,
            "taken": report.taken,
            "settled": report.settled,
            "waiting": report.waiting,
            "abandoned": report.abandoned,
            "finished": report.finished,
        })),
        Err(e) => {
            tracing::error!(error = %e, retryable = e.is_retryable(), "reconcile run failed");
            Err(match e {
                ReconcileError::Store(e) => HandlerError::Store(e),
                other if other.is_retryable() => HandlerError::Later(other.to_string()),
                other => HandlerError::Refused(other.to_string()),
            })
        }
    }
}
