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
    AccountId, Event, EventKind, InvoiceId, PaymentId, RefundId, invoice_link_key,
};
use crate::processors::numbered::numbered_events;
use crate::processors::{Delivery, Link, MapError, Mapped};

pub use super::disputes::{map_dispute, outcome};
pub use super::invoices::map_invoice;

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

pub(super) fn namespaced(id: &str) -> String {
    format!("{PAYPAL}:{id}")
}

/// The link key of a PayPal invoice id (as the store writes it when the
/// invoice is issued).
pub(super) fn invoice_key(id: &str) -> String {
    invoice_link_key(&namespaced(id))
}

pub(super) fn nonempty<'s>(s: Option<&'s Cow<'_, str>>) -> Option<&'s str> {
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
        | "BILLING.SUBSCRIPTION.PAYMENT.FAILED"
        | "CUSTOMER.DISPUTE.CREATED"
        | "CUSTOMER.DISPUTE.RESOLVED" => kind,
        // PayPal reverses a capture when a dispute or chargeback takes the
        // money back: the dispute's own events count it (opened, then
        // resolved for the buyer), so counting the reversal too would take
        // the money twice.
        "PAYMENT.CAPTURE.REVERSED" => {
            return Ok(Resource::Ignored(
                "a reversal is the money a dispute takes back: the dispute's events count it"
                    .into(),
            ));
        }
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
        "PAYMENT.CAPTURE.REFUNDED" => Resource::Refund(decode(raw, "resource")?),
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
        // The account it was issued to, if pastdue has it already.
        Resource::Invoice(inv) => vec![invoice_key(&inv.id)],
        Resource::Ignored(_) => Vec::new(),
    }
}

/// One delivery's canonical events, named `paypal:<WH id>`, then
/// `paypal:<WH id>:1`, …, all at the envelope's `create_time`.
pub struct Built<'e> {
    id: &'e str,
    at: DateTime<Utc>,
}

impl Built<'_> {
    pub(super) fn events(
        &self,
        account: &AccountId,
        kinds: Vec<EventKind>,
    ) -> Result<Vec<Event>, FieldError> {
        numbered_events(&namespaced(self.id), self.at, account, kinds)
    }

    pub(super) fn on_link(
        &self,
        (account, _): &Link,
        kind: EventKind,
    ) -> Result<Mapped, FieldError> {
        Ok(Mapped::Events {
            events: self.events(account, vec![kind])?,
            account: None,
        })
    }
}

pub(super) fn invoice_id(raw: &str, field: &str) -> Result<InvoiceId, FieldError> {
    InvoiceId::parse(&namespaced(raw)).map_err(|e| FieldError::new(field, e))
}

pub(super) fn payment_id(raw: &str, field: &str) -> Result<PaymentId, FieldError> {
    PaymentId::parse(&namespaced(raw)).map_err(|e| FieldError::new(field, e))
}

pub(super) fn refund_id(raw: &str, field: &str) -> Result<RefundId, FieldError> {
    RefundId::parse(&namespaced(raw)).map_err(|e| FieldError::new(field, e))
}

pub(super) fn date(raw: &str, field: &str) -> Result<NaiveDate, FieldError> {
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

pub(super) const INV: &str = "resource.invoice";

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
        // Only a PayPal invoice (`INV2-…`) can arrive later as its own
        // event: a checkout's own invoice number never will, and waiting
        // for it would answer PayPal "retry" for days.
        if nonempty(c.invoice_id.as_ref()).is_some_and(|i| i.starts_with("INV2-")) {
            return Ok(Mapped::WaitingForLink { ids });
        }
        return Ok(Mapped::Ignored {
            reason: format!(
                "PayPal {kind} {} is for no invoice pastdue knows: it names no PayPal invoice \
                 and its capture is not linked to one",
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
            Resource::Invoice(inv) => map_invoice(&ev, kind, inv, link),
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
