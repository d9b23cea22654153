//! PayPal invoices (`INVOICING.INVOICE.*`) → canonical events: each
//! restates the invoice for its recipient, the customer
//! ([`Mapped::Linked`]).

use std::borrow::Cow;

use super::event::Invoice;
use super::mapping::{
    Built, INV, date, invoice_id, named_account, namespaced, nonempty, payment_id, refund_id,
};
use crate::domain::fields::FieldError;
use crate::domain::{Account, AccountId, EmailAddress, EventKind, Shown};
use crate::processors::{AccountHints, Link, Mapped};

/// What the invoice asks for: its `amount` (the total PayPal computed,
/// after discounts, tax and shipping). Not `due_amount`, the balance after
/// payments: pastdue subtracts the payments it is told of itself, so the
/// balance would count them twice. `due_amount` stands in only when the
/// invoice has no `amount`.
fn issued_amount(inv: &Invoice<'_>) -> Result<crate::domain::Money, FieldError> {
    if let Some(summary) = &inv.amount
        && let Some(value) = &summary.value
    {
        let code = summary
            .currency_code
            .as_deref()
            .or_else(|| inv.detail.as_ref().and_then(|d| d.currency_code.as_deref()))
            .ok_or_else(|| FieldError::new(format!("{INV}.amount.currency_code"), "missing"))?;
        let currency = crate::domain::Currency::parse(code)
            .map_err(|e| FieldError::new(format!("{INV}.amount.currency_code"), e))?;
        return crate::domain::Money::parse(value, currency)
            .map_err(|e| FieldError::new(format!("{INV}.amount.value"), e));
    }
    match &inv.due_amount {
        Some(due) => due.read(&format!("{INV}.due_amount")),
        None => Err(FieldError::new(format!("{INV}.amount"), "missing")),
    }
}

/// The invoice's customer: its first recipient. The account id is
/// `paypal:<email, lower-cased>`; its one contact is that email (billing
/// and primary), greeted by the person's name (else the business name,
/// else the address).
///
/// `hints.named` comes from the invoice's `detail.reference` (PayPal's
/// "reference data", e.g. a PO number) when it reads `pastdue:<account
/// id>`: the field the README tells a business to fill to put a PayPal
/// invoice on an account pastdue already has.
fn customer(inv: &Invoice<'_>) -> Result<(Account, AccountHints), FieldError> {
    let field = format!("{INV}.primary_recipients[0].billing_info.email_address");
    let billing = inv
        .primary_recipients
        .first()
        .and_then(|r| r.billing_info.as_ref());
    let raw = billing
        .and_then(|b| nonempty(b.email_address.as_ref()))
        .ok_or_else(|| {
            FieldError::new(
                &field,
                "missing: pastdue knows a PayPal invoice's customer by its recipient's email",
            )
        })?;
    let email = EmailAddress::parse(raw).map_err(|e| FieldError::new(&field, e))?;
    let customer = namespaced(&email.as_str().to_lowercase());
    let id = AccountId::parse(&customer).map_err(|e| FieldError::new(&field, e))?;
    let person = billing
        .and_then(|b| b.name.as_ref())
        .and_then(|n| n.person());
    let business = billing
        .and_then(|b| nonempty(b.business_name.as_ref()))
        .map(str::to_owned);
    let greeted = person
        .clone()
        .or_else(|| business.clone())
        .unwrap_or_else(|| email.as_str().to_owned());
    let name = business
        .or(person)
        .unwrap_or_else(|| email.as_str().to_owned());
    let account = Account::from_processor(id, name, Some((&greeted, email.clone())), None)
        .map_err(|e| {
            FieldError::new(format!("{INV}.primary_recipients[0].billing_info.name"), e)
        })?;
    let reference = inv.detail.as_ref().and_then(|d| d.reference.as_deref());
    let hints = AccountHints {
        customer,
        named: named_account(reference, &format!("{INV}.detail.reference"))?,
        emails: vec![email],
    };
    Ok((account, hints))
}

/// A transaction PayPal lists as done: `transaction_status` absent (the
/// published schema has none) or `SUCCESS` / `COMPLETED`.
fn settled(status: Option<&Cow<'_, str>>) -> bool {
    status.is_none_or(|s| matches!(s.as_ref(), "SUCCESS" | "COMPLETED"))
}

/// `INVOICING.INVOICE.*`: each restates the invoice (`invoice_issued`;
/// an identical restatement changes nothing), then `PAID` adds a payment
/// per listed transaction, `REFUNDED` a refund per listed refund,
/// `CANCELLED` (or an update to a cancelled invoice) voids it. Payments
/// carry PayPal's transaction id, the capture's id, so the same payment
/// arriving as `PAYMENT.CAPTURE.COMPLETED` counts once.
///
/// An invoice pastdue already has (`link`: the account it was issued to)
/// stays on that account whatever its recipient now says: a corrected
/// email must not open a second, unpaid copy elsewhere.
pub fn map_invoice(
    ev: &Built<'_>,
    kind: &str,
    inv: &Invoice<'_>,
    link: Option<Link>,
) -> Result<Mapped, FieldError> {
    let status = inv.status.as_deref().unwrap_or_default();
    if status == "DRAFT" {
        return Ok(Mapped::Ignored {
            reason: "a draft PayPal invoice is not owed yet".into(),
        });
    }
    let invoice = invoice_id(&inv.id, &format!("{INV}.id"))?;
    let detail = inv
        .detail
        .as_ref()
        .ok_or_else(|| FieldError::new(format!("{INV}.detail"), "missing"))?;
    let due = match detail
        .payment_term
        .as_ref()
        .and_then(|t| t.due_date.as_deref())
    {
        Some(d) => date(d, &format!("{INV}.detail.payment_term.due_date"))?,
        None => {
            let d = detail.invoice_date.as_deref().ok_or_else(|| {
                FieldError::new(
                    format!("{INV}.detail.invoice_date"),
                    "missing (and no due date)",
                )
            })?;
            date(d, &format!("{INV}.detail.invoice_date"))?
        }
    };
    let pay_url = detail
        .metadata
        .as_ref()
        .and_then(|m| m.recipient_view_url.as_deref());
    let shown = Shown::parse(detail.invoice_number.as_deref(), pay_url).map_err(|e| {
        let field = match e.field.as_str() {
            "pay_url" => "detail.metadata.recipient_view_url",
            _ => "detail.invoice_number",
        };
        FieldError::new(format!("{INV}.{field}"), e.reason)
    })?;
    let mut kinds = vec![EventKind::InvoiceIssued {
        invoice: invoice.clone(),
        amount: issued_amount(inv)?,
        due,
        due_at: None,
        shown,
    }];
    match kind {
        "INVOICING.INVOICE.PAID" => {
            let listed = inv.payments.iter().flat_map(|p| &p.transactions);
            for (n, t) in listed.enumerate() {
                if !settled(t.transaction_status.as_ref()) {
                    continue;
                }
                let at = format!("{INV}.payments.transactions[{n}]");
                let amount = t
                    .amount
                    .as_ref()
                    .ok_or_else(|| FieldError::new(format!("{at}.amount"), "missing"))?
                    .read(&format!("{at}.amount"))?;
                // An external payment without an id is named by its place.
                let raw = nonempty(t.payment_id.as_ref())
                    .map_or_else(|| format!("{}:payment:{n}", inv.id), str::to_owned);
                kinds.push(EventKind::PaymentSucceeded {
                    invoice: invoice.clone(),
                    amount,
                    payment: Some(payment_id(&raw, &format!("{at}.payment_id"))?),
                });
            }
        }
        "INVOICING.INVOICE.REFUNDED" => {
            let listed = inv.refunds.iter().flat_map(|r| &r.transactions);
            for (n, r) in listed.enumerate() {
                let at = format!("{INV}.refunds.transactions[{n}]");
                let amount = r
                    .amount
                    .as_ref()
                    .ok_or_else(|| FieldError::new(format!("{at}.amount"), "missing"))?
                    .read(&format!("{at}.amount"))?;
                let raw = nonempty(r.refund_id.as_ref())
                    .or_else(|| nonempty(r.recipient_transaction_id.as_ref()))
                    .map_or_else(|| format!("{}:refund:{n}", inv.id), str::to_owned);
                kinds.push(EventKind::PaymentRefunded {
                    invoice: invoice.clone(),
                    amount,
                    refund: Some(refund_id(&raw, &format!("{at}.refund_id"))?),
                });
            }
        }
        "INVOICING.INVOICE.CANCELLED" => kinds.push(EventKind::InvoiceVoided { invoice }),
        "INVOICING.INVOICE.UPDATED" if status == "CANCELLED" => {
            kinds.push(EventKind::InvoiceVoided { invoice });
        }
        _ => {}
    }
    if let Some((account, _)) = link {
        return Ok(Mapped::Events {
            events: ev.events(&account, kinds)?,
            account: None,
        });
    }
    let (account, hints) = customer(inv)?;
    Ok(Mapped::Linked {
        events: ev.events(&account.id, kinds)?,
        account,
        hints,
    })
}
