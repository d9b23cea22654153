//! The use cases: what pastdue does, over the small ports in
//! [`crate::ports`]. Adapters persist and send; handlers parse and answer;
//! the rules in between live here, testable without AWS (the in-memory
//! ports in [`memory`] stand in for unit tests).
//!
//! - [`accounts`]: the [`Accounts`] service, and operator changes to an
//!   account (upsert, update, create from a processor).
//! - [`apply`]: applying one canonical event exactly once.
//! - [`daily_run`]: the daily run of one account, with the suspension
//!   safety rule.
//! - [`announce`]: publishing the outbox; [`announce::Applier`] applies and
//!   announces (the path every event takes).
//! - [`undeliverable`]: reporting a contact mail cannot reach.
//! - [`digest`]: the staff's morning digest.
//! - [`aging`]: the receivables aging report.
//! - [`retry`]: one optimistic-concurrency loop for all of them.
//! - [`deliver`]: taking one authentic processor delivery (map, claim,
//!   publish), the webhook's and reconciliation's one path.
//! - [`reconcile`]: reading a processor's event log since the checkpoint
//!   through the webhook's own path.

pub mod accounts;
pub mod aging;
pub mod announce;
pub mod apply;
pub mod cutoff;
pub mod daily_run;
pub mod deliver;
pub mod digest;
#[cfg(test)]
pub mod memory;
pub mod reconcile;
pub mod retry;
#[cfg(test)]
mod tests;
pub mod undeliverable;

pub use accounts::{Accounts, Clock, UpdateFailure, Upsert};
pub use announce::{AnnounceError, Applier, announce};
pub use undeliverable::ReportUndeliverable;
