//! Canonical events (spec §1): the one shape every processor delivery is
//! mapped to, the EventBridge `detail`, and the input of `pastdue simulate`.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::fields::{FieldError, Fields};
use super::money::{Currency, Money, format_amount};
use super::policy::StepName;
use super::shown::Shown;
use super::{
    AccountId, CardId, DisputeId, EmailAddress, EventId, InvoiceId, MandateId, PaymentId, RefundId,
};

/// How a dispute ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Won,
    Lost,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    InvoiceIssued {
        invoice: InvoiceId,
        amount: Money,
        due: NaiveDate,
        /// The instant it falls due, when the processor gives one (optional
        /// `due_at`, Stripe's `due_date`): then the due date is its local
        /// date in the account's time zone, and `due` its UTC date.
        due_at: Option<DateTime<Utc>>,
        /// Its number and payment page, when the processor gives them
        /// (optional `number`, `pay_url`).
        shown: Shown,
    },
    InvoiceVoided {
        invoice: InvoiceId,
    },
    /// The business stopped collecting it (Stripe: marked uncollectible):
    /// still owed, never chased, and it keeps an episode open (spec §1).
    InvoiceWrittenOff {
        invoice: InvoiceId,
    },
    PaymentSucceeded {
        invoice: InvoiceId,
        amount: Money,
        payment: Option<PaymentId>,
    },
    PaymentRefunded {
        invoice: InvoiceId,
        amount: Money,
        refund: Option<RefundId>,
    },
    PaymentFailed {
        invoice: InvoiceId,
        amount: Money,
        reason: String,
        /// pastdue's own addition (optional `will_retry`): the processor
        /// collects again by itself (GoCardless's `will_attempt_retry`), so
        /// the customer has nothing to do yet and is not asked to act.
        will_retry: bool,
    },
    CardExpiring {
        card: CardId,
        exp_month: u32,
        exp_year: i32,
    },
    DisputeOpened {
        invoice: InvoiceId,
        dispute: DisputeId,
        amount: Money,
        /// pastdue's own addition: the last (UTC) day to answer the dispute
        /// with evidence, when the processor says (Stripe's
        /// `evidence_details.due_by`), for the staff digest.
        evidence_due: Option<NaiveDate>,
    },
    DisputeClosed {
        dispute: DisputeId,
        outcome: Outcome,
    },
    HoldPlaced {
        until: NaiveDate,
        reason: String,
        /// Set when the customer promised to pay by `until` themselves (the
        /// customer page): the contact who promised. A promise counts
        /// against the policy's limits; a staff hold (`None`) does not.
        promised_by: Option<EmailAddress>,
    },
    HoldReleased,
    /// pastdue's own, not a processor's: mail to this contact was refused,
    /// bounced or complained about. Recipient selection skips the contact
    /// from then on (spec §5.3 widens to the others).
    ContactUndeliverable {
        email: EmailAddress,
        reason: String,
    },
    /// pastdue's own: a processor saved or changed a customer's card
    /// (Stripe: a PaymentMethod attached, updated or renewed by the card
    /// network). Its expiry decides the card notice (see `engine::cards`).
    CardSaved {
        card: CardId,
        exp_month: u32,
        exp_year: i32,
    },
    /// pastdue's own: the card was removed (Stripe: detached).
    CardRemoved {
        card: CardId,
    },
    /// pastdue's own: the card the customer pays with by default, or none.
    DefaultCard {
        card: Option<CardId>,
    },
    /// pastdue's own: the direct-debit mandate the customer paid by was
    /// cancelled, failed or expired (GoCardless), so nothing more will be
    /// collected until they set up a new one. Noticed once per mandate.
    DirectDebitStopped {
        mandate: MandateId,
        reason: String,
    },
    /// pastdue's own: what a call for a ladder task found (`pastdue task
    /// done`), naming the task by the step that opened it.
    TaskOutcome {
        task: StepName,
        outcome: super::engine::TaskOutcome,
        note: String,
        /// Who was called, when staff said.
        contact: Option<EmailAddress>,
    },
}

/// Every `type` the spec defines, in its order, then pastdue's own.
pub const EVENT_TYPES: [&str; 17] = [
    "invoice_issued",
    "invoice_voided",
    "invoice_written_off",
    "payment_succeeded",
    "payment_refunded",
    "payment_failed",
    "card_expiring",
    "dispute_opened",
    "dispute_closed",
    "hold_placed",
    "hold_released",
    "contact_undeliverable",
    "card_saved",
    "card_removed",
    "default_card",
    "task_outcome",
    "direct_debit_stopped",
];

impl EventKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::InvoiceIssued { .. } => "invoice_issued",
            Self::InvoiceVoided { .. } => "invoice_voided",
            Self::InvoiceWrittenOff { .. } => "invoice_written_off",
            Self::PaymentSucceeded { .. } => "payment_succeeded",
            Self::PaymentRefunded { .. } => "payment_refunded",
            Self::PaymentFailed { .. } => "payment_failed",
            Self::CardExpiring { .. } => "card_expiring",
            Self::DisputeOpened { .. } => "dispute_opened",
            Self::DisputeClosed { .. } => "dispute_closed",
            Self::HoldPlaced { .. } => "hold_placed",
            Self::HoldReleased => "hold_released",
            Self::ContactUndeliverable { .. } => "contact_undeliverable",
            Self::CardSaved { .. } => "card_saved",
            Self::CardRemoved { .. } => "card_removed",
            Self::DefaultCard { .. } => "default_card",
            Self::TaskOutcome { .. } => "task_outcome",
            Self::DirectDebitStopped { .. } => "direct_debit_stopped",
        }
    }

    /// The invoice the event names, if any.
    pub fn invoice(&self) -> Option<&InvoiceId> {
        match self {
            Self::InvoiceIssued { invoice, .. }
            | Self::InvoiceVoided { invoice }
            | Self::InvoiceWrittenOff { invoice }
            | Self::PaymentSucceeded { invoice, .. }
            | Self::PaymentRefunded { invoice, .. }
            | Self::PaymentFailed { invoice, .. }
            | Self::DisputeOpened { invoice, .. } => Some(invoice),
            _ => None,
        }
    }
}

/// One canonical event. A value that exists is valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    pub at: DateTime<Utc>,
    pub account: AccountId,
    pub kind: EventKind,
    /// How pastdue came by it, when not through the processor's webhook
    /// (`via` in the JSON; not part of the spec's shape, and optional).
    pub via: Option<super::Via>,
}

/// Why a JSON value is not a canonical event; names the event id when it
/// could be read, and the field.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{}{error}", .id.as_ref().map(|id| format!("event {id:?}: ")).unwrap_or_default())]
pub struct EventError {
    pub id: Option<String>,
    pub error: FieldError,
}

fn money(f: &Fields<'_>) -> Result<Money, FieldError> {
    let currency = f.parsed("currency", Currency::parse)?;
    f.parsed("amount", |s| Money::parse(s, currency))
}

fn reason(f: &Fields<'_>) -> Result<String, FieldError> {
    Ok(f.opt_str("reason")?.unwrap_or_default().to_owned())
}

impl Event {
    /// Reads the spec's JSON. Unknown fields are ignored; unknown types,
    /// missing fields and bad values are errors that name the field.
    pub fn from_json(value: &Value) -> Result<Self, EventError> {
        let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
        Self::read(value).map_err(|error| EventError { id, error })
    }

    fn read(value: &Value) -> Result<Self, FieldError> {
        let f = Fields::of(value, "event")?;
        let id = f.parsed("id", EventId::parse)?;
        let at = f.instant("at")?;
        let account = f.parsed("account", AccountId::parse)?;
        let invoice = || f.parsed("invoice", InvoiceId::parse);
        let via = f
            .opt_str("via")?
            .map(|v| super::Via::parse(v).map_err(|e| FieldError::new("via", e)))
            .transpose()?;
        let kind = match f.str("type")? {
            "invoice_issued" => EventKind::InvoiceIssued {
                invoice: invoice()?,
                amount: money(&f)?,
                due: f.date("due")?,
                due_at: f
                    .get("due_at")
                    .is_some()
                    .then(|| f.instant("due_at"))
                    .transpose()?,
                shown: Shown::parse(f.opt_str("number")?, f.opt_str("pay_url")?)?,
            },
            "invoice_voided" => EventKind::InvoiceVoided {
                invoice: invoice()?,
            },
            "invoice_written_off" => EventKind::InvoiceWrittenOff {
                invoice: invoice()?,
            },
            "payment_succeeded" => EventKind::PaymentSucceeded {
                invoice: invoice()?,
                amount: money(&f)?,
                payment: f.opt_parsed("payment", PaymentId::parse)?,
            },
            "payment_refunded" => EventKind::PaymentRefunded {
                invoice: invoice()?,
                amount: money(&f)?,
                refund: f.opt_parsed("refund", RefundId::parse)?,
            },
            "payment_failed" => EventKind::PaymentFailed {
                invoice: invoice()?,
                amount: money(&f)?,
                reason: reason(&f)?,
                will_retry: f.opt_bool("will_retry")?.unwrap_or(false),
            },
            "direct_debit_stopped" => EventKind::DirectDebitStopped {
                mandate: f.parsed("mandate", MandateId::parse)?,
                reason: reason(&f)?,
            },
            "card_expiring" => {
                let (exp_month, exp_year) = expiry(&f)?;
                EventKind::CardExpiring {
                    card: f.parsed("card", CardId::parse)?,
                    exp_month,
                    exp_year,
                }
            }
            "dispute_opened" => EventKind::DisputeOpened {
                invoice: invoice()?,
                dispute: f.parsed("dispute", DisputeId::parse)?,
                amount: money(&f)?,
                evidence_due: f.opt_parsed("evidence_due", |s| {
                    s.parse::<NaiveDate>().map_err(|e| format!("{s:?}: {e}"))
                })?,
            },
            "dispute_closed" => EventKind::DisputeClosed {
                dispute: f.parsed("dispute", DisputeId::parse)?,
                outcome: f.parsed("outcome", |s| match s {
                    "won" => Ok(Outcome::Won),
                    "lost" => Ok(Outcome::Lost),
                    _ => Err(format!("{s:?} is not an outcome (won, lost)")),
                })?,
            },
            "hold_placed" => EventKind::HoldPlaced {
                until: f.date("until")?,
                reason: reason(&f)?,
                promised_by: f.opt_parsed("promised_by", EmailAddress::parse)?,
            },
            "hold_released" => EventKind::HoldReleased,
            "contact_undeliverable" => EventKind::ContactUndeliverable {
                email: f.parsed("email", EmailAddress::parse)?,
                reason: reason(&f)?,
            },
            "card_saved" => {
                let (exp_month, exp_year) = expiry(&f)?;
                EventKind::CardSaved {
                    card: f.parsed("card", CardId::parse)?,
                    exp_month,
                    exp_year,
                }
            }
            "card_removed" => EventKind::CardRemoved {
                card: f.parsed("card", CardId::parse)?,
            },
            "default_card" => EventKind::DefaultCard {
                card: f.opt_parsed("card", CardId::parse)?,
            },
            "task_outcome" => EventKind::TaskOutcome {
                task: f.parsed("task", |s| {
                    StepName::parse(s).ok_or_else(|| format!("{s:?} is not a ladder step"))
                })?,
                outcome: f.parsed("outcome", super::engine::TaskOutcome::parse)?,
                note: f.opt_str("note")?.unwrap_or_default().to_owned(),
                contact: f.opt_parsed("contact", EmailAddress::parse)?,
            },
            other => {
                return Err(FieldError::new(
                    "type",
                    format!(
                        "unknown event type {other:?} (known: {})",
                        EVENT_TYPES.join(", ")
                    ),
                ));
            }
        };
        Ok(Self {
            id,
            at,
            account,
            kind,
            via,
        })
    }

    /// Writes the spec's JSON.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert(
            "at".into(),
            json!(self.at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        );
        m.insert("account".into(), json!(self.account));
        m.insert("type".into(), json!(self.kind.type_name()));
        if let Some(via) = self.via {
            m.insert("via".into(), json!(via.as_str()));
        }
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_owned(), v);
        };
        let money = |put: &mut dyn FnMut(&str, Value), amount: &Money| {
            put(
                "amount",
                json!(format_amount(amount.amount(), amount.currency())),
            );
            put("currency", json!(amount.currency().code()));
        };
        match &self.kind {
            EventKind::InvoiceIssued {
                invoice,
                amount,
                due,
                due_at,
                shown,
            } => {
                put("invoice", json!(invoice));
                money(&mut put, amount);
                put("due", json!(due.to_string()));
                if let Some(t) = due_at {
                    put(
                        "due_at",
                        json!(t.to_rfc3339_opts(SecondsFormat::Secs, true)),
                    );
                }
                if let Some(number) = &shown.number {
                    put("number", json!(number));
                }
                if let Some(url) = &shown.pay_url {
                    put("pay_url", json!(url));
                }
            }
            EventKind::InvoiceVoided { invoice } | EventKind::InvoiceWrittenOff { invoice } => {
                put("invoice", json!(invoice))
            }
            EventKind::PaymentSucceeded {
                invoice,
                amount,
                payment,
            } => {
                put("invoice", json!(invoice));
                money(&mut put, amount);
                if let Some(p) = payment {
                    put("payment", json!(p));
                }
            }
            EventKind::PaymentRefunded {
                invoice,
                amount,
                refund,
            } => {
                put("invoice", json!(invoice));
                money(&mut put, amount);
                if let Some(r) = refund {
                    put("refund", json!(r));
                }
            }
            EventKind::PaymentFailed {
                invoice,
                amount,
                reason,
                will_retry,
            } => {
                put("invoice", json!(invoice));
                money(&mut put, amount);
                put("reason", json!(reason));
                if *will_retry {
                    put("will_retry", json!(true));
                }
            }
            EventKind::DirectDebitStopped { mandate, reason } => {
                put("mandate", json!(mandate));
                put("reason", json!(reason));
            }
            EventKind::CardExpiring {
                card,
                exp_month,
                exp_year,
            } => {
                put("card", json!(card));
                put("exp_month", json!(exp_month));
                put("exp_year", json!(exp_year));
            }
            EventKind::DisputeOpened {
                invoice,
                dispute,
                amount,
                evidence_due,
            } => {
                put("invoice", json!(invoice));
                put("dispute", json!(dispute));
                money(&mut put, amount);
                if let Some(due) = evidence_due {
                    put("evidence_due", json!(due.to_string()));
                }
            }
            EventKind::DisputeClosed { dispute, outcome } => {
                put("dispute", json!(dispute));
                put("outcome", json!(outcome));
            }
            EventKind::HoldPlaced {
                until,
                reason,
                promised_by,
            } => {
                put("until", json!(until.to_string()));
                put("reason", json!(reason));
                if let Some(by) = promised_by {
                    put("promised_by", json!(by.as_str()));
                }
            }
            EventKind::HoldReleased => {}
            EventKind::ContactUndeliverable { email, reason } => {
                put("email", json!(email.as_str()));
                put("reason", json!(reason));
            }
            EventKind::CardSaved {
                card,
                exp_month,
                exp_year,
            } => {
                put("card", json!(card));
                put("exp_month", json!(exp_month));
                put("exp_year", json!(exp_year));
            }
            EventKind::CardRemoved { card } => put("card", json!(card)),
            EventKind::DefaultCard { card } => put("card", json!(card)),
            EventKind::TaskOutcome {
                task,
                outcome,
                note,
                contact,
            } => {
                put("task", json!(task.as_str()));
                put("outcome", json!(outcome.as_str()));
                put("note", json!(note));
                if let Some(c) = contact {
                    put("contact", json!(c.as_str()));
                }
            }
        }
        Value::Object(m)
    }
}

/// A card's `exp_month` (1 to 12) and four-digit `exp_year`.
fn expiry(f: &Fields<'_>) -> Result<(u32, i32), FieldError> {
    let month = u32::try_from(f.int("exp_month")?)
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| FieldError::new("exp_month", "expected 1 to 12"))?;
    let year = i32::try_from(f.int("exp_year")?)
        .ok()
        .filter(|y| (2000..=2200).contains(y))
        .ok_or_else(|| FieldError::new("exp_year", "expected a four-digit year"))?;
    Ok((month, year))
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_and_writes_the_spec_json() {
        let samples = [
            json!({"id": "e1", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_1", "amount": "120.00", "currency": "USD", "due": "2026-01-15"}),
            json!({"id": "e1n", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_1", "amount": "120.00", "currency": "USD", "due": "2026-01-15", "due_at": "2026-01-15T23:00:00Z", "number": "WH-0042", "pay_url": "https://invoice.stripe.com/i/acct_1/x"}),
            json!({"id": "e2", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_voided", "invoice": "in_1"}),
            json!({"id": "e2w", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_written_off", "invoice": "in_1"}),
            json!({"id": "e3", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "payment_succeeded", "invoice": "in_1", "amount": "5000", "currency": "JPY", "payment": "pi_1"}),
            json!({"id": "e3r", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "payment_succeeded", "invoice": "in_1", "amount": "5000", "currency": "JPY", "payment": "pi_1", "via": "reconciliation"}),
            json!({"id": "e4", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "payment_refunded", "invoice": "in_1", "amount": "1.250", "currency": "KWD", "refund": "re_1"}),
            json!({"id": "e5", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "payment_failed", "invoice": "in_1", "amount": "120.00", "currency": "USD", "reason": "card_declined"}),
            json!({"id": "e6", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "card_expiring", "card": "card_1", "exp_month": 2, "exp_year": 2026}),
            json!({"id": "e7", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "dispute_opened", "invoice": "in_1", "dispute": "dp_1", "amount": "120.00", "currency": "USD"}),
            json!({"id": "e7e", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "dispute_opened", "invoice": "in_1", "dispute": "dp_1", "amount": "120.00", "currency": "USD", "evidence_due": "2026-01-17"}),
            json!({"id": "e8", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "dispute_closed", "dispute": "dp_1", "outcome": "lost"}),
            json!({"id": "e9", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "hold_placed", "until": "2026-01-20", "reason": "will pay Friday"}),
            json!({"id": "e9p", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "hold_placed", "until": "2026-01-09", "reason": "Dana Whitfield promised to pay by 2026-01-09 via the customer page", "promised_by": "dana@whitfield.example"}),
            json!({"id": "e10", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "hold_released"}),
            json!({"id": "e11", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "contact_undeliverable", "email": "dana@whitfield.example", "reason": "bounced: mailbox does not exist"}),
            json!({"id": "e12", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "task_outcome", "task": "reminder_2", "outcome": "wrong-number", "note": "a bakery answered", "contact": "dana@whitfield.example"}),
        ];
        for sample in samples {
            let event = Event::from_json(&sample).unwrap_or_else(|e| panic!("{sample}: {e}"));
            assert_eq!(event.to_json(), sample);
        }
    }

    #[test]
    fn bad_events_name_the_event_and_field() {
        let base = json!({"id": "e1", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_1", "amount": "120.00", "currency": "USD", "due": "2026-01-15"});
        let with = |k: &str, v: Value| {
            let mut e = base.clone();
            e[k] = v;
            Event::from_json(&e).unwrap_err()
        };
        let cases = [
            ("type", json!("invoice_paid"), "type"),
            ("amount", json!("12.x"), "amount"),
            ("pay_url", json!("http://pay.example/x"), "pay_url"),
            ("amount", json!(120), "amount"),
            ("amount", json!("120.001"), "amount"),
            ("currency", json!("usd"), "currency"),
            ("due", json!("2026-02-30"), "due"),
            ("at", json!("yesterday"), "at"),
            ("account", json!(""), "account"),
        ];
        for (k, v, field) in cases {
            let err = with(k, v.clone());
            assert_eq!(err.error.field, field, "{k}={v}: {err}");
            assert_eq!(err.id.as_deref(), Some("e1"));
            assert!(
                err.to_string().starts_with("event \"e1\": field `"),
                "{err}"
            );
        }
        let mut missing = base.clone();
        missing.as_object_mut().unwrap().remove("due");
        assert_eq!(Event::from_json(&missing).unwrap_err().error.field, "due");
    }
}
