//! Optimistic concurrency: load, decide, commit guarded by the version read;
//! on a conflict, back off and do it all again.

use std::future::Future;
use std::time::Duration;

use crate::ports::StoreError;

/// Attempts on a version conflict before giving up with a retryable error.
pub const MAX_ATTEMPTS: u32 = 40;

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt<T> {
    Done(T),
    /// Someone else changed the account first: try again from a fresh load.
    Conflict,
}

/// Runs `attempt` until it is done or fails, backing off (full jitter,
/// doubling from 10 ms to 640 ms) after each conflict. After
/// [`MAX_ATTEMPTS`] conflicts it gives up with a retryable
/// [`StoreError::Unavailable`].
pub async fn retry_on_conflict<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, E>>,
    E: From<StoreError>,
{
    for n in 0..MAX_ATTEMPTS {
        match attempt().await? {
            Attempt::Done(value) => return Ok(value),
            Attempt::Conflict => backoff(n).await,
        }
    }
    Err(StoreError::Unavailable {
        operation: "TransactWriteItems",
        message: format!(
            "the account kept changing underneath; gave up after {MAX_ATTEMPTS} attempts"
        ),
    }
    .into())
}

impl crate::ports::Committed {
    /// `Done(value)` when the commit was written; any other outcome of a
    /// change that claims no event is a conflict to retry.
    pub(crate) fn then_done<T>(self, value: T) -> Attempt<T> {
        match self {
            Self::Done => Attempt::Done(value),
            Self::Duplicate | Self::Conflict => Attempt::Conflict,
        }
    }
}

async fn backoff(attempt: u32) {
    let cap = 10u64 << attempt.min(6);
    tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=cap))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn conflicts_are_retried_until_done() {
        let mut calls = 0;
        let out: Result<u32, StoreError> = retry_on_conflict(|| {
            calls += 1;
            let n = calls;
            async move {
                Ok(if n < 3 {
                    Attempt::Conflict
                } else {
                    Attempt::Done(n)
                })
            }
        })
        .await;
        assert_eq!(out.unwrap(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn endless_conflicts_give_up_retryably_and_errors_stop_at_once() {
        let mut calls = 0;
        let out: Result<(), StoreError> = retry_on_conflict(|| {
            calls += 1;
            async { Ok(Attempt::Conflict) }
        })
        .await;
        assert!(out.unwrap_err().is_retryable());
        assert_eq!(calls, MAX_ATTEMPTS);

        let mut calls = 0;
        let out: Result<(), StoreError> = retry_on_conflict(|| {
            calls += 1;
            async {
                Err(StoreError::Rejected {
                    operation: "Query",
                    message: "no table".into(),
                })
            }
        })
        .await;
        assert!(!out.unwrap_err().is_retryable());
        assert_eq!(calls, 1);
    }
}
