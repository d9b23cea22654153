//! The GoCardless resources a mapping reads, as its API returns them
//! (`GET /payments/:id`, `/mandates/:id`, `/customers/:id`), with only the
//! fields pastdue uses; every other field is skipped unread.
//!
//! # What the API adapter hands over ([`crate::processors::Objects`])
//!
//! A webhook event names its resource without its amount or customer, so
//! [`crate::processors::Delivery::objects_needed`] asks for one object per
//! event, and the adapter that reads GoCardless's API answers it with ONE
//! JSON object composed of the inner objects of three (or two) answers:
//!
//! - for `ObjectRef { kind: "payments", id: "PM…" }`:
//!   `{"payments": <GET /payments/PM….payments>,
//!     "mandates": <GET /mandates/<payment.links.mandate>.mandates>,
//!     "customers": <GET /customers/<mandate.links.customer>.customers>}`
//! - for `ObjectRef { kind: "mandates", id: "MD…" }`:
//!   `{"mandates": <GET /mandates/MD….mandates>,
//!     "customers": <GET /customers/<mandate.links.customer>.customers>}`
//!
//! and `None` for the body when GoCardless answers 404 for the payment or
//! mandate itself. Any other failure to read is the adapter's to retry.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::domain::fields::FieldError;
use crate::processors::Objects;

/// The kind of object a payment event needs (and the key of the payment
/// in the composed body).
pub const PAYMENTS: &str = "payments";
/// The kind of object a mandate event needs.
pub const MANDATES: &str = "mandates";
/// The key of the customer in the composed body.
pub const CUSTOMERS: &str = "customers";

/// Metadata: up to three string keys and values the business chose.
pub type Metadata<'a> = HashMap<Cow<'a, str>, Cow<'a, str>>;

/// A payment (`GET /payments/:id`).
#[derive(Debug, Deserialize)]
pub struct Payment<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// In the lowest denomination of `currency` (pence, cents, öre).
    pub amount: i64,
    /// ISO 4217, upper case: `GBP`, `EUR`, `SEK`, `DKK`, `AUD`, `NZD`,
    /// `CAD`, `USD`.
    #[serde(borrow)]
    pub currency: Cow<'a, str>,
    /// The day it is (to be) collected, `YYYY-MM-DD`.
    #[serde(borrow)]
    pub charge_date: Cow<'a, str>,
    /// What the customer's bank statement shows; not always set.
    #[serde(default, borrow)]
    pub reference: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub metadata: Option<Metadata<'a>>,
    #[serde(borrow)]
    pub links: PaymentLinks<'a>,
}

#[derive(Debug, Deserialize)]
pub struct PaymentLinks<'a> {
    #[serde(borrow)]
    pub mandate: Cow<'a, str>,
}

/// A mandate (`GET /mandates/:id`).
#[derive(Debug, Deserialize)]
pub struct Mandate<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow)]
    pub links: MandateLinks<'a>,
}

#[derive(Debug, Deserialize)]
pub struct MandateLinks<'a> {
    #[serde(borrow)]
    pub customer: Cow<'a, str>,
}

/// A customer (`GET /customers/:id`). Every name and contact field may be
/// null.
#[derive(Debug, Deserialize)]
pub struct Customer<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub email: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub given_name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub family_name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub company_name: Option<Cow<'a, str>>,
    /// As the customer or business typed it: taken only when it reads as
    /// E.164.
    #[serde(default, borrow)]
    pub phone_number: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub metadata: Option<Metadata<'a>>,
}

/// A value of `metadata`, when set and not empty.
pub fn metadata_value<'m>(metadata: Option<&'m Metadata<'_>>, key: &str) -> Option<&'m str> {
    metadata
        .and_then(|m| m.get(key))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// The composed body for a payment event.
#[derive(Debug)]
pub struct PaymentObjects<'a> {
    pub payment: Payment<'a>,
    pub mandate: Mandate<'a>,
    pub customer: Customer<'a>,
}

/// The composed body for a mandate event.
#[derive(Debug)]
pub struct MandateObjects<'a> {
    pub mandate: Mandate<'a>,
    pub customer: Customer<'a>,
}

#[derive(Debug, Deserialize)]
struct Composed<'a> {
    #[serde(default, borrow)]
    payments: Option<&'a RawValue>,
    #[serde(default, borrow)]
    mandates: Option<&'a RawValue>,
    #[serde(default, borrow)]
    customers: Option<&'a RawValue>,
}

/// The body read for `kind` `id`: an error naming `field` (the event's link)
/// when it was not read, or GoCardless has no such object.
fn body<'o>(
    objects: &'o Objects,
    kind: &str,
    id: &str,
    field: &str,
) -> Result<&'o str, FieldError> {
    let bytes = match objects.get(kind, id) {
        None => {
            return Err(FieldError::new(
                field,
                format!("{kind} {id} was not read from GoCardless's API"),
            ));
        }
        Some(None) => {
            return Err(FieldError::new(
                field,
                format!("GoCardless has no {kind} {id}"),
            ));
        }
        Some(Some(bytes)) => bytes,
    };
    std::str::from_utf8(bytes).map_err(|e| FieldError::new(kind, format!("not UTF-8: {e}")))
}

fn composed<'o>(text: &'o str, kind: &str) -> Result<Composed<'o>, FieldError> {
    serde_json::from_str(text).map_err(|e| FieldError::new(kind, e.to_string()))
}

/// One part of the composed body, read as `T`.
fn part<'o, T: Deserialize<'o>>(raw: Option<&'o RawValue>, key: &str) -> Result<T, FieldError> {
    let raw = raw.ok_or_else(|| FieldError::new(key, "missing from the objects read"))?;
    serde_json::from_str(raw.get()).map_err(|e| FieldError::new(key, e.to_string()))
}

/// Checks that `linked` (a link of one object) names `id` (the object
/// read for it).
fn same(linked: &str, id: &str, field: &str) -> Result<(), FieldError> {
    if linked == id {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("names {linked}, but the object read is {id}"),
        ))
    }
}

/// The payment `id`, its mandate and customer, as read for a payment
/// event whose `links.payment` is `id`.
pub fn payment_objects<'o>(
    objects: &'o Objects,
    id: &str,
) -> Result<PaymentObjects<'o>, FieldError> {
    let c = composed(body(objects, PAYMENTS, id, "links.payment")?, PAYMENTS)?;
    let payment: Payment<'o> = part(c.payments, PAYMENTS)?;
    let mandate: Mandate<'o> = part(c.mandates, MANDATES)?;
    let customer: Customer<'o> = part(c.customers, CUSTOMERS)?;
    same(&payment.id, id, "payments.id")?;
    same(
        &payment.links.mandate,
        &mandate.id,
        "payments.links.mandate",
    )?;
    same(
        &mandate.links.customer,
        &customer.id,
        "mandates.links.customer",
    )?;
    Ok(PaymentObjects {
        payment,
        mandate,
        customer,
    })
}

/// The mandate `id` and its customer, as read for a mandate event.
pub fn mandate_objects<'o>(
    objects: &'o Objects,
    id: &str,
) -> Result<MandateObjects<'o>, FieldError> {
    let c = composed(body(objects, MANDATES, id, "links.mandate")?, MANDATES)?;
    let mandate: Mandate<'o> = part(c.mandates, MANDATES)?;
    let customer: Customer<'o> = part(c.customers, CUSTOMERS)?;
    same(&mandate.id, id, "mandates.id")?;
    same(
        &mandate.links.customer,
        &customer.id,
        "mandates.links.customer",
    )?;
    Ok(MandateObjects { mandate, customer })
}

/// The composed body the adapter hands over, from the API's answers as
/// they came: `answers` pairs each key (`payments`, `mandates`,
/// `customers`) with its answer (`{"payments": {...}}`), whose inner
/// object is taken. An answer without its key is an error.
pub fn compose(answers: &[(&str, &[u8])]) -> Result<Vec<u8>, FieldError> {
    let mut out = serde_json::Map::new();
    for (key, answer) in answers {
        let mut outer: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(answer).map_err(|e| FieldError::new(*key, e.to_string()))?;
        let inner = outer
            .remove(*key)
            .ok_or_else(|| FieldError::new(*key, "the API's answer does not carry it"))?;
        out.insert((*key).to_owned(), inner);
    }
    serde_json::to_vec(&out).map_err(|e| FieldError::new("objects", e.to_string()))
}
