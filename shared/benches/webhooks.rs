//! Verify + map of real-size Stripe deliveries, against the floor
//! (HMAC-SHA256 over `t.body` plus a JSON parse that only visits the bytes).
//! Side by side with stripe-node and stripe-python in
//! `dev/bench-webhooks/run.sh`, which reads this bench's payloads and
//! results files; alone: `cargo bench -p pastdue-shared --bench webhooks`.
//!
//! The payloads are built here from Stripe's published dahlia fixtures
//! (`tests/fixtures/stripe/dahlia.json`): the full `invoice`, `charge` and
//! `dispute` objects in an event envelope, with only the values of fields
//! the fixture has changed (ids, customer, amounts, status), serialized
//! compactly in the order Stripe sends keys (`id`, `object`, then the
//! fixture's alphabetical order), and signed once.
//!
//! Each case is timed in batches: a warm-up, then a batch size calibrated
//! to about `BENCH_BATCH_MS` ms, then `BENCH_BATCHES` batches; a batch's
//! time over its size is one sample, and the median and p90 of the samples
//! are reported (µs per delivery). The node and python benches time the
//! same way.
//!
//! Environment: `BENCH_BATCHES` (100), `BENCH_BATCH_MS` (10),
//! `BENCH_WARMUP_MS` (500); `BENCH_ONLY=A,B` times only the cases whose
//! name or payload contains each of A and B; `PASTDUE_BENCH_PAYLOADS=FILE` writes the signed
//! payloads (body, header, secret, tolerance) as JSON for the other
//! contenders; `PASTDUE_BENCH_RESULTS=FILE` writes the results as JSON.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_http::http::{HeaderMap, HeaderValue};
use pastdue_shared::domain::{AccountId, InvoiceId};
use pastdue_shared::processors::stripe::StripeProcessor;
use pastdue_shared::processors::stripe::event::{Envelope, StripeEvent};
use pastdue_shared::processors::stripe::signature::{SIGNATURE_HEADER, signature_header};
use pastdue_shared::processors::stripe::tagged::Read;
use pastdue_shared::processors::verify::hmac_sha256;
use pastdue_shared::processors::{FromSecret, Mapped, Processor};
use serde_json::value::RawValue;
use serde_json::{Value, json};

const SECRET: &str = "whsec_pastdueBenchSecret0123456789abcdef";
/// Wide enough that the other contenders, run after this bench, still
/// accept the timestamp; the check costs the same whatever its width.
const TOLERANCE: i64 = 3600;
const CUSTOMER: &str = "cus_QXg1o8vcGmoR32";
const INVOICE: &str = "in_1Pgc6tB7WZ01zgkWu9fdqL6I";
const PAYMENT_INTENT: &str = "pi_3PgafuB7WZ01zgkW0bench01";

struct Payload {
    name: &'static str,
    body: Vec<u8>,
    header: String,
    timestamp: i64,
    /// What the mapping must produce, checked before timing.
    expect: &'static str,
}

fn set(object: &mut Value, path: &[&str], value: Value) {
    let mut at = object;
    for key in &path[..path.len() - 1] {
        at = at
            .get_mut(*key)
            .unwrap_or_else(|| panic!("fixture has no {path:?}"));
    }
    let last = path[path.len() - 1];
    let slot = at
        .get_mut(last)
        .unwrap_or_else(|| panic!("fixture has no {path:?}: only existing fields are changed"));
    *slot = value;
}

/// A value in the key order Stripe serializes objects in: `id` and
/// `object` first, then the rest as the fixture has them (alphabetical).
/// Stripe's published fixtures are sorted whole; what Stripe posts is not
/// (see the Event object at docs.stripe.com/api/events/object).
fn as_stripe_sends(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut ordered = serde_json::Map::new();
            let mut rest = Vec::new();
            for (key, value) in map {
                let value = as_stripe_sends(value);
                if key == "id" || key == "object" {
                    ordered.insert(key, value);
                } else {
                    rest.push((key, value));
                }
            }
            if let Some(object) = ordered.shift_remove("object") {
                ordered.insert("object".into(), object);
            }
            ordered.extend(rest);
            Value::Object(ordered)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(as_stripe_sends).collect()),
        other => other,
    }
}

fn envelope(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2026-07-29.dahlia",
        "created": created,
        "data": {"object": as_stripe_sends(object)},
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind,
    })
}

fn payloads(now: i64) -> Vec<Payload> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stripe/dahlia.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let fixture: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let objects = &fixture["objects"];
    let created = now - 5;

    let mut invoice = objects["invoice"].clone();
    for (path, value) in [
        (&["id"][..], json!(INVOICE)),
        (&["customer"], json!(CUSTOMER)),
        (&["currency"], json!("usd")),
        (&["status"], json!("paid")),
        (&["amount_due"], json!(12000)),
        (&["amount_paid"], json!(12000)),
        (&["amount_remaining"], json!(0)),
        (&["attempted"], json!(true)),
        (&["attempt_count"], json!(1)),
        (&["customer_email"], json!("billing@example.com")),
        (&["customer_name"], json!("Example Co")),
        (&["created"], json!(created - 86_400)),
        (&["due_date"], json!(created + 29 * 86_400)),
        (
            &["status_transitions", "finalized_at"],
            json!(created - 86_000),
        ),
        (&["status_transitions", "paid_at"], json!(created)),
    ] {
        set(&mut invoice, path, value);
    }

    let mut charge = objects["charge"].clone();
    for (path, value) in [
        (&["customer"][..], json!(CUSTOMER)),
        (&["currency"], json!("usd")),
        (&["payment_intent"], json!(PAYMENT_INTENT)),
        (&["amount"], json!(12000)),
        (&["amount_captured"], json!(12000)),
        (&["amount_refunded"], json!(12000)),
        (&["captured"], json!(true)),
        (&["refunded"], json!(true)),
        (&["created"], json!(created - 3_600)),
    ] {
        set(&mut charge, path, value);
    }

    let mut dispute = objects["dispute"].clone();
    for (path, value) in [
        (&["currency"][..], json!("usd")),
        (&["status"], json!("needs_response")),
        (&["payment_intent"], json!(PAYMENT_INTENT)),
        (&["amount"], json!(12000)),
        (&["created"], json!(created)),
    ] {
        set(&mut dispute, path, value);
    }

    [
        (
            "invoice.paid",
            "evt_1PbenchInvoicePaid000001",
            invoice,
            "events",
        ),
        (
            "charge.refunded",
            "evt_1PbenchChargeRefunded01",
            charge,
            "ignored",
        ),
        (
            "charge.dispute.created",
            "evt_1PbenchDisputeCreated1",
            dispute,
            "events",
        ),
    ]
    .into_iter()
    .map(|(kind, id, object, expect)| {
        let body = serde_json::to_vec(&envelope(id, kind, created, object)).unwrap_or_default();
        Payload {
            name: kind,
            header: signature_header(SECRET, now, &body),
            timestamp: now,
            body,
            expect,
        }
    })
    .collect()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One timed case: its name and the call it times.
type Case<'a> = (&'static str, Box<dyn FnMut() + 'a>);

struct Stats {
    median_us: f64,
    p90_us: f64,
    min_us: f64,
    iters: u64,
    batches: usize,
}

/// Warm-up, calibrate a batch to `batch_ms`, then time `batches` batches;
/// each batch's time per call is one sample.
fn time<F: FnMut()>(mut f: F) -> Stats {
    let warmup = Duration::from_millis(env_u64("BENCH_WARMUP_MS", 500));
    let batch = Duration::from_millis(env_u64("BENCH_BATCH_MS", 10));
    let batches = env_u64("BENCH_BATCHES", 100) as usize;

    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < warmup || calls < 10 {
        f();
        calls += 1;
    }
    let per_call = start.elapsed().as_secs_f64() / calls as f64;
    let iters = ((batch.as_secs_f64() / per_call) as u64).max(1);

    let mut samples = Vec::with_capacity(batches);
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        samples.push(t.elapsed().as_secs_f64() * 1e6 / iters as f64);
    }
    samples.sort_by(f64::total_cmp);
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Stats {
        median_us: pick(0.5),
        p90_us: pick(0.9),
        min_us: samples[0],
        iters,
        batches,
    }
}

/// `BENCH_ONLY=A,B` times only the cases where each of A and B is in the
/// case's name or its payload's (for a profiler; the side-by-side run
/// times them all).
fn selected(case: &str, payload: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| {
        only.split(',')
            .all(|word| case.contains(word) || payload.contains(word))
    })
}

fn main() {
    // `cargo bench` passes `--bench`; without it (`cargo test --benches`)
    // the payloads are only built and checked, not timed.
    run(!std::env::args().any(|a| a == "--bench"));
}

fn run(quick: bool) {
    let now = unix_now();
    let payloads = payloads(now);
    let stripe = match StripeProcessor::from_secret(SECRET, TOLERANCE) {
        Ok(p) => p,
        Err(e) => panic!("secret: {e}"),
    };
    let link = (
        AccountId::parse(CUSTOMER).expect("account id"),
        InvoiceId::parse(INVOICE).expect("invoice id"),
    );

    if let Ok(out) = std::env::var("PASTDUE_BENCH_PAYLOADS") {
        let doc = json!({
            "secret": SECRET,
            "tolerance": TOLERANCE,
            "payloads": payloads.iter().map(|p| json!({
                "name": p.name,
                "body": String::from_utf8_lossy(&p.body),
                "header": p.header,
                "bytes": p.body.len(),
            })).collect::<Vec<_>>(),
        });
        std::fs::write(&out, serde_json::to_vec_pretty(&doc).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{out}: {e}"));
        eprintln!("wrote {out}");
    }

    let mut rows: Vec<Value> = Vec::new();
    if !quick {
        println!(
            "{:<28} {:<24} {:>6} {:>10} {:>10} {:>10} {:>8}",
            "case", "payload", "bytes", "median µs", "p90 µs", "min µs", "iters"
        );
    }
    for p in &payloads {
        let mut headers = HeaderMap::new();
        headers.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(&p.header).expect("header value"),
        );

        // Check what is timed: verifies, and maps to what it should.
        stripe
            .verify(&headers, &p.body, unix_now())
            .unwrap_or_else(|e| panic!("{}: verify: {e}", p.name));
        let delivery = stripe
            .read(&headers, &p.body)
            .unwrap_or_else(|e| panic!("{}: read: {e}", p.name));
        let _ = delivery.links_needed();
        let mapped = delivery
            .map(Some(link.clone()))
            .unwrap_or_else(|e| panic!("{}: map: {e}", p.name));
        let got = match &mapped {
            Mapped::Events { .. } | Mapped::Linked { .. } => "events",
            Mapped::Ignored { .. } => "ignored",
            Mapped::Alert(_) => "alert",
            Mapped::WaitingForLink { .. } => "waiting",
        };
        assert_eq!(got, p.expect, "{}: mapped to {mapped:?}", p.name);
        drop(delivery);
        if quick {
            continue;
        }

        let t = p.timestamp.to_string();
        let cases: Vec<Case<'_>> = vec![
            (
                "pastdue verify+map",
                Box::new(|| {
                    let body = black_box(&p.body[..]);
                    let ok = stripe.verify(&headers, body, unix_now()).is_ok();
                    let delivery = stripe.read(&headers, body).ok();
                    if let Some(d) = delivery {
                        black_box(d.links_needed());
                        let _ = black_box(d.map(Some(link.clone())));
                    }
                    black_box(ok);
                }),
            ),
            (
                "floor hmac+IgnoredAny",
                Box::new(|| {
                    let body = black_box(&p.body[..]);
                    black_box(hmac_sha256(SECRET.as_bytes(), &[t.as_bytes(), b".", body]));
                    let _ = black_box(serde_json::from_slice::<serde::de::IgnoredAny>(body));
                }),
            ),
            (
                "pastdue verify only",
                Box::new(|| {
                    let body = black_box(&p.body[..]);
                    let _ = black_box(stripe.verify(&headers, body, unix_now()));
                }),
            ),
            (
                "pastdue read+map only",
                Box::new(|| {
                    let body = black_box(&p.body[..]);
                    if let Ok(d) = stripe.read(&headers, body) {
                        black_box(d.links_needed());
                        let _ = black_box(d.map(Some(link.clone())));
                    }
                }),
            ),
            (
                "read: one pass",
                Box::new(|| {
                    let body = black_box(&p.body[..]);
                    let _ = black_box(StripeEvent::parse(body));
                }),
            ),
            (
                "read: one pass, from bytes",
                Box::new(|| {
                    let body = black_box(&p.body[..]);
                    let _ = black_box(serde_json::from_slice::<Envelope<'_, Read<'_>>>(body));
                }),
            ),
            (
                "read: envelope, then object",
                Box::new(|| {
                    let body = black_box(&p.body[..]);
                    let two = serde_json::from_slice::<Envelope<'_, &RawValue>>(body)
                        .ok()
                        .map(|e| serde_json::from_str::<Read<'_>>(e.data.object.get()));
                    let _ = black_box(two);
                }),
            ),
            (
                "hmac only",
                Box::new(|| {
                    let body = black_box(&p.body[..]);
                    black_box(hmac_sha256(SECRET.as_bytes(), &[t.as_bytes(), b".", body]));
                }),
            ),
            (
                "IgnoredAny only",
                Box::new(|| {
                    let body = black_box(&p.body[..]);
                    let _ = black_box(serde_json::from_slice::<serde::de::IgnoredAny>(body));
                }),
            ),
            (
                "serde_json::Value parse",
                Box::new(|| {
                    let body = black_box(&p.body[..]);
                    let _ = black_box(serde_json::from_slice::<Value>(body));
                }),
            ),
        ];
        for (case, mut f) in cases {
            if !selected(case, p.name) {
                continue;
            }
            let s = time(&mut f);
            println!(
                "{:<28} {:<24} {:>6} {:>10.3} {:>10.3} {:>10.3} {:>8}",
                case,
                p.name,
                p.body.len(),
                s.median_us,
                s.p90_us,
                s.min_us,
                s.iters
            );
            rows.push(json!({
                "contender": case,
                "payload": p.name,
                "bytes": p.body.len(),
                "median_us": s.median_us,
                "p90_us": s.p90_us,
                "min_us": s.min_us,
                "iters_per_batch": s.iters,
                "batches": s.batches,
            }));
        }
    }

    if let Ok(out) = std::env::var("PASTDUE_BENCH_RESULTS") {
        let doc = json!({"runtime": "rust", "rows": rows});
        std::fs::write(&out, serde_json::to_vec_pretty(&doc).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{out}: {e}"));
        eprintln!("wrote {out}");
    }
}
