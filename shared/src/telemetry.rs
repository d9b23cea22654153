//! Structured logs: `tracing` events as JSON lines on stderr.
//!
//! Functions and the CLI call [`init`] once at start. Level comes from
//! `RUST_LOG` (default `info`). Callers put the account and event ids on
//! their spans and events as fields; secrets never go into fields.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. Calling it again is harmless.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests, or a binary that calls it twice) keeps the first.
    let _already_set = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
