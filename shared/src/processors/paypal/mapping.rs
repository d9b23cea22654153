//! PayPal deliveries → canonical events. Pure: the caller resolves payment
//! links and passes them in. The body is read once: the envelope, then the
//! one typed resource the event's type needs ([`Resource`]).
//!
//! Every id is namespaced `paypal:` so it never meets another processor's:
//! canonical event ids `paypal:<WH id>` (then `paypal:<WH id>:1`, `:2`, …
//! when one delivery makes several events), invoices `paypal:<INV2-…>`,
//! payments `paypal:<capture / transaction id>`, refunds `paypal:<refund
//! id>`, disputes `paypal:<PP-D-…>`.
//!
//! Invoices (`INVOICING.INVOICE.*`) carry their recipient, so they name
//! their customer ([`Mapped::Linked`]); captures, refunds, subscription
//! failures and disputes name a payment or invoice and are mapped on the
//! [`Link`] the store resolves for it.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::value::RawValue;

use super::event::{
    Capture, Dispute, Envelope, Invoice, InvoiceResource, Subscription, decode, instant,
};
use crate::domain::fields::{FieldError, parse_date};
use crate::domain::{
    Account, AccountId, Contact, DisputeId, EmailAddress, Event, EventId, EventKind, InvoiceId,
    Outcome, PaymentId, RefundId, Role, Shown, invoice_link_key,
};
use crate::processors::{AccountHints, Delivery, Link, MapError, Mapped};

/// The processor's name in errors and namespaced ids.
pub const PAYPAL: &str = "paypal";

/// The resource of an event whose type pastdue acts on.
#[derive(Debug)]
pub enum Resource<'a> {
    /// `INVOICING.INVOICE.CREATED`, `UPDATED`, `PAID`, `CANCELLED`,
    /// `REFUNDED`.
    Invoice(Box<Invoice<'a>>),
    /// `PAYMENT.CAPTURE.COMPLETED`, `DENIED`.
    Capture(Capture<'a>),
    /// `PAYMENT.CAPTURE.REFUNDED`, `REVERSED`: a refund.
    Refund(Capture<'a>),
    /// `BILLING.SUBSCRIPTION.PAYMENT.FAILED`.
    Subscription(Subscription<'a>),
    /// `CUSTOMER.DISPUTE.CREATED`, `RESOLVED`.
    Dispute(Box<Dispute<'a>>),
    /// A type pastdue does not act on, and why.
    Ignored(String),
}

fn namespaced(id: &str) -> String {
    format!("{PAYPAL}:{id}")
}

/// The link key of a PayPal invoice id (as the store writes it when the
/// invoice is issued).
fn invoice_key(id: &str) -> String {
    invoice_link_key(&namespaced(id))
}

fn nonempty<'s>(s: Option<&'s Cow<'_, str>>) -> Option<&'s str> {
    s.map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// The resource `kind` needs, from `raw`.
pub fn read_resource<'a>(
    kind: &str,
    raw: Option<&'a RawValue>,
) -> Result<Resource<'a>, FieldError> {
    let needed = match kind {
        "INVOICING.INVOICE.CREATED"
        | "INVOICING.INVOICE.UPDATED"
        | "INVOICING.INVOICE.PAID"
        | "INVOICING.INVOICE.CANCELLED"
        | "INVOICING.INVOICE.REFUNDED"
        | "PAYMENT.CAPTURE.COMPLETED"
        | "PAYMENT.CAPTURE.DENIED"
        | "PAYMENT.CAPTURE.REFUNDED"
        | "PAYMENT.CAPTURE.REVERSED"
        | "BILLING.SUBSCRIPTION.PAYMENT.FAILED"
        | "CUSTOMER.DISPUTE.CREATED"
        | "CUSTOMER.DISPUTE.RESOLVED" => kind,
        "CUSTOMER.DISPUTE.UPDATED" => {
            return Ok(Resource::Ignored(
                "a dispute update moves no funds: its opening and resolution are their own events"
                    .into(),
            ));
        }
        other => {
            return Ok(Resource::Ignored(format!(
                "{other} is not an event pastdue acts on"
            )));
        }
    };
    let raw = raw.ok_or_else(|| FieldError::new("resource", "missing"))?;
    Ok(match needed {
        k if k.starts_with("INVOICING.") => {
            // Webhook events wrap the invoice (`resource.invoice`); the
            // invoice alone is read too.
            let wrapped: InvoiceResource<'a> = decode(raw, "resource")?;
            let invoice = match wrapped.invoice {
                Some(inner) => decode(inner, "resource.invoice")?,
                None => decode(raw, "resource")?,
            };
            Resource::Invoice(Box::new(invoice))
        }
        "PAYMENT.CAPTURE.COMPLETED" | "PAYMENT.CAPTURE.DENIED" => {
            Resource::Capture(decode(raw, "resource")?)
        }
        "PAYMENT.CAPTURE.REFUNDED" | "PAYMENT.CAPTURE.REVERSED" => {
            Resource::Refund(decode(raw, "resource")?)
        }
        "BILLING.SUBSCRIPTION.PAYMENT.FAILED" => Resource::Subscription(decode(raw, "resource")?),
        _ => Resource::Dispute(Box::new(decode(raw, "resource")?)),
    })
}

/// The invoice a subscription's failed payment is for.
///
/// PayPal bills a subscription without an invoice of its own, so the
/// failure is mapped only onto an invoice pastdue already knows: the one
/// the subscription's `custom_id` names ("The custom id for the
/// subscription. Can be invoice id." — billing subscriptions v1), as
/// `paypal:<custom_id>`, else an invoice issued under the subscription's
/// own id, `paypal:<I-…>`. A `custom_id` of the form `pastdue:<account>`
/// names an account, not an invoice, and is not tried. With neither
/// linked, the failure is ignored: there is no invoice to chase.
pub fn subscription_links(s: &Subscription<'_>) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(custom) = nonempty(s.custom_id.as_ref())
        && !custom.starts_with("pastdue:")
    {
        keys.push(invoice_key(custom));
    }
    keys.push(invoice_key(&s.id));
    keys
}

/// The link keys a resource's mapping needs, in the order to try them.
pub fn link_ids(resource: &Resource<'_>) -> Vec<String> {
    match resource {
        Resource::Capture(c) => {
            let mut ids = vec![namespaced(&c.id)];
            ids.extend(nonempty(c.invoice_id.as_ref()).map(invoice_key));
            ids
        }
        Resource::Refund(r) => {
            let mut ids: Vec<String> = r.refunded_capture().iter().map(|c| namespaced(c)).collect();
            ids.extend(nonempty(r.invoice_id.as_ref()).map(invoice_key));
            ids
        }
        Resource::Subscription(s) => subscription_links(s),
        Resource::Dispute(d) => d
            .disputed_transactions
            .iter()
            .filter_map(|t| nonempty(t.seller_transaction_id.as_ref()))
            .map(namespaced)
            .collect(),
        Resource::Invoice(_) | Resource::Ignored(_) => Vec::new(),
    }
}

/// One delivery's canonical events, named `paypal:<WH id>`, then
/// `paypal:<WH id>:1`, …, all at the envelope's `create_time`.
pub struct Built<'e> {
    id: &'e str,
    at: DateTime<Utc>,
}

impl Built<'_> {
    fn events(&self, account: &AccountId, kinds: Vec<EventKind>) -> Result<Vec<Event>, FieldError> {
        kinds
            .into_iter()
            .enumerate()
            .map(|(n, kind)| {
                let raw = match n {
                    0 => namespaced(self.id),
                    n => format!("{}:{n}", namespaced(self.id)),
                };
                Ok(Event {
                    id: EventId::parse(&raw).map_err(|e| FieldError::new("id", e))?,
                    at: self.at,
                    account: account.clone(),
                    kind,
                    via: None,
                })
            })
            .collect()
    }

    fn on_link(&self, (account, _): &Link, kind: EventKind) -> Result<Mapped, FieldError> {
        Ok(Mapped::Events {
            events: self.events(account, vec![kind])?,
            account: None,
        })
    }
}

fn invoice_id(raw: &str, field: &str) -> Result<InvoiceId, FieldError> {
    InvoiceId::parse(&namespaced(raw)).map_err(|e| FieldError::new(field, e))
}

fn payment_id(raw: &str, field: &str) -> Result<PaymentId, FieldError> {
    PaymentId::parse(&namespaced(raw)).map_err(|e| FieldError::new(field, e))
}

fn refund_id(raw: &str, field: &str) -> Result<RefundId, FieldError> {
    RefundId::parse(&namespaced(raw)).map_err(|e| FieldError::new(field, e))
}

fn date(raw: &str, field: &str) -> Result<NaiveDate, FieldError> {
    parse_date(raw).map_err(|e| FieldError::new(field, e))
}

/// An account id the business named: `pastdue:<account id>`; anything
/// else names none.
pub fn named_account(raw: Option<&str>, field: &str) -> Result<Option<AccountId>, FieldError> {
    raw.map(str::trim)
        .and_then(|r| r.strip_prefix("pastdue:"))
        .map(|id| AccountId::parse(id.trim()).map_err(|e| FieldError::new(field, e)))
        .transpose()
}

const INV: &str = "resource.invoice";

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
    let contact = Contact::new(
        &greeted,
        email.clone(),
        [Role::Billing, Role::Primary].into(),
    )
    .map_err(|e| FieldError::new(format!("{INV}.primary_recipients[0].billing_info.name"), e))?;
    let account = Account {
        id,
        name: business
            .or(person)
            .unwrap_or_else(|| email.as_str().to_owned()),
        timezone: chrono_tz::Tz::UTC,
        exempt: false,
        contacts: vec![contact],
    };
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
pub fn map_invoice(ev: &Built<'_>, kind: &str, inv: &Invoice<'_>) -> Result<Mapped, FieldError> {
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
    let (account, hints) = customer(inv)?;
    Ok(Mapped::Linked {
        events: ev.events(&account.id, kinds)?,
        account,
        hints,
    })
}

/// `PAYMENT.CAPTURE.*`: on the invoice its link names. A capture (or
/// refund) that says which invoice it is for (`invoice_id`) waits for that
/// invoice's link; one that names none, and whose capture pastdue has not
/// linked, is not for an invoice pastdue knows.
pub fn map_capture(
    ev: &Built<'_>,
    kind: &str,
    c: &Capture<'_>,
    link: Option<Link>,
    ids: Vec<String>,
) -> Result<Mapped, FieldError> {
    let Some(link) = link else {
        if nonempty(c.invoice_id.as_ref()).is_some() {
            return Ok(Mapped::WaitingForLink { ids });
        }
        return Ok(Mapped::Ignored {
            reason: format!(
                "PayPal {kind} {} is for no invoice pastdue knows: it names no invoice_id and \
                 its capture is not linked to one",
                c.id
            ),
        });
    };
    let invoice = link.1.clone();
    let amount = c
        .amount
        .as_ref()
        .ok_or_else(|| FieldError::new("resource.amount", "missing"))?
        .read("resource.amount")?;
    let event = match kind {
        "PAYMENT.CAPTURE.COMPLETED" => EventKind::PaymentSucceeded {
            invoice,
            amount,
            payment: Some(payment_id(&c.id, "resource.id")?),
        },
        "PAYMENT.CAPTURE.DENIED" => {
            let reason = c
                .status_details
                .as_ref()
                .and_then(|d| nonempty(d.reason.as_ref()));
            EventKind::PaymentFailed {
                invoice,
                amount,
                reason: match reason {
                    Some(r) => format!("PayPal denied the payment ({r})"),
                    None => "PayPal denied the payment".into(),
                },
                will_retry: false,
            }
        }
        // REFUNDED, REVERSED: the resource is the refund.
        _ => EventKind::PaymentRefunded {
            invoice,
            amount,
            refund: Some(refund_id(&c.id, "resource.id")?),
        },
    };
    ev.on_link(&link, event)
}

/// `BILLING.SUBSCRIPTION.PAYMENT.FAILED`, on the invoice
/// [`subscription_links`] resolved; PayPal retrying by itself
/// (`next_payment_retry_time`) is `will_retry`.
pub fn map_subscription_failed(
    ev: &Built<'_>,
    s: &Subscription<'_>,
    link: Option<Link>,
) -> Result<Mapped, FieldError> {
    let Some(link) = link else {
        return Ok(Mapped::Ignored {
            reason: format!(
                "PayPal subscription {} names no invoice pastdue knows (its custom_id, or an \
                 invoice issued under the subscription's id)",
                s.id
            ),
        });
    };
    let field = "resource.billing_info.last_failed_payment";
    let failed = s
        .billing_info
        .as_ref()
        .and_then(|b| b.last_failed_payment.as_ref())
        .ok_or_else(|| FieldError::new(field, "missing"))?;
    let amount = failed
        .amount
        .as_ref()
        .ok_or_else(|| FieldError::new(format!("{field}.amount"), "missing"))?
        .read(&format!("{field}.amount"))?;
    let reason = match nonempty(failed.reason_code.as_ref()) {
        Some(code) => format!("PayPal subscription payment failed ({code})"),
        None => "PayPal subscription payment failed".into(),
    };
    let kind = EventKind::PaymentFailed {
        invoice: link.1.clone(),
        amount,
        reason,
        will_retry: nonempty(failed.next_payment_retry_time.as_ref()).is_some(),
    };
    ev.on_link(&link, kind)
}

/// How a resolved dispute ended, by PayPal's `dispute_outcome.outcome_code`
/// (customer disputes v1): the seller keeps the money when the dispute is
/// resolved in their favour, cancelled by the buyer or denied; loses it
/// when resolved for the buyer, with a payout, accepted or refunded.
/// `NONE` names no winner: `None`.
pub fn outcome(code: &str) -> Result<Option<Outcome>, String> {
    match code {
        "RESOLVED_SELLER_FAVOUR" | "CANCELED_BY_BUYER" | "DENIED" => Ok(Some(Outcome::Won)),
        "RESOLVED_BUYER_FAVOUR" | "RESOLVED_WITH_PAYOUT" | "ACCEPTED" | "REFUNDED" => {
            Ok(Some(Outcome::Lost))
        }
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

/// A PayPal delivery as [`super::PaypalProcessor`] read it.
#[derive(Debug)]
pub struct PaypalDelivery<'a> {
    pub id: Cow<'a, str>,
    pub kind: Cow<'a, str>,
    pub created: Result<DateTime<Utc>, FieldError>,
    pub resource: Result<Resource<'a>, FieldError>,
}

impl<'a> PaypalDelivery<'a> {
    /// Reads a body; one that is not a PayPal event is an error, one whose
    /// resource does not read is an error when mapped (its id is known).
    pub fn read(body: &'a [u8]) -> Result<Self, MapError> {
        let envelope: Envelope<'a> = serde_json::from_slice(body).map_err(|e| {
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Err(not_json) => MapError::NotJson(not_json.to_string()),
                Ok(_) => MapError::NotAnEvent(FieldError::new("event", e)),
            }
        })?;
        if envelope.id.trim().is_empty() {
            return Err(MapError::NotAnEvent(FieldError::new("id", "empty")));
        }
        if envelope.event_type.trim().is_empty() {
            return Err(MapError::NotAnEvent(FieldError::new("event_type", "empty")));
        }
        let created = envelope
            .create_time
            .as_deref()
            .ok_or_else(|| FieldError::new("create_time", "missing"))
            .and_then(|t| instant(t, "create_time"));
        let resource = read_resource(&envelope.event_type, envelope.resource);
        Ok(Self {
            id: envelope.id,
            kind: envelope.event_type,
            created,
            resource,
        })
    }

    fn field(&self, error: FieldError) -> MapError {
        MapError::Field {
            processor: PAYPAL,
            id: self.id.to_string(),
            kind: self.kind.to_string(),
            error,
        }
    }
}

impl Delivery for PaypalDelivery<'_> {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> Option<&str> {
        Some(&self.kind)
    }

    fn links_needed(&self) -> Vec<String> {
        self.resource.as_ref().map(link_ids).unwrap_or_default()
    }

    fn map(&self, link: Option<Link>) -> Result<Mapped, MapError> {
        let resource = self.resource.as_ref().map_err(|e| self.field(e.clone()))?;
        if let Resource::Ignored(reason) = resource {
            return Ok(Mapped::Ignored {
                reason: reason.clone(),
            });
        }
        let at = *self.created.as_ref().map_err(|e| self.field(e.clone()))?;
        let ev = Built { id: &self.id, at };
        let kind = self.kind.as_ref();
        let ids = || link_ids(resource);
        match resource {
            Resource::Invoice(inv) => map_invoice(&ev, kind, inv),
            Resource::Capture(c) | Resource::Refund(c) => map_capture(&ev, kind, c, link, ids()),
            Resource::Subscription(s) => map_subscription_failed(&ev, s, link),
            Resource::Dispute(d) => map_dispute(&ev, kind, d, link, ids()),
            Resource::Ignored(reason) => Ok(Mapped::Ignored {
                reason: reason.clone(),
            }),
        }
        .map_err(|e| self.field(e))
    }
}
