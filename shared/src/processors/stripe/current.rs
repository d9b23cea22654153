//! An invoice as Stripe's API has it now (`GET /v1/invoices/{id}`, its
//! payments expanded), turned into a delivery the webhook's reader takes:
//! the `invoice.updated` event that restates it, stamped with the time it
//! was read. Its mapping is the webhook's: the restated amount and due
//! date, void or uncollectible by its status, and each paid payment by the
//! same payment id `invoice_payment.paid` carries, so nothing counts twice.

use std::borrow::Cow;

use serde::Deserialize;

use crate::domain::fields::FieldError;

/// The delivery id of an invoice read at `now`: a checked read, never one
/// of Stripe's `evt_` ids.
pub fn checked_id(invoice: &str, now: i64) -> String {
    format!("checked_{invoice}_{now}")
}

/// The event body for `invoice` (the API's JSON, rendered in
/// `api_version`) read at `now` (Unix seconds).
pub fn invoice_event(invoice: &[u8], api_version: &str, now: i64) -> Result<Vec<u8>, FieldError> {
    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(borrow)]
        id: Cow<'a, str>,
        #[serde(borrow)]
        object: Cow<'a, str>,
    }
    let head: Head<'_> =
        serde_json::from_slice(invoice).map_err(|e| FieldError::new("invoice", e.to_string()))?;
    if head.object != "invoice" {
        return Err(FieldError::new(
            "object",
            format!("expected an invoice, got {}", head.object),
        ));
    }
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut body = Vec::with_capacity(invoice.len() + 160);
    body.extend_from_slice(
        format!(
            r#"{{"id":{},"object":"event","api_version":{},"created":{now},"data":{{"object":"#,
            quoted(&checked_id(&head.id, now)),
            quoted(api_version),
        )
        .as_bytes(),
    );
    body.extend_from_slice(invoice);
    body.extend_from_slice(br#"},"type":"invoice.updated"}"#);
    Ok(body)
}
