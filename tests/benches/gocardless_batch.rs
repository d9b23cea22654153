//! One GoCardless delivery of a full batch, through `ingest`'s handler, on
//! DynamoDB Local and the loopback GoCardless API: the time from the signed
//! body to the answer for a batch of `PASTDUE_BENCH_EVENTS` (100) events,
//! each a new payment of its own customer (so each reads its payment,
//! mandate and customer from the API, links and creates an account, claims
//! and applies its event), then the same batch again (every event a
//! duplicate). `PASTDUE_BENCH_RUNS` (3) runs; the median and range go to
//! stderr. Not criterion: each run needs a fresh table and fresh payments.
//! Each new payment is three API reads (payment, mandate, customer), and
//! GoCardless allows 1,000 a minute (so does the loopback API): a run
//! waits for the next minute before it starts.
//!
//! Needs the local stack: `make stack && eval "$(make env)"`, then
//! `cargo bench -p pastdue-tests --bench gocardless_batch`.

#[path = "../gocardless_story.rs"]
mod gocardless_story;
#[allow(dead_code)] // the parts of the harness this bench uses
#[path = "../ingest_harness.rs"]
mod ingest_harness;
#[path = "../support.rs"]
mod support;

use std::time::{Duration, Instant};

use gocardless_story::{SECRET, Story, batch, gocardless_deps, gocardless_request};
use ingest_harness::post;
use serde_json::json;

fn median(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[0], times[times.len() - 1])
}

#[tokio::main]
async fn main() {
    let events = support::bench_setting("PASTDUE_BENCH_EVENTS", 100);
    let runs = support::bench_setting("PASTDUE_BENCH_RUNS", 3);
    let (mut first, mut again) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let into_minute = chrono::Utc::now().timestamp() % 60;
        tokio::time::sleep(Duration::from_secs((60 - into_minute) as u64 % 60)).await;
        let deps = gocardless_deps(&format!("bench-gc-batch-{run}")).await;
        let stories: Vec<Story> = (0..events).map(|_| Story::new()).collect();
        for story in &stories {
            story.seed();
        }
        let body = batch(
            &stories
                .iter()
                .map(|s| s.event("payments", "created", json!({})))
                .collect::<Vec<_>>(),
        );
        for times in [&mut first, &mut again] {
            let started = Instant::now();
            let (status, answer) = post(&deps, gocardless_request(&body, SECRET)).await;
            times.push(started.elapsed());
            assert_eq!(status, 200, "{answer}");
        }
    }
    let (m, lo, hi) = median(first);
    eprintln!(
        "a batch of {events} new payments: {m:.2?} median ({lo:.2?} to {hi:.2?}, {runs} runs)"
    );
    let (m, lo, hi) = median(again);
    eprintln!("the same batch again (all duplicates): {m:.2?} median ({lo:.2?} to {hi:.2?})");
}
