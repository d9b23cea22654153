//! The Stripe objects pastdue reads, with only the fields its mappings use
//! (every other field is skipped unread). Optional fields are the ones some
//! supported API version does not send; see
//! `shared/tests/fixtures/stripe/README.md` for which version sends what.

use std::borrow::Cow;

use serde::Deserialize;

use super::event::{Id, List};

/// An invoice (`invoice.*` events).
#[derive(Debug, Deserialize)]
pub struct Invoice<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub customer: Option<Id<'a>>,
    #[serde(borrow)]
    pub currency: Cow<'a, str>,
    pub amount_due: i64,
    #[serde(default)]
    pub amount_paid: i64,
    /// What is still to pay (read by the drift report only).
    #[serde(default)]
    pub amount_remaining: Option<i64>,
    /// Credit issued after payment (a refund, the customer's balance, or
    /// out of band): no longer owed, though `amount_due` keeps it.
    #[serde(default)]
    pub post_payment_credit_notes_amount: i64,
    #[serde(default)]
    pub due_date: Option<i64>,
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default)]
    pub status_transitions: Option<StatusTransitions>,
    #[serde(default, borrow)]
    pub status: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub customer_email: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub customer_name: Option<Cow<'a, str>>,
    /// As the customer typed it: taken only when it reads as E.164.
    #[serde(default, borrow)]
    pub customer_phone: Option<Cow<'a, str>>,
    /// Before basil only.
    #[serde(default, borrow)]
    pub payment_intent: Option<Id<'a>>,
    /// Before basil only.
    #[serde(default, borrow)]
    pub charge: Option<Id<'a>>,
    /// Before basil only.
    #[serde(default)]
    pub paid_out_of_band: Option<bool>,
    #[serde(default)]
    pub attempt_count: Option<i64>,
    /// What the customer sees on the invoice, set at finalization.
    #[serde(default, borrow)]
    pub number: Option<Cow<'a, str>>,
    /// The page where the customer pays it.
    #[serde(default, borrow)]
    pub hosted_invoice_url: Option<Cow<'a, str>>,
    /// Basil and later, only when expanded.
    #[serde(default, borrow)]
    pub payments: Option<List<InvoicePayment<'a>>>,
}

#[derive(Debug, Deserialize)]
pub struct StatusTransitions {
    #[serde(default)]
    pub finalized_at: Option<i64>,
}

/// One payment towards an invoice (basil and later: `invoice_payment.paid`).
#[derive(Debug, Deserialize)]
pub struct InvoicePayment<'a> {
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub invoice: Id<'a>,
    #[serde(default)]
    pub amount_paid: Option<i64>,
    #[serde(borrow)]
    pub currency: Cow<'a, str>,
    #[serde(borrow)]
    pub payment: PaymentRef<'a>,
    #[serde(borrow)]
    pub status: Cow<'a, str>,
}

/// What paid an invoice payment: a payment intent, a charge without one,
/// or a payment record (money recorded as received outside Stripe).
#[derive(Debug, Deserialize)]
pub struct PaymentRef<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, borrow)]
    pub payment_intent: Option<Id<'a>>,
    #[serde(default, borrow)]
    pub charge: Option<Id<'a>>,
    #[serde(default, borrow)]
    pub payment_record: Option<Id<'a>>,
}

impl PaymentRef<'_> {
    /// The id disputes and refunds of this payment will name.
    pub fn id(&self) -> Option<&str> {
        let by_kind = match self.kind.as_ref() {
            "payment_intent" => self.payment_intent.as_ref(),
            "charge" => self.charge.as_ref(),
            "payment_record" => self.payment_record.as_ref(),
            _ => None,
        };
        by_kind
            .or(self.payment_intent.as_ref())
            .or(self.charge.as_ref())
            .or(self.payment_record.as_ref())
            .map(Id::as_str)
    }
}

/// A refund (`refund.*`, `charge.refund.updated`, and `charge.refunded`
/// when its list is sent).
#[derive(Debug, Deserialize)]
pub struct Refund<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    pub amount: i64,
    #[serde(borrow)]
    pub currency: Cow<'a, str>,
    #[serde(default, borrow)]
    pub charge: Option<Id<'a>>,
    #[serde(default, borrow)]
    pub payment_intent: Option<Id<'a>>,
    #[serde(default, borrow)]
    pub status: Option<Cow<'a, str>>,
}

impl Refund<'_> {
    /// A refund that failed or was cancelled gave nothing back.
    pub fn returned(&self) -> bool {
        matches!(self.status.as_deref(), Some("failed" | "canceled"))
    }
}

/// A charge (`charge.refunded`).
#[derive(Debug, Deserialize)]
pub struct Charge<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub payment_intent: Option<Id<'a>>,
    /// Not sent since 2022-11-15 unless expanded.
    #[serde(default, borrow)]
    pub refunds: Option<List<Refund<'a>>>,
}

/// A dispute (`charge.dispute.*`).
#[derive(Debug, Deserialize)]
pub struct Dispute<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    pub amount: i64,
    #[serde(borrow)]
    pub currency: Cow<'a, str>,
    #[serde(default, borrow)]
    pub charge: Option<Id<'a>>,
    #[serde(default, borrow)]
    pub payment_intent: Option<Id<'a>>,
    #[serde(borrow)]
    pub status: Cow<'a, str>,
    /// Every version sends it; `due_by` is null once evidence is closed.
    #[serde(default)]
    pub evidence_details: Option<EvidenceDetails>,
}

/// When a dispute's evidence is due.
#[derive(Debug, Deserialize)]
pub struct EvidenceDetails {
    #[serde(default)]
    pub due_by: Option<i64>,
}

/// A legacy card or source (`customer.source.expiring`).
#[derive(Debug, Deserialize)]
pub struct ExpiringCard<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub customer: Option<Id<'a>>,
    pub exp_month: i64,
    pub exp_year: i64,
}

/// The ids a payment-linked object names, payment intent first.
pub fn payment_keys(payment_intent: Option<&Id<'_>>, charge: Option<&Id<'_>>) -> Vec<String> {
    payment_intent
        .into_iter()
        .chain(charge)
        .map(|id| id.as_str().to_owned())
        .filter(|id| !id.is_empty())
        .collect()
}

/// A saved payment method (`payment_method.*`).
#[derive(Debug, Deserialize)]
pub struct PaymentMethod<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub customer: Option<Id<'a>>,
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default)]
    pub card: Option<CardExpiry>,
}

#[derive(Debug, Deserialize)]
pub struct CardExpiry {
    pub exp_month: i64,
    pub exp_year: i64,
}

/// A customer (`customer.created`, `customer.updated`).
#[derive(Debug, Deserialize)]
pub struct Customer<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub email: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub invoice_settings: Option<InvoiceSettings<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct InvoiceSettings<'a> {
    #[serde(default, borrow)]
    pub default_payment_method: Option<Id<'a>>,
}

/// What `previous_attributes` says a detached payment method belonged to.
#[derive(Debug, Deserialize)]
pub struct PreviousOwner<'a> {
    #[serde(default, borrow)]
    pub customer: Option<Id<'a>>,
}
