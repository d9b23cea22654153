//! An invoice as Stripe's API has it now (`GET /v1/invoices/{id}`, its
//! payments expanded), turned into a delivery the webhook's reader takes:
//! the `invoice.updated` event that restates it, stamped with the time it
//! was read. Its mapping is the webhook's: the restated amount and due
//! date, void or uncollectible by its status, and each paid payment by the
//! same payment id `invoice_payment.paid` carries, so nothing counts twice.

use std::borrow::Cow;

use serde::Deserialize;

use super::event::event_body;
use crate::domain::fields::FieldError;

/// The delivery id of an invoice read at `now`: a checked read, never one
/// of Stripe's `evt_` ids.
pub fn checked_id(invoice: &str, now: i64) -> String {
    format!("checked_{invoice}_{now}")
}

/// The event body for `invoice` (the API's JSON, rendered in
/// `api_version`) read at `now` (Unix seconds).
pub fn invoice_event(invoice: &[u8], api_version: &str, now: i64) -> Result<Vec<u8>, FieldError> {
    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(borrow)]
        id: Cow<'a, str>,
        #[serde(borrow)]
        object: Cow<'a, str>,
    }
    let head: Head<'_> =
        serde_json::from_slice(invoice).map_err(|e| FieldError::new("invoice", e.to_string()))?;
    if head.object != "invoice" {
        return Err(FieldError::new(
            "object",
            format!("expected an invoice, got {}", head.object),
        ));
    }
    Ok(event_body(
        &checked_id(&head.id, now),
        "invoice.updated",
        now,
        api_version,
        invoice,
    ))
}

/// What Stripe says of an invoice, for comparing with pastdue's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceFacts {
    pub id: String,
    pub customer: Option<String>,
    /// `draft`, `open`, `paid`, `uncollectible` or `void`.
    pub status: String,
    /// What is still to pay: `amount_remaining` less credit issued after
    /// payment, never below zero.
    pub owed: crate::domain::Money,
    /// When it falls due (the same rule as the webhook's mapping).
    pub due_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Reads an invoice as `GET /v1/invoices` lists it.
pub fn invoice_facts(invoice: &[u8]) -> Result<InvoiceFacts, FieldError> {
    use super::currency::stripe_money;
    use super::objects::Invoice;
    let inv: Invoice<'_> =
        serde_json::from_slice(invoice).map_err(|e| FieldError::new("invoice", e.to_string()))?;
    let remaining = inv
        .amount_remaining
        .unwrap_or(inv.amount_due.saturating_sub(inv.amount_paid))
        .saturating_sub(inv.post_payment_credit_notes_amount)
        .max(0);
    Ok(InvoiceFacts {
        id: inv.id.to_string(),
        customer: inv.customer.as_ref().map(|c| c.as_str().to_owned()),
        status: inv.status.as_deref().unwrap_or("open").to_owned(),
        owed: stripe_money(remaining, &inv.currency, "amount_remaining")?,
        due_at: super::invoices::due_of(&inv)?,
    })
}
