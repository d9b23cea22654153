//! A contact mail cannot reach (bounce, complaint, refusal) is reported as a
//! `contact_undeliverable` event on the bus; the function that owns account
//! writes applies it, exactly once by its id. The notifier itself may write
//! only its mail log: never an account, never an invoice.

use crate::domain::{EmailAddress, Event, EventId, EventKind, tag_value};
use crate::ports::{
    ContactNames, MarkUndeliverable, Publish, ReportError, StoreError, Undeliverable,
};

/// The bus source of the notifier's reports.
pub const SOURCE: &str = "pastdue.notifier";

/// Looks up the contact's name (for the staff alert) and publishes the
/// report.
#[derive(Debug, Clone)]
pub struct ReportUndeliverable<C, B> {
    pub contacts: C,
    pub bus: B,
}

impl<C: ContactNames, B: Publish> MarkUndeliverable for ReportUndeliverable<C, B> {
    async fn mark_undeliverable(
        &self,
        report: &Undeliverable<'_>,
    ) -> Result<Option<String>, ReportError> {
        let name = self
            .contacts
            .contact_name(report.account, report.email)
            .await
            .map_err(|e: StoreError| ReportError::Store(e))?;
        let (Ok(email), Ok(id)) = (
            EmailAddress::parse(report.email),
            EventId::parse(&format!("undeliverable:{}", report.id)),
        ) else {
            tracing::warn!(
                email = %tag_value(report.email),
                "not an address an account can hold: nothing to mark"
            );
            return Ok(name);
        };
        let event = Event {
            id,
            at: report.at,
            account: report.account.clone(),
            kind: EventKind::ContactUndeliverable {
                email,
                reason: report.reason.to_owned(),
            },
            via: None,
        };
        // Boxed: the bus's future is deep, and the notifier's would carry it.
        Box::pin(self.bus.publish(SOURCE, std::slice::from_ref(&event))).await?;
        Ok(name)
    }
}
