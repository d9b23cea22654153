//! PayPal disputes (`CUSTOMER.DISPUTE.*`) → canonical events, on the
//! invoice the disputed transaction paid.

use super::event::{Dispute, instant};
use super::mapping::{Built, namespaced, nonempty};
use crate::domain::fields::FieldError;
use crate::domain::{DisputeId, EventKind, Outcome};
use crate::processors::{Link, Mapped};

/// How a resolved dispute ends for the money, by PayPal's
/// `dispute_outcome.outcome_code` (customer disputes v1). The dispute took
/// the amount off the invoice when it opened; `Lost` keeps it off, `Won`
/// gives it back:
///
/// - resolved in the seller's favour, cancelled by the buyer, denied, or
///   resolved with a payout (PayPal paid the buyer itself): the business
///   keeps the money, `Won`;
/// - resolved in the buyer's favour: PayPal reverses the capture, `Lost`
///   (the `PAYMENT.CAPTURE.REVERSED` that comes with it is not counted
///   again);
/// - refunded or accepted: the business refunded the buyer, and that
///   refund is counted by its own `PAYMENT.CAPTURE.REFUNDED`; the dispute
///   gives its amount back (`Won`) so the money leaves once.
///
/// `NONE` names no winner: `None`.
pub fn outcome(code: &str) -> Result<Option<Outcome>, String> {
    match code {
        "RESOLVED_SELLER_FAVOUR"
        | "CANCELED_BY_BUYER"
        | "DENIED"
        | "RESOLVED_WITH_PAYOUT"
        | "ACCEPTED"
        | "REFUNDED" => Ok(Some(Outcome::Won)),
        "RESOLVED_BUYER_FAVOUR" => Ok(Some(Outcome::Lost)),
        "NONE" => Ok(None),
        other => Err(format!(
            "{other:?} is not a PayPal dispute outcome (RESOLVED_SELLER_FAVOUR, \
             CANCELED_BY_BUYER, DENIED, RESOLVED_BUYER_FAVOUR, RESOLVED_WITH_PAYOUT, ACCEPTED, \
             REFUNDED, NONE)"
        )),
    }
}

/// `CUSTOMER.DISPUTE.CREATED`, `RESOLVED`: on the invoice the disputed
/// transaction paid; they wait for its link.
pub fn map_dispute(
    ev: &Built<'_>,
    kind: &str,
    d: &Dispute<'_>,
    link: Option<Link>,
    ids: Vec<String>,
) -> Result<Mapped, FieldError> {
    let dispute = DisputeId::parse(&namespaced(&d.dispute_id))
        .map_err(|e| FieldError::new("resource.dispute_id", e))?;
    let closed = if kind == "CUSTOMER.DISPUTE.RESOLVED" {
        let field = "resource.dispute_outcome.outcome_code";
        let code = d
            .dispute_outcome
            .as_ref()
            .and_then(|o| nonempty(o.outcome_code.as_ref()))
            .ok_or_else(|| FieldError::new(field, "missing"))?;
        match outcome(code).map_err(|e| FieldError::new(field, e))? {
            Some(outcome) => Some(outcome),
            None => {
                return Ok(Mapped::Ignored {
                    reason: format!(
                        "PayPal dispute {} resolved with outcome NONE: no winner named",
                        d.dispute_id
                    ),
                });
            }
        }
    } else {
        None
    };
    let Some(link) = link else {
        if ids.is_empty() {
            return Ok(Mapped::Ignored {
                reason: format!(
                    "PayPal dispute {} names no seller transaction pastdue could know",
                    d.dispute_id
                ),
            });
        }
        return Ok(Mapped::WaitingForLink { ids });
    };
    let event = match closed {
        Some(outcome) => EventKind::DisputeClosed { dispute, outcome },
        None => EventKind::DisputeOpened {
            invoice: link.1.clone(),
            dispute,
            amount: d
                .dispute_amount
                .as_ref()
                .ok_or_else(|| FieldError::new("resource.dispute_amount", "missing"))?
                .read("resource.dispute_amount")?,
            evidence_due: d
                .seller_response_due_date
                .as_deref()
                .map(|t| instant(t, "resource.seller_response_due_date"))
                .transpose()?
                .map(|t| t.date_naive()),
        },
    };
    ev.on_link(&link, event)
}
