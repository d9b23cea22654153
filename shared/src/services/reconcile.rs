//! Reconciliation's backfill: read the processor's event log since the
//! checkpoint and take every event through the webhook's own path, so one
//! the webhook brought is a no-op and one it missed is applied.
//!
//! A pass lists a fixed window (from the checkpoint, less an overlap, to
//! the moment the pass began), newest first, page by page. The checkpoint
//! moves only after a whole page was taken, and a run stops before its
//! deadline; the next run goes on from the last page taken. An event that
//! names a payment not applied yet (a dispute listed before the payment it
//! disputes) is taken again by the next pass, which starts no later than
//! it, until it is older than the processor keeps retrying.

use std::time::Duration;

use crate::ports::StoreError;
use crate::ports::reconcile::{
    Checkpoint, DeliverError, Delivered, EventLog, LogError, Pass, ReconcileCheckpoints,
    TakeDelivery,
};

/// How far back and with what overlap a pass reads.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The first pass starts here (Unix seconds), else `lookback` ago.
    pub start: Option<i64>,
    /// No pass reads older events (Stripe keeps 30 days).
    pub lookback_secs: i64,
    /// Each pass re-reads this much before the checkpoint, for events
    /// whose `created` lags their listing.
    pub overlap_secs: i64,
    /// An event left waiting longer than this is given up on (logged).
    pub wait_secs: i64,
    /// A run stops when less than this is left before its deadline.
    pub margin: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            start: None,
            lookback_secs: 30 * 86_400,
            overlap_secs: 300,
            wait_secs: 3 * 86_400,
            margin: Duration::from_secs(30),
        }
    }
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub pages: u32,
    /// Taken: applied now, or already applied by the webhook.
    pub taken: u32,
    /// Ignored or refused for good.
    pub settled: u32,
    /// Left for the next pass: their payment was not applied yet.
    pub waiting: u32,
    /// Waiting for longer than `wait_secs`: given up on.
    pub abandoned: u32,
    /// The pass read its whole window; the checkpoint moved to its end.
    pub finished: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Deliver(#[from] DeliverError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another run moved the {0} checkpoint first")]
    Overtaken(String),
}

impl ReconcileError {
    /// Whether the next run may succeed where this one failed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Log(e) => e.retryable,
            Self::Deliver(_) | Self::Overtaken(_) => true,
            Self::Store(e) => e.is_retryable(),
        }
    }
}

/// One run for `processor` at `now` (Unix seconds); `time_left` says how
/// long the run may still take.
pub async fn run<L, T, C>(
    log: &L,
    take: &T,
    checkpoints: &C,
    processor: &str,
    settings: &Settings,
    now: i64,
    time_left: impl Fn() -> Duration,
) -> Result<Report, ReconcileError>
where
    L: EventLog,
    T: TakeDelivery,
    C: ReconcileCheckpoints,
{
    let oldest = now - settings.lookback_secs;
    let (mut checkpoint, mut version) = match checkpoints.load(processor).await? {
        Some(found) => found,
        None => (
            Checkpoint {
                through: settings.start.unwrap_or(oldest).max(oldest),
                pass: None,
            },
            0,
        ),
    };
    let mut pass = checkpoint.pass.take().unwrap_or(Pass {
        from: (checkpoint.through - settings.overlap_secs).max(oldest),
        until: now,
        after: None,
        oldest_waiting: None,
    });
    let mut report = Report::default();
    loop {
        if time_left() < settings.margin {
            checkpoint.pass = Some(pass);
            save(checkpoints, processor, &checkpoint, &mut version).await?;
            tracing::info!(processor, ?report, "reconcile: stopped before the deadline");
            return Ok(report);
        }
        let page = log
            .page(pass.from, pass.until, pass.after.as_deref())
            .await?;
        report.pages += 1;
        for event in &page.events {
            match take.take(&event.body).await? {
                Delivered::Done => report.taken += 1,
                Delivered::Settled => report.settled += 1,
                Delivered::Waiting if now - event.created > settings.wait_secs => {
                    report.abandoned += 1;
                    tracing::error!(
                        processor,
                        event_id = %event.id,
                        "reconcile: an event still names a payment pastdue never saw; given up"
                    );
                }
                Delivered::Waiting => {
                    report.waiting += 1;
                    pass.oldest_waiting = Some(
                        pass.oldest_waiting
                            .map_or(event.created, |w| w.min(event.created)),
                    );
                }
            }
        }
        if let Some(last) = page.events.last() {
            pass.after = Some(last.id.clone());
        }
        if !page.has_more {
            checkpoint.through = pass
                .oldest_waiting
                .map_or(pass.until, |w| w.min(pass.until));
            checkpoint.pass = None;
            save(checkpoints, processor, &checkpoint, &mut version).await?;
            report.finished = true;
            tracing::info!(
                processor,
                ?report,
                through = checkpoint.through,
                "reconcile: pass done"
            );
            return Ok(report);
        }
        checkpoint.pass = Some(pass.clone());
        save(checkpoints, processor, &checkpoint, &mut version).await?;
    }
}

async fn save<C: ReconcileCheckpoints>(
    checkpoints: &C,
    processor: &str,
    checkpoint: &Checkpoint,
    version: &mut u64,
) -> Result<(), ReconcileError> {
    if checkpoints.save(processor, checkpoint, *version).await? {
        *version += 1;
        Ok(())
    } else {
        Err(ReconcileError::Overtaken(processor.to_owned()))
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
