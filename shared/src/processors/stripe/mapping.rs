//! Stripe deliveries → canonical events (spec §1). Pure: the caller resolves
//! payment links (charge / payment intent → invoice) and passes them in.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::StripeProcessor;
use crate::domain::fields::FieldError;
use crate::domain::{
    Account, AccountId, ActionMessage, CardId, Contact, Currency, DisputeId, EmailAddress, Event,
    EventId, EventKind, InvoiceId, Money, Outcome, PaymentId, RefundId, Role,
};
use crate::processors::{FromSecret, Link, MapError, Mapped};

/// A Stripe event as Stripe posts it: the fields every one has.
pub struct StripeEvent<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub created: DateTime<Utc>,
    pub object: &'a Value,
}

fn field_err(name: &str, reason: &str) -> FieldError {
    FieldError::new(name, reason)
}

impl<'a> StripeEvent<'a> {
    /// Reads the common fields; a body that is not a Stripe event is an error.
    pub fn parse(body: &'a Value) -> Result<Self, FieldError> {
        let id = body
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| field_err("id", "missing"))?;
        let kind = body
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| field_err("type", "missing"))?;
        let created = body
            .get("created")
            .and_then(Value::as_i64)
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .ok_or_else(|| field_err("created", "expected Unix seconds"))?;
        let object = body
            .get("data")
            .and_then(|d| d.get("object"))
            .filter(|o| o.is_object())
            .ok_or_else(|| field_err("data.object", "missing"))?;
        Ok(Self {
            id,
            kind,
            created,
            object,
        })
    }
}

/// The payment/charge ids whose link to an invoice a delivery needs
/// (disputes and refunds); empty for the others.
pub fn link_ids(stripe: &StripeEvent<'_>) -> Vec<String> {
    let o = stripe.object;
    let ids = |keys: &[&str]| -> Vec<String> {
        keys.iter()
            .filter_map(|k| o.get(*k).and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    };
    match stripe.kind {
        "charge.dispute.created" | "charge.dispute.closed" => ids(&["payment_intent", "charge"]),
        "charge.refunded" => ids(&["payment_intent", "id"]),
        _ => Vec::new(),
    }
}

struct Obj<'a> {
    o: &'a Value,
}

impl<'a> Obj<'a> {
    fn str(&self, k: &str) -> Result<&'a str, FieldError> {
        self.o
            .get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| field_err(&format!("data.object.{k}"), "missing or not a string"))
    }

    fn opt_str(&self, k: &str) -> Option<&'a str> {
        self.o
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    fn int(&self, k: &str) -> Result<i64, FieldError> {
        self.o
            .get(k)
            .and_then(Value::as_i64)
            .ok_or_else(|| field_err(&format!("data.object.{k}"), "missing or not a whole number"))
    }

    fn money(&self, amount_key: &str) -> Result<Money, FieldError> {
        let code = self.str("currency")?.to_ascii_uppercase();
        let currency = Currency::parse(&code)
            .map_err(|e| field_err("data.object.currency", &e.to_string()))?;
        Money::from_minor(self.int(amount_key)?, currency)
            .map_err(|e| field_err(&format!("data.object.{amount_key}"), &e.to_string()))
    }
}

fn id<T>(
    parse: impl Fn(&str) -> Result<T, crate::domain::IdError>,
    raw: &str,
    name: &str,
) -> Result<T, FieldError> {
    parse(raw).map_err(|e| field_err(name, &e.to_string()))
}

/// The customer of an invoice as a new account: its billing contact is the
/// invoice's `customer_email`, greeted by `customer_name`.
fn customer_account(o: &Obj<'_>) -> Result<Option<Account>, FieldError> {
    let customer = id(AccountId::parse, o.str("customer")?, "data.object.customer")?;
    let name = o
        .opt_str("customer_name")
        .unwrap_or(customer.as_str())
        .to_owned();
    let mut contacts = Vec::new();
    if let Some(email) = o.opt_str("customer_email")
        && let Ok(email) = EmailAddress::parse(email)
    {
        let contact = Contact::new(&name, email, [Role::Billing, Role::Primary].into())
            .map_err(|e| field_err("data.object.customer_name", &e))?;
        contacts.push(contact);
    }
    Ok(Some(Account {
        id: customer,
        name,
        timezone: chrono_tz::Tz::UTC,
        exempt: false,
        contacts,
    }))
}

/// Maps one delivery. `link` is what [`link_ids`] resolved to, if anything.
pub fn map(stripe: &StripeEvent<'_>, link: Option<Link>) -> Result<Mapped, MapError> {
    map_inner(stripe, link).map_err(|error| MapError::Field {
        processor: StripeProcessor::NAME,
        id: stripe.id.to_owned(),
        kind: stripe.kind.to_owned(),
        error,
    })
}

fn map_inner(stripe: &StripeEvent<'_>, link: Option<Link>) -> Result<Mapped, FieldError> {
    let o = Obj { o: stripe.object };
    let event_id = |n: usize| id(EventId::parse, &format!("stripe:{}:{n}", stripe.id), "id");
    let one = |kind: EventKind,
               account: AccountId,
               new_account: Option<Account>|
     -> Result<Mapped, FieldError> {
        Ok(Mapped::Events {
            events: vec![Event {
                id: event_id(0)?,
                at: stripe.created,
                account,
                kind,
            }],
            account: new_account,
        })
    };
    let invoice_id = || id(InvoiceId::parse, o.str("id")?, "data.object.id");
    let customer = || id(AccountId::parse, o.str("customer")?, "data.object.customer");
    match stripe.kind {
        "invoice.finalized" => {
            let due = match o.o.get("due_date").and_then(Value::as_i64) {
                Some(t) => DateTime::from_timestamp(t, 0)
                    .ok_or_else(|| field_err("data.object.due_date", "out of range"))?,
                None => {
                    o.o.get("status_transitions")
                        .and_then(|s| s.get("finalized_at"))
                        .and_then(Value::as_i64)
                        .and_then(|t| DateTime::from_timestamp(t, 0))
                        .unwrap_or(stripe.created)
                }
            };
            let kind = EventKind::InvoiceIssued {
                invoice: invoice_id()?,
                amount: o.money("amount_due")?,
                due: due.date_naive(),
            };
            one(kind, customer()?, customer_account(&o)?)
        }
        "invoice.voided" => one(
            EventKind::InvoiceVoided {
                invoice: invoice_id()?,
            },
            customer()?,
            customer_account(&o)?,
        ),
        // Uncollectible is not void: still owed, no longer chased, and a
        // suspended customer stays suspended until it is paid (spec §1).
        "invoice.marked_uncollectible" => one(
            EventKind::InvoiceWrittenOff {
                invoice: invoice_id()?,
            },
            customer()?,
            customer_account(&o)?,
        ),
        "invoice.paid" | "invoice.payment_succeeded" => {
            let invoice = invoice_id()?;
            // Stripe sends both types for one payment: the same payment id
            // makes the second count once. An invoice without a payment
            // intent or charge (paid out of band) is paid once, by itself.
            let payment = match o.opt_str("payment_intent").or_else(|| o.opt_str("charge")) {
                Some(p) => p.to_owned(),
                None => format!("invoice_{invoice}"),
            };
            let kind = EventKind::PaymentSucceeded {
                invoice,
                amount: o.money("amount_paid")?,
                payment: Some(id(
                    PaymentId::parse,
                    &payment,
                    "data.object.payment_intent",
                )?),
            };
            one(kind, customer()?, customer_account(&o)?)
        }
        "invoice.payment_failed" => {
            let attempts =
                o.o.get("attempt_count")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
            let kind = EventKind::PaymentFailed {
                invoice: invoice_id()?,
                amount: o.money("amount_due")?,
                reason: format!("payment attempt {attempts} failed"),
            };
            one(kind, customer()?, customer_account(&o)?)
        }
        "customer.source.expiring" => {
            let month = u32::try_from(o.int("exp_month")?)
                .ok()
                .filter(|m| (1..=12).contains(m))
                .ok_or_else(|| field_err("data.object.exp_month", "expected 1 to 12"))?;
            let year = i32::try_from(o.int("exp_year")?)
                .map_err(|_| field_err("data.object.exp_year", "out of range"))?;
            let kind = EventKind::CardExpiring {
                card: id(CardId::parse, o.str("id")?, "data.object.id")?,
                exp_month: month,
                exp_year: year,
            };
            one(kind, customer()?, None)
        }
        "charge.dispute.created" => {
            let Some((account, invoice)) = link else {
                return Ok(Mapped::WaitingForLink {
                    ids: link_ids(stripe),
                });
            };
            if o.opt_str("status")
                .is_some_and(|s| s.starts_with("warning_"))
            {
                return Ok(Mapped::Alert(ActionMessage::dispute_inquiry(
                    account,
                    invoice,
                    o.str("id")?,
                    o.money("amount")?,
                    stripe.created,
                    &format!("stripe {}", stripe.id),
                )));
            }
            let kind = EventKind::DisputeOpened {
                invoice,
                dispute: id(DisputeId::parse, o.str("id")?, "data.object.id")?,
                amount: o.money("amount")?,
            };
            one(kind, account, None)
        }
        "charge.dispute.closed" => {
            let outcome = match o.str("status")? {
                "won" => Outcome::Won,
                "lost" => Outcome::Lost,
                other => {
                    return Ok(Mapped::Ignored {
                        reason: format!("dispute closed as {other}: no funds moved"),
                    });
                }
            };
            let Some((account, _)) = link else {
                return Ok(Mapped::WaitingForLink {
                    ids: link_ids(stripe),
                });
            };
            one(
                EventKind::DisputeClosed {
                    dispute: id(DisputeId::parse, o.str("id")?, "data.object.id")?,
                    outcome,
                },
                account,
                None,
            )
        }
        "charge.refunded" => {
            let Some((account, invoice)) = link else {
                return Ok(Mapped::WaitingForLink {
                    ids: link_ids(stripe),
                });
            };
            let refunds =
                o.o.get("refunds")
                    .and_then(|r| r.get("data"))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
            let mut events = Vec::new();
            for r in &refunds {
                let r = Obj { o: r };
                let kind = EventKind::PaymentRefunded {
                    invoice: invoice.clone(),
                    amount: r.money("amount")?,
                    refund: Some(id(
                        RefundId::parse,
                        r.str("id")?,
                        "data.object.refunds.data.id",
                    )?),
                };
                // One canonical event per refund id, so a later delivery
                // listing the same refund again maps to the same event id.
                let event_id = id(
                    EventId::parse,
                    &format!("stripe:refund:{}", r.str("id")?),
                    "id",
                )?;
                events.push(Event {
                    id: event_id,
                    at: stripe.created,
                    account: account.clone(),
                    kind,
                });
            }
            if events.is_empty() {
                return Ok(Mapped::Ignored {
                    reason: "charge.refunded without refunds".into(),
                });
            }
            Ok(Mapped::Events {
                events,
                account: None,
            })
        }
        other => Ok(Mapped::Ignored {
            reason: format!("{other} is not an event pastdue acts on"),
        }),
    }
}
