//! Ports of reconciliation: a processor's event log read through its API,
//! where the last pass over it stopped, and the path every delivery takes.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::StoreError;

/// One page of a processor's event log, newest first, as its API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedPage {
    /// Each event: its id, when it happened (Unix seconds) and its JSON as
    /// a webhook would have carried it.
    pub events: Vec<Logged>,
    pub has_more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub id: String,
    pub created: i64,
    pub body: Vec<u8>,
}

/// Why the log could not be read: `retryable` when a later run may.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("the event log could not be read: {reason}")]
pub struct LogError {
    pub reason: String,
    pub retryable: bool,
}

/// A processor's events created in `from..=until`, newest first, a page
/// at a time, after the event `after` when given.
pub trait EventLog: Send + Sync {
    fn page(
        &self,
        from: i64,
        until: i64,
        after: Option<&str>,
    ) -> impl Future<Output = Result<LoggedPage, LogError>> + Send;
}

/// What one delivery did, as `ingest` would have answered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Applied, or already applied (a webhook brought it): either way done.
    Done,
    /// Ignored, as its type is not one pastdue acts on, or refused for good
    /// (a malformed event): nothing to retry.
    Settled,
    /// It names a payment or invoice not applied yet: retry it later.
    Waiting,
}

/// Why a delivery could not be taken now (the store or the bus is down).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("the delivery could not be taken now: {0}")]
pub struct DeliverError(pub String);

/// Takes a delivery through the same mapping and delivery claim as the
/// webhook, so one the webhook already brought is a no-op.
pub trait TakeDelivery: Send + Sync {
    fn take(&self, body: &[u8]) -> impl Future<Output = Result<Delivered, DeliverError>> + Send;
}

/// Where reconciliation stands with one processor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Every event created before this (Unix seconds) has been taken.
    pub through: i64,
    /// A pass under way: it lists `from..=until` and has taken everything
    /// newer than `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<Pass>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pass {
    pub from: i64,
    pub until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The oldest event of the pass left waiting for its payment, if any:
    /// the next pass starts no later than it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_waiting: Option<i64>,
}

/// The stored checkpoint of a processor, written only over the version
/// read, so two runs never both advance it.
pub trait ReconcileCheckpoints: Send + Sync {
    fn load(
        &self,
        processor: &str,
    ) -> impl Future<Output = Result<Option<(Checkpoint, u64)>, StoreError>> + Send;

    /// Saves `checkpoint` if the stored version is still `version` (0: none
    /// yet); `Ok(false)` when another run moved it first.
    fn save(
        &self,
        processor: &str,
        checkpoint: &Checkpoint,
        version: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
