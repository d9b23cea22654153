//! Stripe invoices and invoice payments → canonical events.
//!
//! Every `invoice.*` event carries the whole invoice, so each one restates
//! it (`invoice_issued`, identical ones are no effect): what is owed is
//! `amount_due` less credit issued after payment, at the due date Stripe
//! shows, and the latest restatement wins (spec §1). Changes after
//! finalization (a credit note, a new due date) reach pastdue through the
//! `invoice.updated` Stripe sends with them.
//!
//! Payments: before basil the invoice names its payment intent (or charge)
//! and `invoice.paid` is the payment. From basil (2025-03-31) on, each
//! `invoice_payment.paid` is one payment, possibly partial, and
//! `invoice.paid` only restates the invoice, so nothing counts twice.

use chrono::{DateTime, Utc};

use super::currency::stripe_money;
use super::event::StripeEvent;
use super::mapping::Built;
use super::objects::{Invoice, InvoicePayment};
use crate::domain::fields::FieldError;
use crate::domain::{
    Account, AccountId, EmailAddress, EventKind, InvoiceId, Money, PaymentId, Shown,
    invoice_link_key,
};
use crate::processors::{Link, Mapped};

fn date_of(t: i64, field: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::from_timestamp(t, 0)
        .ok_or_else(|| FieldError::new(format!("data.object.{field}"), "out of range"))
}

/// When it falls due: `due_date`, or for an invoice charged automatically
/// (no due date) when it was finalized, else created. Never the event's own
/// time, so every event of one invoice agrees. The account's time zone
/// makes it a date.
fn due(inv: &Invoice<'_>, stripe: &StripeEvent<'_>) -> Result<DateTime<Utc>, FieldError> {
    Ok(due_of(inv)?.unwrap_or(stripe.created))
}

/// When an invoice falls due by its own fields (see [`due`]); `None` when
/// it carries none of them.
pub fn due_of(inv: &Invoice<'_>) -> Result<Option<DateTime<Utc>>, FieldError> {
    let finalized = inv.status_transitions.as_ref().and_then(|s| s.finalized_at);
    match (inv.due_date, finalized, inv.created) {
        (Some(t), _, _) => date_of(t, "due_date").map(Some),
        (None, Some(t), _) => date_of(t, "status_transitions.finalized_at").map(Some),
        (None, None, Some(t)) => date_of(t, "created").map(Some),
        (None, None, None) => Ok(None),
    }
}

/// What the invoice asks for now: `amount_due` (pre-payment credit notes
/// already lower it) less post-payment credit notes.
pub fn owed(inv: &Invoice<'_>) -> Result<Money, FieldError> {
    let amount = inv
        .amount_due
        .checked_sub(inv.post_payment_credit_notes_amount)
        .unwrap_or(0)
        .max(0);
    stripe_money(amount, &inv.currency, "amount_due")
}

fn invoice_id(raw: &str, field: &str) -> Result<InvoiceId, FieldError> {
    InvoiceId::parse(raw).map_err(|e| FieldError::new(field, e))
}

fn customer(inv: &Invoice<'_>) -> Result<AccountId, FieldError> {
    let raw = inv
        .customer
        .as_ref()
        .ok_or_else(|| FieldError::new("data.object.customer", "missing"))?;
    AccountId::parse(raw.as_str()).map_err(|e| FieldError::new("data.object.customer", e))
}

/// The customer of an invoice as a new account: its billing contact is the
/// invoice's `customer_email`, greeted by `customer_name`, called at
/// `customer_phone` when that is a number in E.164 (Stripe keeps whatever
/// was typed; anything else is left for staff to add).
fn customer_account(inv: &Invoice<'_>) -> Result<Account, FieldError> {
    let id = customer(inv)?;
    let name = inv
        .customer_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(id.as_str())
        .to_owned();
    let email = inv
        .customer_email
        .as_deref()
        .and_then(|e| EmailAddress::parse(e).ok());
    let greeted = name.clone();
    Account::from_processor(
        id,
        name,
        email.map(|e| (greeted.as_str(), e)),
        inv.customer_phone.as_deref(),
    )
    .map_err(|e| FieldError::new("data.object.customer_name", e))
}

fn payment_id(raw: &str, field: &str) -> Result<PaymentId, FieldError> {
    PaymentId::parse(raw).map_err(|e| FieldError::new(field, e))
}

/// The payment an invoice names before basil: its payment intent, else its
/// charge, else (paid out of band) the invoice itself, so that
/// `invoice.paid` and `invoice.payment_succeeded` count it once.
fn legacy_payment(inv: &Invoice<'_>, invoice: &InvoiceId) -> Result<EventKind, FieldError> {
    let payment = match inv.payment_intent.as_ref().or(inv.charge.as_ref()) {
        Some(p) if !p.as_str().is_empty() => p.as_str().to_owned(),
        _ => format!("invoice_{invoice}"),
    };
    Ok(EventKind::PaymentSucceeded {
        invoice: invoice.clone(),
        amount: stripe_money(inv.amount_paid, &inv.currency, "amount_paid")?,
        payment: Some(payment_id(&payment, "data.object.payment_intent")?),
    })
}

/// A paid invoice payment as the payment it is.
fn paid(payment: &InvoicePayment<'_>, invoice: InvoiceId) -> Result<Option<EventKind>, FieldError> {
    if payment.status != "paid" {
        return Ok(None);
    }
    let amount = payment
        .amount_paid
        .ok_or_else(|| FieldError::new("data.object.amount_paid", "missing on a paid payment"))?;
    let id = payment
        .payment
        .id()
        .ok_or_else(|| FieldError::new("data.object.payment", "names no payment"))?;
    Ok(Some(EventKind::PaymentSucceeded {
        invoice,
        amount: stripe_money(amount, &payment.currency, "amount_paid")?,
        payment: Some(payment_id(id, "data.object.payment")?),
    }))
}

/// Maps an `invoice.*` event.
pub fn map_invoice(stripe: &StripeEvent<'_>, inv: &Invoice<'_>) -> Result<Mapped, FieldError> {
    let invoice = invoice_id(&inv.id, "data.object.id")?;
    let status = inv.status.as_deref().unwrap_or_default();
    if status == "draft" {
        return Ok(Mapped::Ignored {
            reason: "a draft invoice is not owed yet".into(),
        });
    }
    let due_at = due(inv, stripe)?;
    let restated = EventKind::InvoiceIssued {
        invoice: invoice.clone(),
        amount: owed(inv)?,
        due: due_at.date_naive(),
        due_at: Some(due_at),
        shown: Shown::parse(inv.number.as_deref(), inv.hosted_invoice_url.as_deref()).map_err(
            |e| {
                let field = match e.field.as_str() {
                    "pay_url" => "hosted_invoice_url",
                    other => other,
                };
                FieldError::new(format!("data.object.{field}"), e.reason)
            },
        )?,
    };
    let legacy = !stripe.basil_or_later();
    let mut kinds = vec![restated];
    match stripe.kind.as_ref() {
        "invoice.voided" => kinds.push(EventKind::InvoiceVoided { invoice }),
        "invoice.updated" if status == "void" => kinds.push(EventKind::InvoiceVoided { invoice }),
        // Uncollectible is not void: still owed, no longer chased, and a
        // suspended customer stays suspended until it is paid (spec §1).
        "invoice.marked_uncollectible" => kinds.push(EventKind::InvoiceWrittenOff { invoice }),
        "invoice.updated" if status == "uncollectible" => {
            kinds.push(EventKind::InvoiceWrittenOff { invoice });
        }
        "invoice.payment_failed" => {
            let attempts = inv.attempt_count.unwrap_or(1);
            kinds.push(EventKind::PaymentFailed {
                invoice,
                amount: stripe_money(inv.amount_due, &inv.currency, "amount_due")?,
                reason: format!("payment attempt {attempts} failed"),
                will_retry: false,
            });
        }
        "invoice.paid" | "invoice.payment_succeeded" | "invoice.updated"
            if legacy && status == "paid" && inv.amount_paid > 0 =>
        {
            kinds.push(legacy_payment(inv, &invoice)?);
        }
        "invoice.paid" | "invoice.payment_succeeded" | "invoice.updated" if !legacy => {
            // Only an expanded `payments` list is read here; it names the
            // same payments `invoice_payment.paid` does.
            for payment in inv.payments.iter().flat_map(|l| &l.data) {
                kinds.extend(paid(payment, invoice.clone())?);
            }
        }
        _ => {}
    }
    let account = customer(inv)?;
    let events = kinds
        .into_iter()
        .enumerate()
        .map(|(n, kind)| Built::per_delivery(stripe, n).event(stripe, &account, kind))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Mapped::Events {
        events,
        account: Some(customer_account(inv)?),
    })
}

/// Maps `invoice_payment.paid`; `link` is the account of its invoice.
pub fn map_invoice_payment(
    stripe: &StripeEvent<'_>,
    payment: &InvoicePayment<'_>,
    link: Option<Link>,
) -> Result<Mapped, FieldError> {
    let Some((account, invoice)) = link else {
        return Ok(Mapped::WaitingForLink {
            ids: vec![invoice_link_key(payment.invoice.as_str())],
        });
    };
    match paid(payment, invoice)? {
        Some(kind) => Ok(Mapped::Events {
            events: vec![Built::per_delivery(stripe, 0).event(stripe, &account, kind)?],
            account: None,
        }),
        None => Ok(Mapped::Ignored {
            reason: format!("invoice payment is {}, not paid", payment.status),
        }),
    }
}
