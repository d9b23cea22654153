//! Applying one canonical event exactly once: the event-id claim, the new
//! state (guarded by its version), the invoices it changed, its timeline
//! entries, payment links and outbox entries go in one commit. On a version
//! conflict the account is loaded again and the event applied again.

use super::accounts::Accounts;
use super::retry::{Attempt, retry_on_conflict};
use crate::domain::{
    ActionMessage, ApplyOutcome, Cause, Event, EventKind, TimelineEntry, invoice_link_key,
};
use crate::ports::{AccountRepository, ApplyFailure, Change, Committed};

impl<S: AccountRepository> Accounts<S> {
    /// Applies `event` exactly once; the actions it causes wait in the
    /// outbox (see [`super::announce`]).
    pub async fn apply(&self, event: &Event) -> Result<ApplyOutcome, ApplyFailure> {
        if self.store.event_claimed(event).await? {
            return Ok(ApplyOutcome::Duplicate);
        }
        retry_on_conflict(|| async {
            let Some(loaded) = self.store.load(&event.account).await? else {
                return Err(ApplyFailure::UnknownAccount(event.account.clone()));
            };
            let mut after = loaded.state.clone();
            let outcome = after.apply(event, &self.policy)?;
            if outcome == ApplyOutcome::Duplicate {
                return Ok(Attempt::Done(outcome));
            }
            let change = self.change_for(event, &outcome, &after, loaded.version + 1);
            Ok(
                match self.store.commit(Some(&loaded), &after, &change).await? {
                    Committed::Done => Attempt::Done(outcome),
                    Committed::Duplicate => Attempt::Done(ApplyOutcome::Duplicate),
                    Committed::Conflict => Attempt::Conflict,
                },
            )
        })
        .await
    }

    /// What applying `event` writes besides the state (to be stored as
    /// `version`): its claim, its timeline entries, the payment link it
    /// makes, the actions it caused.
    fn change_for<'e>(
        &self,
        event: &'e Event,
        outcome: &ApplyOutcome,
        after: &crate::domain::AccountState,
        version: u64,
    ) -> Change<'e> {
        let now = (self.clock)();
        let mut change = Change {
            claim: Some(event),
            timeline: vec![TimelineEntry::event(now, event, outcome.as_str())],
            ..Change::default()
        };
        if let ApplyOutcome::Applied(actions) = outcome {
            let cause = Cause::Event(&event.id);
            change.timeline.extend(
                actions
                    .iter()
                    .map(|a| TimelineEntry::action(now, a, &cause.to_string())),
            );
            change.messages = actions
                .iter()
                .map(|a| ActionMessage::new(a, after, cause, version))
                .collect();
            match &event.kind {
                EventKind::PaymentSucceeded {
                    invoice,
                    payment: Some(payment),
                    ..
                } => change.links.push((payment.to_string(), invoice.clone())),
                // Payments that name only their invoice find its account.
                EventKind::InvoiceIssued { invoice, .. } => change
                    .links
                    .push((invoice_link_key(invoice.as_str()), invoice.clone())),
                _ => {}
            }
        }
        change
    }
}
