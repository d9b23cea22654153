//! The backfill over in-memory stand-ins for the event log, the webhook's
//! path and the checkpoint store.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use super::{ReconcileError, Settings, run};
use crate::ports::StoreError;
use crate::ports::reconcile::{
    Checkpoint, DeliverError, Delivered, EventLog, LogError, Logged, LoggedPage,
    ReconcileCheckpoints, TakeDelivery,
};

const NOW: i64 = 1_767_000_000;
const DAY: i64 = 86_400;

/// Events in the log, newest first, three to a page.
struct Log(Vec<Logged>);

impl Log {
    /// One event every `every` seconds for `days` days before NOW.
    fn every(every: i64, days: i64) -> Self {
        let mut events: Vec<Logged> = (1..=days * DAY / every)
            .map(|n| {
                let created = NOW - days * DAY + n * every - 1;
                Logged {
                    id: format!("evt_{created}"),
                    created,
                    body: format!("evt_{created}").into_bytes(),
                }
            })
            .collect();
        events.reverse();
        Self(events)
    }
}

impl EventLog for Log {
    async fn page(
        &self,
        from: i64,
        until: i64,
        after: Option<&str>,
    ) -> Result<LoggedPage, LogError> {
        let window: Vec<&Logged> = self
            .0
            .iter()
            .filter(|e| (from..=until).contains(&e.created))
            .collect();
        let start = match after {
            Some(id) => window.iter().position(|e| e.id == id).map_or(0, |i| i + 1),
            None => 0,
        };
        let events: Vec<Logged> = window
            .iter()
            .skip(start)
            .take(3)
            .map(|e| (*e).clone())
            .collect();
        Ok(LoggedPage {
            has_more: start + events.len() < window.len(),
            events,
        })
    }
}

/// The webhook's path: each id applies once; an id in `needs` waits until
/// the id it needs was taken; `fail_on` fails once on that id.
#[derive(Default)]
struct Path {
    applied: Mutex<Vec<String>>,
    seen: Mutex<HashSet<String>>,
    needs: HashMap<String, String>,
    fail_on: Mutex<Option<String>>,
}

impl TakeDelivery for Path {
    async fn take(&self, body: &[u8]) -> Result<Delivered, DeliverError> {
        let id = String::from_utf8(body.to_vec()).unwrap();
        if self.fail_on.lock().unwrap().as_deref() == Some(&id) {
            *self.fail_on.lock().unwrap() = None;
            return Err(DeliverError("the bus is down".into()));
        }
        if let Some(needed) = self.needs.get(&id)
            && !self.seen.lock().unwrap().contains(needed)
        {
            return Ok(Delivered::Waiting);
        }
        if self.seen.lock().unwrap().insert(id.clone()) {
            self.applied.lock().unwrap().push(id);
        }
        Ok(Delivered::Done)
    }
}

impl Path {
    fn applied(&self) -> Vec<String> {
        self.applied.lock().unwrap().clone()
    }
}

#[derive(Default)]
struct Store {
    saved: Mutex<Option<(Checkpoint, u64)>>,
    /// Another run saves first once this many saves have happened.
    overtaken_after: Option<u32>,
    saves: Mutex<u32>,
}

impl ReconcileCheckpoints for Store {
    async fn load(&self, _: &str) -> Result<Option<(Checkpoint, u64)>, StoreError> {
        Ok(self.saved.lock().unwrap().clone())
    }

    async fn save(
        &self,
        _: &str,
        checkpoint: &Checkpoint,
        version: u64,
    ) -> Result<bool, StoreError> {
        let mut saves = self.saves.lock().unwrap();
        *saves += 1;
        if self.overtaken_after.is_some_and(|n| *saves > n) {
            return Ok(false);
        }
        let mut saved = self.saved.lock().unwrap();
        let current = saved.as_ref().map_or(0, |(_, v)| *v);
        if current != version {
            return Ok(false);
        }
        *saved = Some((checkpoint.clone(), version + 1));
        Ok(true)
    }
}

fn all_the_time() -> Duration {
    Duration::from_secs(900)
}

#[tokio::test]
async fn the_first_run_takes_thirty_days_once_and_the_next_takes_only_what_is_new() {
    let log = Log::every(DAY / 2, 40);
    let (path, store) = (Path::default(), Store::default());
    let settings = Settings::default();
    let report = run(&log, &path, &store, "stripe", &settings, NOW, all_the_time)
        .await
        .unwrap();
    assert!(report.finished);
    // Stripe keeps 30 days: 60 of the 80 events, each taken once.
    assert_eq!(path.applied().len(), 60);
    assert_eq!(report.taken, 60);
    let (checkpoint, _) = store.saved.lock().unwrap().clone().unwrap();
    assert_eq!((checkpoint.through, checkpoint.pass), (NOW, None));

    // A day later: the overlap is read again (a no-op), the new day taken.
    let later = Log([NOW + DAY - 1, NOW + DAY / 2 - 1]
        .iter()
        .map(|&created| Logged {
            id: format!("evt_{created}"),
            created,
            body: format!("evt_{created}").into_bytes(),
        })
        .chain(log.0.iter().cloned())
        .collect());
    let report = run(
        &later,
        &path,
        &store,
        "stripe",
        &settings,
        NOW + DAY,
        all_the_time,
    )
    .await
    .unwrap();
    assert_eq!(path.applied().len(), 62, "only the two new events applied");
    assert_eq!(
        report.taken, 3,
        "and the one in the overlap taken again, a no-op"
    );
}

#[tokio::test]
async fn a_run_stops_before_its_deadline_and_the_next_goes_on_where_it_stopped() {
    let log = Log::every(DAY, 30);
    let (path, store) = (Path::default(), Store::default());
    let settings = Settings::default();
    let calls = Cell::new(0);
    // Time for two pages, then the deadline is near.
    let time_left = || {
        calls.set(calls.get() + 1);
        if calls.get() > 2 {
            Duration::from_secs(5)
        } else {
            all_the_time()
        }
    };
    let first = run(&log, &path, &store, "stripe", &settings, NOW, time_left)
        .await
        .unwrap();
    assert_eq!((first.pages, first.finished), (2, false));
    assert_eq!(path.applied().len(), 6);
    let (stopped, _) = store.saved.lock().unwrap().clone().unwrap();
    let pass = stopped.pass.expect("a pass under way");
    assert_eq!(pass.until, NOW);
    assert_eq!(pass.after.as_deref(), Some(path.applied()[5].as_str()));

    // Later, with time: the same window, from the page after.
    let second = run(
        &log,
        &path,
        &store,
        "stripe",
        &settings,
        NOW + 900,
        all_the_time,
    )
    .await
    .unwrap();
    assert!(second.finished);
    let applied = path.applied();
    assert_eq!(applied.len(), 30, "every event once: {applied:?}");
    assert_eq!(second.taken, 24);
}

#[tokio::test]
async fn a_failure_mid_page_leaves_the_checkpoint_after_the_last_whole_page() {
    let log = Log::every(DAY, 10);
    let path = Path::default();
    // The fifth event (second page) cannot be taken the first time.
    *path.fail_on.lock().unwrap() = Some(log.0[4].id.clone());
    let store = Store::default();
    let settings = Settings::default();
    let error = run(&log, &path, &store, "stripe", &settings, NOW, all_the_time)
        .await
        .unwrap_err();
    assert!(matches!(error, ReconcileError::Deliver(_)) && error.is_retryable());
    let (checkpoint, _) = store.saved.lock().unwrap().clone().unwrap();
    assert_eq!(
        checkpoint.pass.and_then(|p| p.after).as_deref(),
        Some(log.0[2].id.as_str()),
        "after the first page, not the half-taken second"
    );
    let report = run(&log, &path, &store, "stripe", &settings, NOW, all_the_time)
        .await
        .unwrap();
    assert!(report.finished);
    let mut applied = path.applied();
    applied.sort();
    applied.dedup();
    assert_eq!(applied.len(), 10);
    assert_eq!(path.applied().len(), 10, "nothing applied twice");
}

#[tokio::test]
async fn an_event_listed_before_its_payment_is_taken_by_the_next_pass() {
    let log = Log::every(DAY, 10);
    // The newest event (a dispute) names the oldest (its payment): newest
    // first, the dispute comes before the payment is taken.
    let (dispute, payment) = (log.0[0].clone(), log.0[9].clone());
    let path = Path {
        needs: HashMap::from([(dispute.id.clone(), payment.id.clone())]),
        ..Path::default()
    };
    let store = Store::default();
    let settings = Settings::default();
    let first = run(&log, &path, &store, "stripe", &settings, NOW, all_the_time)
        .await
        .unwrap();
    assert_eq!((first.waiting, first.taken), (1, 9));
    let (checkpoint, _) = store.saved.lock().unwrap().clone().unwrap();
    assert_eq!(
        checkpoint.through, dispute.created,
        "the next pass reads it again"
    );
    let second = run(
        &log,
        &path,
        &store,
        "stripe",
        &settings,
        NOW + 60,
        all_the_time,
    )
    .await
    .unwrap();
    assert_eq!(second.waiting, 0);
    assert!(path.applied().contains(&dispute.id));
    let (checkpoint, _) = store.saved.lock().unwrap().clone().unwrap();
    assert_eq!(checkpoint.through, NOW + 60);

    // Waiting past the processor's retries, it is given up on, not kept.
    let stale = Path {
        needs: HashMap::from([(dispute.id.clone(), "evt_never".to_owned())]),
        ..Path::default()
    };
    let store = Store::default();
    let report = run(
        &log,
        &stale,
        &store,
        "stripe",
        &settings,
        NOW + 5 * DAY,
        all_the_time,
    )
    .await
    .unwrap();
    assert_eq!((report.abandoned, report.waiting), (1, 0));
}

#[tokio::test]
async fn a_run_that_another_overtook_stops_without_moving_the_checkpoint() {
    let log = Log::every(DAY, 10);
    let path = Path::default();
    let store = Store {
        overtaken_after: Some(1),
        ..Store::default()
    };
    let error = run(
        &log,
        &path,
        &store,
        "stripe",
        &Settings::default(),
        NOW,
        all_the_time,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, ReconcileError::Overtaken(_)), "{error}");
    let (checkpoint, version) = store.saved.lock().unwrap().clone().unwrap();
    assert_eq!(version, 1, "only the first save landed");
    assert!(checkpoint.pass.is_some());
}
