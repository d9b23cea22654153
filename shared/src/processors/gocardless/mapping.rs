//! GoCardless events → canonical events (spec §1). Pure: the caller reads
//! the payment or mandate an event names from GoCardless's API (see
//! [`super::resources`] for what it hands over) and resolves the invoice
//! a payment's metadata names; both are passed in.
//!
//! Every id is namespaced `gocardless:`: an event `gocardless:EV…` (and
//! `gocardless:EV…:2` for its second), the account `gocardless:CU…`, the
//! mandate `gocardless:MD…`, and the payment `PM…` as `gocardless:PM…`,
//! which is also the invoice it is when its metadata names none and the
//! dispute a chargeback of it opens.
//!
//! # Payments
//!
//! A payment either pays an invoice the business issued elsewhere, named
//! in its metadata (`invoice` by default, `INVOICE_METADATA_KEY`) and
//! linked when that invoice was issued, or is itself what the customer
//! owes: `created` issues it as the invoice `gocardless:PM…`, due on its
//! `charge_date`, shown by its `reference`. Actions, as GoCardless's API
//! reference describes them (<https://developer.gocardless.com/api-reference/#events-payment-actions>):
//!
//! - `created`: `invoice_issued`, unless it pays a linked invoice.
//! - `confirmed` (collected from the customer's bank): `payment_succeeded`.
//! - `paid_out`: ignored, the money was counted at `confirmed`.
//! - `failed`: `payment_failed`, the reason GoCardless's cause and
//!   description, `will_retry` its `will_attempt_retry` (Success+
//!   collects again by itself). A late failure (after `confirmed`) is
//!   reversed when GoCardless settles it: `late_failure_settled`.
//! - `customer_approval_denied` (the customer refused a payment that needed
//!   their approval; GoCardless says to contact them): `payment_failed`,
//!   not retried.
//! - `charged_back` (the customer's bank returned the money under the
//!   Direct Debit Guarantee): the funds are withdrawn with no way to
//!   contest them, so a `dispute_opened` and at once a `dispute_closed`
//!   `lost`.
//! - `chargeback_settled` (that chargeback debited from a payout): ignored,
//!   it was applied at `charged_back`.
//! - `chargeback_cancelled` (the customer's bank cancelled the chargeback:
//!   the money comes back): a `payment_succeeded` of the amount, payment
//!   `gocardless:PM…:chargeback_cancelled`, so the invoice is paid again.
//! - `late_failure_settled` (a payment that failed after it was confirmed
//!   and paid out, debited from a payout): `payment_refunded` of the
//!   amount, refund `gocardless:PM…:late_failure`.
//! - `cancelled`: nothing was collected. Cancelled by the business itself
//!   (cause `payment_cancelled`), a payment that is its own invoice is
//!   withdrawn: `invoice_voided`. Cancelled by GoCardless because the
//!   mandate stopped (any other cause), or paying an invoice of its own,
//!   the debt stands and the customer is chased for it: ignored (the
//!   mandate's own event says the direct debit stopped).
//! - `resubmission_requested`: ignored, the outcome of the new attempt
//!   arrives as `confirmed` or `failed`.
//! - `submitted`, `customer_approval_granted`, `surcharge_fee_debited` (a
//!   fee the business pays) and any other action: ignored.
//!
//! # Mandates
//!
//! `cancelled`, `failed` and `expired`: `direct_debit_stopped`, the reason
//! GoCardless's cause and description. Other actions (`reinstated`,
//! `replaced`, `transferred`, …) leave collection going: ignored.
//!
//! # Accounts
//!
//! The customer of the payment's mandate, or of the mandate, is the
//! account `gocardless:CU…` matched through [`AccountHints`]
//! ([`Mapped::Linked`]); a payment whose invoice was found by its link
//! belongs to that invoice's account instead ([`Mapped::Events`]).

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::GocardlessProcessor;
use super::events::WebhookEvent;
use super::resources::{
    Customer, MANDATES, PAYMENTS, Payment, mandate_objects, metadata_value, payment_objects,
};
use crate::domain::fields::FieldError;
use crate::domain::{
    Account, AccountId, Currency, DisputeId, EmailAddress, Event, EventKind, InvoiceId, MandateId,
    Money, Outcome, PaymentId, RefundId, Shown, invoice_link_key,
};
use crate::processors::numbered::numbered_events;
use crate::processors::{
    AccountHints, Delivery, FromSecret, Link, MapError, Mapped, ObjectRef, Objects,
};

/// The metadata keys the business names things by (`ingest`'s settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataKeys {
    /// On a payment: the invoice it pays.
    pub invoice: String,
    /// On a customer or payment: the pastdue account it belongs to.
    pub account: String,
}

impl Default for MetadataKeys {
    fn default() -> Self {
        Self {
            invoice: "invoice".into(),
            account: "pastdue_account".into(),
        }
    }
}

/// What an event's mapping needs, decided by its resource and action
/// alone, so an ignored event reads nothing from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    Payment,
    Mandate,
    Ignore(String),
}

fn plan(event: &WebhookEvent<'_>) -> Plan {
    let ignore = |reason: &str| Plan::Ignore(reason.to_owned());
    match (event.resource_type.as_ref(), event.action.as_ref()) {
        (
            "payments",
            "created"
            | "confirmed"
            | "failed"
            | "customer_approval_denied"
            | "charged_back"
            | "chargeback_cancelled"
            | "late_failure_settled"
            | "cancelled",
        ) => Plan::Payment,
        ("payments", "paid_out") => {
            ignore("payments.paid_out: the money was counted when the payment was confirmed")
        }
        ("payments", "chargeback_settled") => ignore(
            "payments.chargeback_settled: the chargeback was applied when the payment was \
             charged back; settling it only debits a payout",
        ),
        ("payments", "resubmission_requested") => ignore(
            "payments.resubmission_requested: the payment will be collected again; its \
             outcome arrives as confirmed or failed",
        ),
        ("payments", "submitted" | "customer_approval_granted") => {
            ignore("no money has moved yet: the outcome arrives as confirmed or failed")
        }
        ("payments", "surcharge_fee_debited") => {
            ignore("payments.surcharge_fee_debited: a fee the business pays, not the customer")
        }
        ("mandates", "cancelled" | "failed" | "expired") => Plan::Mandate,
        ("mandates", action) => Plan::Ignore(format!(
            "mandates.{action}: the direct debit goes on collecting"
        )),
        (resource, action) => Plan::Ignore(format!(
            "{resource}.{action} is not an event pastdue acts on"
        )),
    }
}

/// A GoCardless event as [`super::GocardlessProcessor`] read it from a
/// batch.
pub struct GocardlessDelivery<'a> {
    id: Cow<'a, str>,
    kind: Option<String>,
    event: Result<WebhookEvent<'a>, FieldError>,
    keys: Arc<MetadataKeys>,
}

impl<'a> GocardlessDelivery<'a> {
    pub fn new(
        id: Cow<'a, str>,
        event: Result<WebhookEvent<'a>, FieldError>,
        keys: Arc<MetadataKeys>,
    ) -> Self {
        let kind = event.as_ref().ok().map(WebhookEvent::kind);
        Self {
            id,
            kind,
            event,
            keys,
        }
    }

    fn field(&self, error: FieldError) -> MapError {
        MapError::Field {
            processor: GocardlessProcessor::NAME,
            id: self.id.to_string(),
            kind: self.kind.clone().unwrap_or_default(),
            error,
        }
    }

    fn plan(&self) -> Option<Plan> {
        self.event.as_ref().ok().map(plan)
    }
}

impl Delivery for GocardlessDelivery<'_> {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> Option<&str> {
        self.kind.as_deref()
    }

    fn objects_needed(&self) -> Vec<ObjectRef> {
        let Ok(event) = &self.event else {
            return Vec::new();
        };
        let (kind, id) = match plan(event) {
            Plan::Payment => (PAYMENTS, event.payment()),
            Plan::Mandate => (MANDATES, event.mandate()),
            Plan::Ignore(_) => return Vec::new(),
        };
        id.map(|id| ObjectRef {
            kind,
            id: id.to_owned(),
        })
        .into_iter()
        .collect()
    }

    /// The invoice the payment's metadata names, then the payment itself
    /// (linked to the invoice it paid once `confirmed` was applied).
    fn links_needed_with(&self, objects: &Objects) -> Vec<String> {
        let (Ok(event), Some(Plan::Payment)) = (&self.event, self.plan()) else {
            return Vec::new();
        };
        let Some(pm) = event.payment() else {
            return Vec::new();
        };
        let Ok(read) = payment_objects(objects, pm) else {
            return Vec::new();
        };
        match metadata_value(read.payment.metadata.as_ref(), &self.keys.invoice) {
            Some(invoice) => vec![invoice_link_key(invoice), namespaced(pm)],
            None => Vec::new(),
        }
    }

    fn map(&self, link: Option<Link>) -> Result<Mapped, MapError> {
        self.map_with(link, &Objects::default())
    }

    fn map_with(&self, link: Option<Link>, objects: &Objects) -> Result<Mapped, MapError> {
        let event = self.event.as_ref().map_err(|e| self.field(e.clone()))?;
        match plan(event) {
            Plan::Ignore(reason) => Ok(Mapped::Ignored { reason }),
            Plan::Payment => map_payment(event, &self.keys, link, objects),
            Plan::Mandate => map_mandate(event, &self.keys, objects),
        }
        .map_err(|e| self.field(e))
    }
}

fn namespaced(id: &str) -> String {
    format!("gocardless:{id}")
}

/// Numbers an event's canonical events: `gocardless:EV…`, then `…:1`.
fn events(
    event: &WebhookEvent<'_>,
    at: DateTime<Utc>,
    account: &AccountId,
    kinds: Vec<EventKind>,
) -> Result<Vec<Event>, FieldError> {
    numbered_events(&namespaced(&event.id), at, account, kinds)
}

fn money(payment: &Payment<'_>) -> Result<Money, FieldError> {
    let currency =
        Currency::parse(&payment.currency).map_err(|e| FieldError::new("payments.currency", e))?;
    Money::from_minor(payment.amount, currency).map_err(|e| FieldError::new("payments.amount", e))
}

fn charge_date(payment: &Payment<'_>) -> Result<NaiveDate, FieldError> {
    payment
        .charge_date
        .parse()
        .map_err(|e| FieldError::new("payments.charge_date", format!("expected YYYY-MM-DD: {e}")))
}

/// How the customer sees the payment: its `reference` as the number when
/// it fits one (a SEPA reference may be longer than an invoice number; it
/// is then left out rather than refusing the payment).
fn shown(payment: &Payment<'_>) -> Shown {
    Shown::parse(payment.reference.as_deref(), None).unwrap_or_default()
}

/// `given_name family_name`, when either is set.
fn person(c: &Customer<'_>) -> Option<String> {
    let name = [c.given_name.as_deref(), c.family_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

fn company(c: &Customer<'_>) -> Option<String> {
    c.company_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn account_id(c: &Customer<'_>) -> Result<AccountId, FieldError> {
    AccountId::parse(&namespaced(&c.id)).map_err(|e| FieldError::new("customers.id", e))
}

/// The customer as a new account: named by its company, else its person,
/// else its id; its email the billing and primary contact, greeted by the
/// person (or the company), called at `phone_number` when that reads as
/// E.164.
fn customer_account(c: &Customer<'_>) -> Result<Account, FieldError> {
    let id = account_id(c)?;
    let person = person(c);
    let company = company(c);
    let name = company
        .clone()
        .or_else(|| person.clone())
        .unwrap_or_else(|| id.to_string());
    let email = c
        .email
        .as_deref()
        .and_then(|e| EmailAddress::parse(e.trim()).ok());
    // Greeted by the person's name, else the company's; with neither, by
    // the address itself rather than GoCardless's id.
    let greeting = person
        .or(company)
        .or_else(|| email.as_ref().map(|e| e.as_str().to_owned()))
        .unwrap_or_else(|| name.clone());
    Account::from_processor(
        id,
        name,
        email.map(|e| (greeting.as_str(), e)),
        c.phone_number.as_deref(),
    )
    .map_err(|e| FieldError::new("customers.given_name", e))
}

/// How the customer is matched to an account: its own key, the account
/// the business named on the customer (else the payment), its email.
fn hints(c: &Customer<'_>, payment: Option<&Payment<'_>>, keys: &MetadataKeys) -> AccountHints {
    let named = metadata_value(c.metadata.as_ref(), &keys.account)
        .and_then(|v| AccountId::parse(v).ok())
        .or_else(|| {
            payment
                .and_then(|p| metadata_value(p.metadata.as_ref(), &keys.account))
                .and_then(|v| AccountId::parse(v).ok())
        });
    AccountHints {
        customer: namespaced(&c.id),
        named,
        emails: c
            .email
            .as_deref()
            .and_then(|e| EmailAddress::parse(e.trim()).ok())
            .into_iter()
            .collect(),
    }
}

fn map_payment(
    event: &WebhookEvent<'_>,
    keys: &MetadataKeys,
    link: Option<Link>,
    objects: &Objects,
) -> Result<Mapped, FieldError> {
    let pm = event
        .payment()
        .ok_or_else(|| FieldError::new("links.payment", "missing"))?;
    let at = event.at()?;
    let read = payment_objects(objects, pm)?;
    let payment = &read.payment;
    let amount = money(payment)?;
    let key = namespaced(pm);
    let own = InvoiceId::parse(&key).map_err(|e| FieldError::new("links.payment", e))?;
    let payment_id = |suffix: &str| {
        PaymentId::parse(&format!("{key}{suffix}")).map_err(|e| FieldError::new("links.payment", e))
    };
    let (account, invoice, linked) = match link {
        Some((account, invoice)) => (account, invoice, true),
        None => (account_id(&read.customer)?, own.clone(), false),
    };
    let kinds = match event.action.as_ref() {
        "created" if invoice != own => {
            return Ok(Mapped::Ignored {
                reason: format!(
                    "payment {pm} pays invoice {invoice}, which its metadata names: \
                     it is no invoice of its own"
                ),
            });
        }
        "created" => vec![EventKind::InvoiceIssued {
            invoice: own,
            amount,
            due: charge_date(payment)?,
            due_at: None,
            shown: shown(payment),
        }],
        "confirmed" => vec![EventKind::PaymentSucceeded {
            invoice,
            amount,
            payment: Some(payment_id("")?),
        }],
        "failed" => vec![EventKind::PaymentFailed {
            invoice,
            amount,
            reason: event.reason(),
            will_retry: event.will_retry(),
        }],
        "customer_approval_denied" => vec![EventKind::PaymentFailed {
            invoice,
            amount,
            reason: event.reason(),
            will_retry: false,
        }],
        "charged_back" => {
            let dispute =
                DisputeId::parse(&key).map_err(|e| FieldError::new("links.payment", e))?;
            vec![
                EventKind::DisputeOpened {
                    invoice,
                    dispute: dispute.clone(),
                    amount,
                    evidence_due: None,
                },
                EventKind::DisputeClosed {
                    dispute,
                    outcome: Outcome::Lost,
                },
            ]
        }
        "chargeback_cancelled" => vec![EventKind::PaymentSucceeded {
            invoice,
            amount,
            payment: Some(payment_id(":chargeback_cancelled")?),
        }],
        "late_failure_settled" => vec![EventKind::PaymentRefunded {
            invoice,
            amount,
            refund: Some(
                RefundId::parse(&format!("{key}:late_failure"))
                    .map_err(|e| FieldError::new("links.payment", e))?,
            ),
        }],
        "cancelled" if invoice == own && event.cause() == Some("payment_cancelled") => {
            vec![EventKind::InvoiceVoided { invoice }]
        }
        "cancelled" => {
            return Ok(Mapped::Ignored {
                reason: format!(
                    "payment {pm} was cancelled ({}): nothing was collected and invoice \
                     {invoice} is still owed",
                    event.reason()
                ),
            });
        }
        other => {
            return Ok(Mapped::Ignored {
                reason: format!("payments.{other} is not an event pastdue acts on"),
            });
        }
    };
    let events = events(event, at, &account, kinds)?;
    if linked {
        return Ok(Mapped::Events {
            events,
            account: None,
        });
    }
    Ok(Mapped::Linked {
        events,
        account: customer_account(&read.customer)?,
        hints: hints(&read.customer, Some(payment), keys),
    })
}

fn map_mandate(
    event: &WebhookEvent<'_>,
    keys: &MetadataKeys,
    objects: &Objects,
) -> Result<Mapped, FieldError> {
    let md = event
        .mandate()
        .ok_or_else(|| FieldError::new("links.mandate", "missing"))?;
    let at = event.at()?;
    let read = mandate_objects(objects, md)?;
    let mandate = MandateId::parse(&namespaced(&read.mandate.id))
        .map_err(|e| FieldError::new("links.mandate", e))?;
    let account = account_id(&read.customer)?;
    let kinds = vec![EventKind::DirectDebitStopped {
        mandate,
        reason: event.reason(),
    }];
    Ok(Mapped::Linked {
        events: events(event, at, &account, kinds)?,
        account: customer_account(&read.customer)?,
        hints: hints(&read.customer, None, keys),
    })
}
