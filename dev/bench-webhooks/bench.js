// stripe-node's webhooks.constructEvent over the payloads the Rust bench
// signed (payloads.json), timed like the Rust bench: a warm-up, a batch
// calibrated to BENCH_BATCH_MS, then BENCH_BATCHES batches; each batch's
// time per call is one sample; median and p90 in µs per delivery.
// Usage: node bench.js payloads.json [results.json]
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const Stripe = require('stripe');
const STRIPE_VERSION = JSON.parse(fs.readFileSync(require('path').join(__dirname, 'node_modules/stripe/package.json'), 'utf8')).version;

const [payloadsFile, resultsFile] = process.argv.slice(2);
const doc = JSON.parse(fs.readFileSync(payloadsFile, 'utf8'));
const env = (name, dflt) => Number(process.env[name] || dflt);
const WARMUP_MS = env('BENCH_WARMUP_MS', 500);
const BATCH_MS = env('BENCH_BATCH_MS', 10);
const BATCHES = env('BENCH_BATCHES', 100);

// No request is made: the key only satisfies the constructor.
const stripe = new Stripe('sk_test_pastdueBenchNoNetwork');
const nowNs = () => process.hrtime.bigint();
let sink = 0;

function time(f) {
  const start = nowNs();
  let calls = 0;
  while (Number(nowNs() - start) / 1e6 < WARMUP_MS || calls < 10) {
    f();
    calls++;
  }
  const perCall = Number(nowNs() - start) / 1e9 / calls;
  const iters = Math.max(1, Math.floor(BATCH_MS / 1e3 / perCall));
  const samples = [];
  for (let b = 0; b < BATCHES; b++) {
    const t = nowNs();
    for (let i = 0; i < iters; i++) f();
    samples.push(Number(nowNs() - t) / 1e3 / iters);
  }
  samples.sort((a, b) => a - b);
  const pick = (q) => samples[Math.round((samples.length - 1) * q)];
  return { median_us: pick(0.5), p90_us: pick(0.9), min_us: samples[0], iters_per_batch: iters, batches: BATCHES };
}

const rows = [];
console.log(`stripe-node ${STRIPE_VERSION}, node ${process.version}`);
for (const p of doc.payloads) {
  const body = Buffer.from(p.body, 'utf8');
  const header = p.header;
  const secret = doc.secret;
  const tolerance = doc.tolerance;
  // Check what is timed: it verifies and reads the event.
  const event = stripe.webhooks.constructEvent(body, header, secret, tolerance);
  if (event.type !== p.name || !event.data.object.id) throw new Error(`${p.name}: read ${event.type}`);
  const t = header.split(',')[0].slice(2);

  const cases = [
    ['stripe-node constructEvent', () => {
      const e = stripe.webhooks.constructEvent(body, header, secret, tolerance);
      sink ^= e.created;
    }],
    ['node floor hmac+JSON.parse', () => {
      const mac = crypto.createHmac('sha256', secret).update(t + '.' + body.toString('utf8'), 'utf8').digest('hex');
      const e = JSON.parse(body.toString('utf8'));
      sink ^= e.created ^ mac.length;
    }],
  ];
  for (const [name, f] of cases) {
    const s = time(f);
    console.log(`${name.padEnd(28)} ${p.name.padEnd(24)} ${String(p.bytes).padStart(6)} ${s.median_us.toFixed(3).padStart(10)} ${s.p90_us.toFixed(3).padStart(10)} ${String(s.iters_per_batch).padStart(8)}`);
    rows.push({ contender: name, payload: p.name, bytes: p.bytes, ...s });
  }
}
if (sink === 0.5) console.log(sink);
if (resultsFile) {
  fs.writeFileSync(resultsFile, JSON.stringify({ runtime: `node ${process.version}, stripe ${STRIPE_VERSION}`, rows }, null, 2));
}
