//! Stripe refunds, disputes and expiring legacy cards → canonical events.
//! Refunds and disputes name a payment intent or charge; the caller passes
//! the invoice that payment paid (its link), or they wait for it.
//!
//! Their canonical event ids name the refund or dispute, not the delivery,
//! so each fact counts once whichever of Stripe's events brings it:
//! `refund.created`, `refund.updated`, `charge.refund.updated` and a
//! `charge.refunded` that lists refunds; `charge.dispute.created` and
//! `charge.dispute.funds_withdrawn`; `charge.dispute.closed` and
//! `charge.dispute.funds_reinstated`.

use super::currency::stripe_money;
use super::event::StripeEvent;
use super::mapping::Built;
use super::objects::{Charge, Dispute, ExpiringCard, Refund};
use crate::domain::fields::FieldError;
use crate::domain::{
    AccountId, ActionMessage, CardId, DisputeId, EventKind, InvoiceId, Outcome, PaymentId, RefundId,
};
use crate::processors::{Link, Mapped};

fn waiting(ids: Vec<String>) -> Mapped {
    Mapped::WaitingForLink { ids }
}

/// The events one refund makes: the money taken back from the invoice's
/// payments, and, when the refund failed or was cancelled, the same money
/// given back. Both ids name the refund, so in any order and however often
/// it is delivered the invoice ends where Stripe says.
fn refund_events(
    stripe: &StripeEvent<'_>,
    r: &Refund<'_>,
    account: &AccountId,
    invoice: &InvoiceId,
) -> Result<Vec<crate::domain::Event>, FieldError> {
    let amount = stripe_money(r.amount, &r.currency, "amount")?;
    let refund = RefundId::parse(&r.id).map_err(|e| FieldError::new("data.object.id", e))?;
    let mut events = vec![Built::fact(format!("refund:{}", r.id)).event(
        stripe,
        account,
        EventKind::PaymentRefunded {
            invoice: invoice.clone(),
            amount,
            refund: Some(refund),
        },
    )?];
    if r.returned() {
        let payment = PaymentId::parse(&r.id).map_err(|e| FieldError::new("data.object.id", e))?;
        events.push(Built::fact(format!("refund:{}:returned", r.id)).event(
            stripe,
            account,
            EventKind::PaymentSucceeded {
                invoice: invoice.clone(),
                amount,
                payment: Some(payment),
            },
        )?);
    }
    Ok(events)
}

/// `refund.created`, `refund.updated`, `refund.failed`,
/// `charge.refund.updated`.
pub fn map_refund(
    stripe: &StripeEvent<'_>,
    r: &Refund<'_>,
    link: Option<Link>,
    ids: Vec<String>,
) -> Result<Mapped, FieldError> {
    let Some((account, invoice)) = link else {
        return Ok(waiting(ids));
    };
    Ok(Mapped::Events {
        events: refund_events(stripe, r, &account, &invoice)?,
        account: None,
    })
}

/// `charge.refunded`: since 2022-11-15 the charge lists no refunds unless
/// expanded, and every version pastdue supports is later; the refunds
/// arrive as `refund.*` events. A listed refund maps as those do.
pub fn map_charge_refunded(
    stripe: &StripeEvent<'_>,
    charge: &Charge<'_>,
    link: Option<Link>,
    ids: Vec<String>,
) -> Result<Mapped, FieldError> {
    let refunds = charge.refunds.as_ref().map(|l| &l.data[..]).unwrap_or(&[]);
    if refunds.is_empty() {
        return Ok(Mapped::Ignored {
            reason: "charge.refunded lists no refunds: each refund is counted from its \
                     refund.created / refund.updated event"
                .into(),
        });
    }
    let Some((account, invoice)) = link else {
        return Ok(waiting(ids));
    };
    let mut events = Vec::new();
    for r in refunds {
        events.extend(refund_events(stripe, r, &account, &invoice)?);
    }
    Ok(Mapped::Events {
        events,
        account: None,
    })
}

fn dispute_id(d: &Dispute<'_>) -> Result<DisputeId, FieldError> {
    DisputeId::parse(&d.id).map_err(|e| FieldError::new("data.object.id", e))
}

/// `charge.dispute.*`.
pub fn map_dispute(
    stripe: &StripeEvent<'_>,
    d: &Dispute<'_>,
    link: Option<Link>,
    ids: Vec<String>,
) -> Result<Mapped, FieldError> {
    let inquiry = d.status.starts_with("warning_");
    let closed = match (stripe.kind.as_ref(), d.status.as_ref()) {
        ("charge.dispute.funds_reinstated", _) | ("charge.dispute.closed", "won") => {
            Some(Outcome::Won)
        }
        ("charge.dispute.closed", "lost") => Some(Outcome::Lost),
        ("charge.dispute.closed", other) => {
            return Ok(Mapped::Ignored {
                reason: format!("dispute closed as {other}: no funds moved"),
            });
        }
        _ => None,
    };
    let Some((account, invoice)) = link else {
        return Ok(waiting(ids));
    };
    if let Some(outcome) = closed {
        let kind = EventKind::DisputeClosed {
            dispute: dispute_id(d)?,
            outcome,
        };
        return one(
            Built::fact(format!("dispute:{}:closed", d.id)),
            stripe,
            &account,
            kind,
        );
    }
    let amount = stripe_money(d.amount, &d.currency, "amount")?;
    if stripe.kind == "charge.dispute.created" && inquiry {
        // An inquiry withdraws nothing; if it escalates, Stripe withdraws
        // the funds then and says so with `funds_withdrawn`.
        return Ok(Mapped::Alert(Box::new(ActionMessage::dispute_inquiry(
            account,
            invoice,
            &d.id,
            amount,
            stripe.created,
            &format!("stripe {}", stripe.id),
        ))));
    }
    match stripe.kind.as_ref() {
        "charge.dispute.created" | "charge.dispute.funds_withdrawn" => {
            let kind = EventKind::DisputeOpened {
                invoice,
                dispute: dispute_id(d)?,
                amount,
                evidence_due: d
                    .evidence_details
                    .as_ref()
                    .and_then(|e| e.due_by)
                    .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                    .map(|t| t.date_naive()),
            };
            one(
                Built::fact(format!("dispute:{}:opened", d.id)),
                stripe,
                &account,
                kind,
            )
        }
        other => Ok(Mapped::Ignored {
            reason: format!("{other} moves no funds"),
        }),
    }
}

fn one(
    built: Built,
    stripe: &StripeEvent<'_>,
    account: &AccountId,
    kind: EventKind,
) -> Result<Mapped, FieldError> {
    Ok(Mapped::Events {
        events: vec![built.event(stripe, account, kind)?],
        account: None,
    })
}

/// `customer.source.expiring`, for integrations on legacy Cards and
/// Sources.
pub fn map_expiring_card(
    stripe: &StripeEvent<'_>,
    card: &ExpiringCard<'_>,
) -> Result<Mapped, FieldError> {
    let month = u32::try_from(card.exp_month)
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| FieldError::new("data.object.exp_month", "expected 1 to 12"))?;
    let year = i32::try_from(card.exp_year)
        .map_err(|_| FieldError::new("data.object.exp_year", "out of range"))?;
    let customer = card
        .customer
        .as_ref()
        .ok_or_else(|| FieldError::new("data.object.customer", "missing"))?;
    let account = AccountId::parse(customer.as_str())
        .map_err(|e| FieldError::new("data.object.customer", e))?;
    let kind = EventKind::CardExpiring {
        card: CardId::parse(&card.id).map_err(|e| FieldError::new("data.object.id", e))?,
        exp_month: month,
        exp_year: year,
    };
    one(Built::per_delivery(stripe, 0), stripe, &account, kind)
}
