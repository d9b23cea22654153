//! A PayPal webhook event as PayPal posts it: the envelope (`id`,
//! `create_time`, `event_type`, `resource_type`, `resource`, …) read
//! borrowing from the body, `resource` kept raw and decoded later into the
//! one typed object its `event_type` needs. Only the fields the mapping
//! needs are named; PayPal's published shapes (invoicing v2, payments v2,
//! customer disputes v1, billing subscriptions v1) define them.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::domain::fields::FieldError;

/// The fields every PayPal webhook event has.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow)]
    pub event_type: Cow<'a, str>,
    #[serde(default, borrow)]
    pub create_time: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub resource_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub resource: Option<&'a RawValue>,
}

/// Reads a resource (or a part of one) as `T`, naming `field` on failure.
pub fn decode<'a, T: Deserialize<'a>>(raw: &'a RawValue, field: &str) -> Result<T, FieldError> {
    serde_json::from_str(raw.get()).map_err(|e| FieldError::new(field, e))
}

/// An RFC 3339 instant.
pub fn instant(raw: &str, field: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| FieldError::new(field, format!("{raw:?} is not an RFC 3339 time: {e}")))
}

/// PayPal's `money`: a currency code and a decimal string in major units.
#[derive(Debug, Clone, Deserialize)]
pub struct Money<'a> {
    #[serde(borrow)]
    pub currency_code: Cow<'a, str>,
    #[serde(borrow)]
    pub value: Cow<'a, str>,
}

impl Money<'_> {
    pub fn read(&self, field: &str) -> Result<crate::domain::Money, FieldError> {
        let currency = crate::domain::Currency::parse(&self.currency_code)
            .map_err(|e| FieldError::new(format!("{field}.currency_code"), e))?;
        crate::domain::Money::parse(&self.value, currency)
            .map_err(|e| FieldError::new(format!("{field}.value"), e))
    }
}

/// A HATEOAS link.
#[derive(Debug, Clone, Deserialize)]
pub struct Link<'a> {
    #[serde(borrow)]
    pub href: Cow<'a, str>,
    #[serde(borrow)]
    pub rel: Cow<'a, str>,
}

// ---- invoicing v2 -------------------------------------------------------

/// `INVOICING.INVOICE.*` events wrap the invoice: `resource.invoice`.
#[derive(Debug, Deserialize)]
pub struct InvoiceResource<'a> {
    #[serde(default, borrow)]
    pub invoice: Option<&'a RawValue>,
}

#[derive(Debug, Deserialize)]
pub struct Invoice<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub status: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub detail: Option<InvoiceDetail<'a>>,
    #[serde(default, borrow)]
    pub primary_recipients: Vec<Recipient<'a>>,
    #[serde(default, borrow)]
    pub amount: Option<AmountSummary<'a>>,
    #[serde(default, borrow)]
    pub due_amount: Option<Money<'a>>,
    #[serde(default, borrow)]
    pub payments: Option<Payments<'a>>,
    #[serde(default, borrow)]
    pub refunds: Option<Refunds<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct InvoiceDetail<'a> {
    #[serde(default, borrow)]
    pub currency_code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub invoice_number: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub invoice_date: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub reference: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub payment_term: Option<PaymentTerm<'a>>,
    #[serde(default, borrow)]
    pub metadata: Option<InvoiceMetadata<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct PaymentTerm<'a> {
    #[serde(default, borrow)]
    pub due_date: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct InvoiceMetadata<'a> {
    /// "The URL for the invoice payer view hosted on paypal.com."
    #[serde(default, borrow)]
    pub recipient_view_url: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct AmountSummary<'a> {
    #[serde(default, borrow)]
    pub currency_code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub value: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct Recipient<'a> {
    #[serde(default, borrow)]
    pub billing_info: Option<BillingInfo<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct BillingInfo<'a> {
    #[serde(default, borrow)]
    pub email_address: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub business_name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub name: Option<Name<'a>>,
}

/// PayPal's `name` of a party.
#[derive(Debug, Default, Deserialize)]
pub struct Name<'a> {
    #[serde(default, borrow)]
    pub given_name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub surname: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub full_name: Option<Cow<'a, str>>,
}

impl Name<'_> {
    /// The person's name: given name and surname, else the full name.
    pub fn person(&self) -> Option<String> {
        let parts: Vec<&str> = [self.given_name.as_deref(), self.surname.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            self.full_name
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        } else {
            Some(parts.join(" "))
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Payments<'a> {
    #[serde(default, borrow)]
    pub transactions: Vec<PaymentDetail<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct PaymentDetail<'a> {
    /// The PayPal transaction (capture) id; PayPal gives external (cash,
    /// check) payments an id too.
    #[serde(default, borrow)]
    pub payment_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub amount: Option<Money<'a>>,
    /// Sent on webhook events (`SUCCESS`), not in the published schema.
    #[serde(default, borrow)]
    pub transaction_status: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct Refunds<'a> {
    #[serde(default, borrow)]
    pub transactions: Vec<RefundDetail<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct RefundDetail<'a> {
    /// The published schema's id of the refund.
    #[serde(default, borrow)]
    pub refund_id: Option<Cow<'a, str>>,
    /// What webhook events carry instead of `refund_id`.
    #[serde(default, borrow)]
    pub recipient_transaction_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub amount: Option<Money<'a>>,
}

// ---- payments v2 ----------------------------------------------------------

/// A capture (`PAYMENT.CAPTURE.COMPLETED`, `DENIED`) or a refund
/// (`PAYMENT.CAPTURE.REFUNDED`, `REVERSED`): the fields both share.
#[derive(Debug, Deserialize)]
pub struct Capture<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub status: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub status_details: Option<StatusDetails<'a>>,
    #[serde(default, borrow)]
    pub amount: Option<Money<'a>>,
    /// "The API caller-provided external invoice number for this order."
    #[serde(default, borrow)]
    pub invoice_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub supplementary_data: Option<SupplementaryData<'a>>,
    #[serde(default, borrow)]
    pub links: Vec<Link<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct StatusDetails<'a> {
    #[serde(default, borrow)]
    pub reason: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct SupplementaryData<'a> {
    #[serde(default, borrow)]
    pub related_ids: Option<RelatedIds<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct RelatedIds<'a> {
    #[serde(default, borrow)]
    pub capture_id: Option<Cow<'a, str>>,
}

impl Capture<'_> {
    /// The capture a refund is of: `supplementary_data.related_ids
    /// .capture_id`, else the id at the end of its `up` link
    /// (`…/v2/payments/captures/<id>`).
    pub fn refunded_capture(&self) -> Option<String> {
        let related = self
            .supplementary_data
            .as_ref()
            .and_then(|s| s.related_ids.as_ref())
            .and_then(|r| r.capture_id.as_deref())
            .filter(|id| !id.is_empty());
        if let Some(id) = related {
            return Some(id.to_owned());
        }
        self.links.iter().filter(|l| l.rel == "up").find_map(|l| {
            let (head, id) = l.href.trim_end_matches('/').rsplit_once('/')?;
            (head.ends_with("/captures") && !id.is_empty()).then(|| id.to_owned())
        })
    }
}

// ---- billing subscriptions v1 ----------------------------------------------

#[derive(Debug, Deserialize)]
pub struct Subscription<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// "The custom id for the subscription. Can be invoice id."
    #[serde(default, borrow)]
    pub custom_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub billing_info: Option<SubscriptionBilling<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct SubscriptionBilling<'a> {
    #[serde(default, borrow)]
    pub last_failed_payment: Option<FailedPayment<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct FailedPayment<'a> {
    #[serde(default, borrow)]
    pub amount: Option<Money<'a>>,
    #[serde(default, borrow)]
    pub reason_code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub next_payment_retry_time: Option<Cow<'a, str>>,
}

// ---- customer disputes v1 --------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct Dispute<'a> {
    #[serde(borrow)]
    pub dispute_id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub dispute_amount: Option<Money<'a>>,
    #[serde(default, borrow)]
    pub disputed_transactions: Vec<DisputedTransaction<'a>>,
    #[serde(default, borrow)]
    pub seller_response_due_date: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub dispute_outcome: Option<DisputeOutcome<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct DisputedTransaction<'a> {
    #[serde(default, borrow)]
    pub seller_transaction_id: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct DisputeOutcome<'a> {
    #[serde(default, borrow)]
    pub outcome_code: Option<Cow<'a, str>>,
}
