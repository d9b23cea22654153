//! Stripe deliveries → canonical events (spec §1). Pure: the caller resolves
//! payment links (charge / payment intent / invoice → account and invoice)
//! and passes them in. The body is read once: the envelope, then the one
//! typed object the event's type needs ([`Object`]).

use super::StripeProcessor;
use super::cards::{map_customer, map_payment_method};
use super::charges::{map_charge_refunded, map_dispute, map_expiring_card, map_refund};
use super::event::{Body, StripeEvent};
use super::invoices::{map_invoice, map_invoice_payment};
use super::objects::{
    Charge, Customer, Dispute, ExpiringCard, Invoice, InvoicePayment, PaymentMethod, Refund,
    payment_keys,
};
use super::tagged::Read;
use crate::domain::fields::FieldError;
use crate::domain::{AccountId, Event, EventId, EventKind, invoice_link_key};
use crate::processors::{Delivery, FromSecret, Link, MapError, Mapped};

/// The object of an event whose type pastdue acts on.
#[derive(Debug)]
pub enum Object<'a> {
    Invoice(Box<Invoice<'a>>),
    InvoicePayment(InvoicePayment<'a>),
    Refund(Refund<'a>),
    Charge(Charge<'a>),
    Dispute(Dispute<'a>),
    ExpiringCard(ExpiringCard<'a>),
    PaymentMethod(PaymentMethod<'a>),
    Customer(Customer<'a>),
    /// A type pastdue does not act on, and why.
    Ignored(String),
}

/// The object `stripe`'s type needs, from its `body`.
pub fn read_object<'a>(stripe: &StripeEvent<'a>, body: Body<'a>) -> Result<Object<'a>, FieldError> {
    let tag = match stripe.kind.as_ref() {
        "invoice.finalized"
        | "invoice.updated"
        | "invoice.paid"
        | "invoice.payment_succeeded"
        | "invoice.payment_failed"
        | "invoice.voided"
        | "invoice.marked_uncollectible" => "invoice",
        "invoice_payment.paid" => "invoice_payment",
        "refund.created" | "refund.updated" | "refund.failed" | "charge.refund.updated" => "refund",
        "charge.refunded" => "charge",
        "charge.dispute.created"
        | "charge.dispute.closed"
        | "charge.dispute.funds_withdrawn"
        | "charge.dispute.funds_reinstated" => "dispute",
        "customer.source.expiring" => "card",
        "payment_method.attached"
        | "payment_method.updated"
        | "payment_method.automatically_updated"
        | "payment_method.detached" => "payment_method",
        "customer.created" | "customer.updated" => "customer",
        "credit_note.created" | "credit_note.updated" | "credit_note.voided" => {
            return Ok(Object::Ignored(
                "a credit note changes what is owed through the invoice.updated Stripe sends with it"
                    .into(),
            ));
        }
        other => {
            return Ok(Object::Ignored(format!(
                "{other} is not an event pastdue acts on"
            )));
        }
    };
    Ok(match stripe.object(body, tag)? {
        Read::Invoice(o) if tag == "invoice" => Object::Invoice(o),
        Read::InvoicePayment(o) if tag == "invoice_payment" => Object::InvoicePayment(o),
        Read::Refund(o) if tag == "refund" => Object::Refund(o),
        Read::Charge(o) if tag == "charge" => Object::Charge(o),
        Read::Dispute(o) if tag == "dispute" => Object::Dispute(o),
        Read::ExpiringCard(o) if tag == "card" => Object::ExpiringCard(o),
        Read::PaymentMethod(o) if tag == "payment_method" => Object::PaymentMethod(o),
        Read::Customer(o) if tag == "customer" => Object::Customer(o),
        other => {
            return Err(FieldError::new(
                "data.object.object",
                format!(
                    "{} carries `{tag}` objects, not `{}`",
                    stripe.kind,
                    other.tag()
                ),
            ));
        }
    })
}

/// The link keys an object's mapping needs, in the order to try them.
pub fn link_ids(object: &Object<'_>) -> Vec<String> {
    match object {
        Object::InvoicePayment(p) => vec![invoice_link_key(p.invoice.as_str())],
        Object::Refund(r) => payment_keys(r.payment_intent.as_ref(), r.charge.as_ref()),
        Object::Dispute(d) => payment_keys(d.payment_intent.as_ref(), d.charge.as_ref()),
        Object::Charge(c) => {
            let mut ids = payment_keys(c.payment_intent.as_ref(), None);
            ids.push(c.id.to_string());
            ids
        }
        _ => Vec::new(),
    }
}

/// How a canonical event from a Stripe delivery is named: per delivery
/// (`stripe:<event id>:<n>`) or per fact (`stripe:refund:<id>`), when one
/// fact can come in several of Stripe's events.
pub struct Built {
    id: String,
}

impl Built {
    pub fn per_delivery(stripe: &StripeEvent<'_>, n: usize) -> Self {
        Self {
            id: format!("stripe:{}:{n}", stripe.id),
        }
    }

    pub fn fact(fact: String) -> Self {
        Self {
            id: format!("stripe:{fact}"),
        }
    }

    pub fn event(
        self,
        stripe: &StripeEvent<'_>,
        account: &AccountId,
        kind: EventKind,
    ) -> Result<Event, FieldError> {
        Ok(Event {
            id: EventId::parse(&self.id).map_err(|e| FieldError::new("id", e))?,
            at: stripe.created,
            account: account.clone(),
            kind,
            via: None,
        })
    }
}

/// Maps one read delivery. `link` is what [`link_ids`] resolved to.
pub fn map(
    stripe: &StripeEvent<'_>,
    object: &Result<Object<'_>, FieldError>,
    link: Option<Link>,
) -> Result<Mapped, MapError> {
    let field = |error| MapError::Field {
        processor: StripeProcessor::NAME,
        id: stripe.id.to_string(),
        kind: stripe.kind.to_string(),
        error,
    };
    let object = object.as_ref().map_err(|e| field(e.clone()))?;
    let ids = || link_ids(object);
    match object {
        Object::Invoice(inv) => map_invoice(stripe, inv),
        Object::InvoicePayment(p) => map_invoice_payment(stripe, p, link),
        Object::Refund(r) => map_refund(stripe, r, link, ids()),
        Object::Charge(c) => map_charge_refunded(stripe, c, link, ids()),
        Object::Dispute(d) => map_dispute(stripe, d, link, ids()),
        Object::ExpiringCard(c) => map_expiring_card(stripe, c),
        Object::PaymentMethod(pm) => map_payment_method(stripe, pm),
        Object::Customer(c) => map_customer(stripe, c),
        Object::Ignored(reason) => Ok(Mapped::Ignored {
            reason: reason.clone(),
        }),
    }
    .map_err(field)
}

use super::thin::THIN;

/// Only what tells a body's kind apart when it is not a snapshot event.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow)]
    object: Option<std::borrow::Cow<'a, str>>,
}

/// A Stripe delivery as [`super::StripeProcessor`] read it.
pub struct StripeDelivery<'a> {
    pub event: StripeEvent<'a>,
    pub object: Result<Object<'a>, FieldError>,
}

impl<'a> StripeDelivery<'a> {
    /// Reads a body; one that is not a Stripe event is an error, one whose
    /// object does not read is an error when mapped (its id is known).
    pub fn read(body: &'a [u8]) -> Result<Self, MapError> {
        let (event, object) =
            StripeEvent::parse(body).map_err(|e| {
                match serde_json::from_slice::<Envelope<'_>>(body) {
                    Err(not_json) => MapError::NotJson(not_json.to_string()),
                    Ok(envelope) if envelope.object.as_deref() == Some(THIN) => {
                        MapError::NotAnEvent(FieldError::new(
                            "object",
                            "a thin event (v2.core.event) names its object without it: \
                         send pastdue snapshot events (payload style \"snapshot\"), \
                         or give it a Stripe API key to read v1 objects with",
                        ))
                    }
                    Ok(_) => MapError::NotAnEvent(e),
                }
            })?;
        let object = read_object(&event, object);
        Ok(Self { event, object })
    }
}

/// A body from Stripe's API (an event as `GET /v1/events` lists it), read
/// as a webhook's is.
pub fn read_delivery(body: &[u8]) -> Result<Box<dyn Delivery + '_>, MapError> {
    Ok(Box::new(StripeDelivery::read(body)?))
}

impl Delivery for StripeDelivery<'_> {
    fn id(&self) -> &str {
        &self.event.id
    }

    fn kind(&self) -> Option<&str> {
        Some(&self.event.kind)
    }

    fn links_needed(&self) -> Vec<String> {
        self.object.as_ref().map(link_ids).unwrap_or_default()
    }

    fn map(&self, link: Option<Link>) -> Result<Mapped, MapError> {
        map(&self.event, &self.object, link)
    }
}
