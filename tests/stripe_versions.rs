//! Stripe on every API version pastdue supports, through `ingest` over HTTP
//! against DynamoDB Local, signed as Stripe signs: one invoice's life
//! (finalized, credited before payment, moved due date, paid in one or in
//! two partial payments, credited after payment with a refund, a refund
//! that fails, a dispute won) delivered in order, in reverse, and shuffled
//! with duplicates, retried on 503 as Stripe retries. Whatever the order,
//! pastdue owes what Stripe's invoice says remains.

mod ingest_harness;
mod stripe_shapes;
mod support;

use ingest_harness::*;
use serde_json::Value;
use stripe_shapes::{FAMILIES, Family};

const T0: i64 = 1_767_000_000; // 2025-12-29T09:20:00Z
const DAY: i64 = 86_400;

/// One invoice's deliveries in the order Stripe sends them, and what
/// Stripe's invoice says remains owed after them (cents).
struct Story {
    customer: String,
    invoice: String,
    deliveries: Vec<Value>,
    amount_remaining: i64,
}

struct Ids {
    customer: String,
    invoice: String,
    tag: String,
}

impl Ids {
    fn new(family: &Family, run: &str) -> Self {
        let tag = format!("{}{run}", family.name.replace('-', ""));
        Self {
            customer: format!("cus_{tag}"),
            invoice: format!("in_{tag}"),
            tag,
        }
    }
    fn id(&self, prefix: &str, n: u32) -> String {
        format!("{prefix}_{}{n}", self.tag)
    }
}

fn invoice(f: &Family, ids: &Ids, set: &[(&str, Value)]) -> Value {
    let mut fields: Vec<(&str, Value)> = vec![
        ("id", ids.invoice.clone().into()),
        ("customer", ids.customer.clone().into()),
        ("customer_email", "dana@whitfield.example".into()),
        ("customer_name", "Dana Whitfield".into()),
        ("currency", "usd".into()),
        ("amount_due", 12_000.into()),
        ("amount_paid", 0.into()),
        ("amount_remaining", 12_000.into()),
        ("status", "open".into()),
        ("due_date", (T0 + 14 * DAY).into()),
        ("number", format!("WH-{}", ids.tag).into()),
        (
            "hosted_invoice_url",
            format!("https://invoice.stripe.com/i/acct_1/{}", ids.tag).into(),
        ),
        ("status_transitions.finalized_at", T0.into()),
    ];
    fields.extend(set.iter().cloned());
    f.object("invoice", &fields)
}

/// The invoice, credited 20.00 before payment and due a week later.
fn credited(f: &Family, ids: &Ids, set: &[(&str, Value)]) -> Value {
    let mut fields: Vec<(&str, Value)> = vec![
        ("amount_due", 10_000.into()),
        ("amount_remaining", 10_000.into()),
        ("pre_payment_credit_notes_amount", 2_000.into()),
        ("due_date", (T0 + 21 * DAY).into()),
    ];
    fields.extend(set.iter().cloned());
    invoice(f, ids, &fields)
}

fn credit_note(f: &Family, ids: &Ids, n: u32, kind: &str, amount: i64) -> Value {
    let mut fields = vec![
        ("id", ids.id("cn", n).into()),
        ("invoice", ids.invoice.clone().into()),
        ("customer", ids.customer.clone().into()),
        ("currency", "usd".into()),
        ("amount", amount.into()),
        ("type", kind.into()),
    ];
    let split = if kind == "pre_payment" {
        [("pre_payment_amount", amount), ("post_payment_amount", 0)]
    } else {
        [("pre_payment_amount", 0), ("post_payment_amount", amount)]
    };
    for (k, v) in split {
        if f.has("credit_note", k) {
            fields.push((k, v.into()));
        }
    }
    f.object("credit_note", &fields)
}

fn refund(f: &Family, ids: &Ids, n: u32, payment: &str, amount: i64, status: &str) -> Value {
    f.object(
        "refund",
        &[
            ("id", ids.id("re", n).into()),
            ("amount", amount.into()),
            ("currency", "usd".into()),
            ("charge", ids.id("ch", 9).into()),
            ("payment_intent", payment.into()),
            ("status", status.into()),
        ],
    )
}

fn dispute(f: &Family, ids: &Ids, payment: &str, amount: i64, status: &str) -> Value {
    f.object(
        "dispute",
        &[
            ("id", ids.id("dp", 1).into()),
            ("amount", amount.into()),
            ("currency", "usd".into()),
            ("charge", ids.id("ch", 9).into()),
            ("payment_intent", payment.into()),
            ("status", status.into()),
        ],
    )
}

fn story(f: &Family, run: &str, partial_only: bool) -> Story {
    let ids = Ids::new(f, run);
    let mut n = 0;
    let mut out = Vec::new();
    let mut send = |kind: &str, at: i64, object: Value| {
        n += 1;
        out.push(f.event(&ids.id("evt", n), kind, at, object));
    };
    send("invoice.finalized", T0, invoice(f, &ids, &[]));
    send("invoice.updated", T0 + 100, credited(f, &ids, &[]));
    send(
        "credit_note.created",
        T0 + 100,
        credit_note(f, &ids, 1, "pre_payment", 2_000),
    );
    let paid_in_full = [
        ("status", Value::from("paid")),
        ("amount_paid", 10_000.into()),
        ("amount_remaining", 0.into()),
    ];
    let last_payment;
    let last_amount;
    if f.basil_or_later() {
        // Two partial payments; the invoice itself names neither.
        let part = |n: u32, amount: i64| {
            f.object(
                "invoice_payment",
                &[
                    ("id", ids.id("inpay", n).into()),
                    ("invoice", ids.invoice.clone().into()),
                    ("amount_paid", amount.into()),
                    ("amount_requested", amount.into()),
                    ("currency", "usd".into()),
                    ("payment.type", "payment_intent".into()),
                    ("payment.payment_intent", ids.id("pi", n).into()),
                    ("status", "paid".into()),
                ],
            )
        };
        send("invoice_payment.paid", T0 + 150, part(1, 4_000));
        send(
            "invoice.updated",
            T0 + 150,
            credited(
                f,
                &ids,
                &[
                    ("amount_paid", 4_000.into()),
                    ("amount_remaining", 6_000.into()),
                ],
            ),
        );
        if partial_only {
            return Story {
                customer: ids.customer.clone(),
                invoice: ids.invoice.clone(),
                deliveries: out,
                amount_remaining: 6_000,
            };
        }
        send("invoice_payment.paid", T0 + 200, part(2, 6_000));
        (last_payment, last_amount) = (ids.id("pi", 2), 6_000);
    } else {
        if partial_only {
            return Story {
                customer: ids.customer.clone(),
                invoice: ids.invoice.clone(),
                deliveries: out,
                amount_remaining: 10_000,
            };
        }
        (last_payment, last_amount) = (ids.id("pi", 1), 10_000);
    }
    let mut paid = paid_in_full.to_vec();
    if !f.basil_or_later() {
        paid.push(("payment_intent", last_payment.clone().into()));
        paid.push(("charge", ids.id("ch", 9).into()));
    }
    send("invoice.paid", T0 + 200, credited(f, &ids, &paid));
    send(
        "invoice.payment_succeeded",
        T0 + 200,
        credited(f, &ids, &paid),
    );
    // 15.00 credited after payment, as a refund.
    let mut after = paid.clone();
    after.push(("post_payment_credit_notes_amount", 1_500.into()));
    send("invoice.updated", T0 + 300, credited(f, &ids, &after));
    send(
        "credit_note.created",
        T0 + 300,
        credit_note(f, &ids, 2, "post_payment", 1_500),
    );
    send(
        "refund.created",
        T0 + 300,
        refund(f, &ids, 1, &last_payment, 1_500, "pending"),
    );
    send(
        "refund.updated",
        T0 + 310,
        refund(f, &ids, 1, &last_payment, 1_500, "succeeded"),
    );
    send(
        "charge.refunded",
        T0 + 310,
        f.object(
            "charge",
            &[
                ("id", ids.id("ch", 9).into()),
                ("payment_intent", last_payment.clone().into()),
                ("amount", last_amount.into()),
                ("amount_refunded", 1_500.into()),
                ("currency", "usd".into()),
            ],
        ),
    );
    // A refund that fails gives the money back.
    send(
        "refund.created",
        T0 + 400,
        refund(f, &ids, 2, &last_payment, 700, "pending"),
    );
    send(
        "refund.updated",
        T0 + 450,
        refund(f, &ids, 2, &last_payment, 700, "failed"),
    );
    // A chargeback, won.
    let disputed = last_amount - 1_500;
    for (kind, at, status) in [
        ("charge.dispute.created", T0 + 500, "needs_response"),
        ("charge.dispute.funds_withdrawn", T0 + 500, "needs_response"),
        ("charge.dispute.funds_reinstated", T0 + 900, "won"),
        ("charge.dispute.closed", T0 + 900, "won"),
    ] {
        send(kind, at, dispute(f, &ids, &last_payment, disputed, status));
    }
    Story {
        customer: ids.customer,
        invoice: ids.invoice,
        deliveries: out,
        amount_remaining: 0,
    }
}

/// Posts every delivery; those answered 503 (waiting for a payment or
/// invoice they name) are posted again in later rounds, as Stripe retries.
async fn deliver(d: &Deps, deliveries: &[Value]) -> Vec<(String, String)> {
    let mut pending: Vec<&Value> = deliveries.iter().collect();
    let mut outcomes = Vec::new();
    for _round in 0..6 {
        let mut later = Vec::new();
        for delivery in pending {
            let body = serde_json::to_vec(delivery).unwrap();
            let (status, answer) = post(d, stripe_request(&body, STRIPE_SECRET, NOW)).await;
            match status {
                200 => outcomes.push((
                    delivery["type"].as_str().unwrap().to_owned(),
                    answer["outcome"].as_str().unwrap().to_owned(),
                )),
                503 => later.push(delivery),
                _ => panic!("{} answered {status}: {answer}", delivery["type"]),
            }
        }
        if later.is_empty() {
            return outcomes;
        }
        pending = later;
    }
    panic!("deliveries still waiting after six rounds: {pending:?}");
}

/// A fixed shuffle with every third delivery sent twice.
fn shuffled(deliveries: &[Value], seed: u64) -> Vec<Value> {
    let mut out: Vec<Value> = deliveries
        .iter()
        .enumerate()
        .flat_map(|(i, d)| std::iter::repeat_n(d.clone(), if i % 3 == 0 { 2 } else { 1 }))
        .collect();
    let mut state = seed;
    for i in (1..out.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = usize::try_from((state >> 33) % (i as u64 + 1)).unwrap();
        out.swap(i, j);
    }
    out
}

/// (amount, paid, outstanding, due, status) of `invoice` in `account show`.
fn line(shown: &Value, invoice: &str) -> [String; 5] {
    let line = shown["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == invoice)
        .unwrap_or_else(|| panic!("{invoice} in {shown}"));
    ["amount", "paid", "outstanding", "due", "status"]
        .map(|k| line[k].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn every_version_in_any_order_owes_what_stripe_says_remains() {
    for (name, objects) in FAMILIES {
        let family = Family::load(name, objects);
        let d = deps(&format!("stripe-{name}")).await;
        for (run, order) in [("o", 0), ("r", 1), ("s", 2), ("t", 3)] {
            let story = story(&family, run, false);
            let deliveries = match order {
                0 => story.deliveries.clone(),
                1 => story.deliveries.iter().rev().cloned().collect(),
                seed => shuffled(&story.deliveries, seed),
            };
            let outcomes = deliver(&d, &deliveries).await;
            let context = format!("{name} order {run}: {outcomes:?}");
            assert!(
                outcomes
                    .iter()
                    .any(|(t, o)| t == "charge.refunded" && o == "ignored"),
                "{context}"
            );
            let shown = show(&d, &story.customer).await;
            // 120.00 less 20.00 credited before payment and 15.00 after;
            // 100.00 paid less the 15.00 refunded; the failed refund and the
            // won dispute leave nothing behind.
            assert_eq!(
                line(&shown, &story.invoice),
                [
                    "85.00",
                    "85.00",
                    &format!("{}.00", story.amount_remaining / 100),
                    "2026-01-19",
                    "paid"
                ],
                "{context}"
            );
            assert_eq!(shown["contacts"][0]["name"], "Dana Whitfield", "{context}");
            let listed = &shown["invoices"][0];
            assert_eq!(
                (listed["number"].as_str(), listed["pay_url"].as_str()),
                (
                    Some(format!("WH-{}{run}", name.replace('-', "")).as_str()),
                    Some(
                        format!(
                            "https://invoice.stripe.com/i/acct_1/{}{run}",
                            name.replace('-', "")
                        )
                        .as_str()
                    )
                ),
                "{context}: emails name the invoice as Stripe shows it"
            );
            // Delivered again, the whole story changes nothing.
            let again = deliver(&d, &deliveries).await;
            assert!(
                again
                    .iter()
                    .all(|(_, o)| o == "duplicate" || o == "ignored"),
                "{name} {run}: {again:?}"
            );
        }
        // Part of the way: what remains is what Stripe says remains.
        let part = story(&family, "p", true);
        deliver(&d, &part.deliveries).await;
        let shown = show(&d, &part.customer).await;
        assert_eq!(
            line(&shown, &part.invoice)[2],
            format!("{}.00", part.amount_remaining / 100),
            "{name}"
        );
    }
}

/// A customer's cards on every version: saved, made default, renewed by
/// the card network, one detached; in any order and twice, the card
/// notice waits for the default card's renewed expiry.
#[tokio::test]
async fn every_version_keeps_the_default_card_and_its_renewed_expiry_in_any_order() {
    for (name, objects) in FAMILIES {
        let f = Family::load(name, objects);
        let d = deps(&format!("stripe-cards-{name}")).await;
        for (run, seed) in [("o", 0), ("r", 1), ("s", 2)] {
            let ids = Ids::new(&f, run);
            let customer = |default: Value| {
                f.object(
                    "customer",
                    &[
                        ("id", ids.customer.clone().into()),
                        ("email", "dana@whitfield.example".into()),
                        ("name", "Dana Whitfield".into()),
                        ("invoice_settings.default_payment_method", default),
                    ],
                )
            };
            let card = |n: u32, month: u32, year: i32, owner: Value| {
                f.object(
                    "payment_method",
                    &[
                        ("id", ids.id("pm", n).into()),
                        ("customer", owner),
                        ("type", "card".into()),
                        ("card.exp_month", month.into()),
                        ("card.exp_year", year.into()),
                    ],
                )
            };
            let owner = Value::from(ids.customer.clone());
            let deliveries = vec![
                f.event(
                    &ids.id("evt", 1),
                    "customer.created",
                    T0,
                    customer(Value::Null),
                ),
                f.event(
                    &ids.id("evt", 2),
                    "payment_method.attached",
                    T0 + 10,
                    card(1, 3, 2027, owner.clone()),
                ),
                f.event(
                    &ids.id("evt", 3),
                    "payment_method.attached",
                    T0 + 20,
                    card(2, 4, 2027, owner.clone()),
                ),
                f.event(
                    &ids.id("evt", 4),
                    "customer.updated",
                    T0 + 30,
                    customer(ids.id("pm", 2).into()),
                ),
                f.event(
                    &ids.id("evt", 5),
                    "payment_method.automatically_updated",
                    T0 + 40,
                    card(2, 4, 2031, owner.clone()),
                ),
                f.event_with_previous(
                    &ids.id("evt", 6),
                    "payment_method.detached",
                    T0 + 50,
                    card(1, 3, 2027, Value::Null),
                    serde_json::json!({ "customer": ids.customer.clone() }),
                ),
            ];
            let order = match seed {
                0 => deliveries.clone(),
                1 => deliveries.iter().rev().cloned().collect(),
                seed => shuffled(&deliveries, seed),
            };
            // The customer must exist before its cards: Stripe's retries
            // bring the rest once customer.created is in.
            let mut first = vec![deliveries[0].clone()];
            first.extend(order);
            let outcomes = deliver(&d, &first).await;
            let shown = show(&d, &ids.customer).await;
            assert_eq!(
                shown["card_notice_from"], "2031-03-31",
                "{name} {run}: {outcomes:?}"
            );
            assert_eq!(shown["contacts"][0]["email"], "dana@whitfield.example");
            if run == "o" {
                for kind in ["customer.updated", "payment_method.detached"] {
                    assert!(
                        outcomes.iter().any(|(t, o)| t == kind && o == "applied"),
                        "{name}: {kind} in {outcomes:?}"
                    );
                }
            }
        }
    }
}

/// Stripe gives a due instant; an account in New York owes on the date it
/// is there (the customer's calendar), not the UTC one.
#[tokio::test]
async fn a_due_date_is_the_accounts_own_local_date() {
    let f = Family::load("dahlia", "dahlia");
    let d = deps("stripe-due-zone").await;
    let ids = Ids::new(&f, "z");
    let account = pastdue_shared::domain::Account::from_json(&serde_json::json!({
        "id": ids.customer, "name": "Whitfield Hosting", "timezone": "America/New_York",
        "contacts": [{"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]}]}))
    .unwrap();
    d.accounts.upsert_account(&account).await.unwrap();
    // 2026-01-31T02:00:00Z is 30 January, 21:00 in New York.
    let due = 1_769_824_800;
    let finalized = invoice(&f, &ids, &[("due_date", due.into())]);
    deliver(
        &d,
        &[f.event(&ids.id("evt", 1), "invoice.finalized", T0, finalized)],
    )
    .await;
    let shown = show(&d, &ids.customer).await;
    assert_eq!(line(&shown, &ids.invoice)[3], "2026-01-30", "{shown}");
}

/// A thin event (an event destination's `v2.core.event`, as stripe-node's
/// tests post it) names an invoice without its state: it is refused with a
/// reason that says what to change, and nothing is recorded, so Stripe
/// keeps it for a retry once the endpoint sends snapshot events.
#[tokio::test]
async fn a_thin_event_is_refused_with_what_to_change_and_changes_nothing() {
    let d = deps("stripe-thin").await;
    let thin = serde_json::json!({
        "id": "evt_test_65R9Ijk8Z7thin",
        "object": "v2.core.event",
        "type": "v1.invoice.paid",
        "livemode": false,
        "created": "2026-01-01T20:40:00.000Z",
        "related_object": {
            "id": "in_thin1",
            "type": "invoice",
            "url": "/v1/invoices/in_thin1"
        }
    });
    let body = serde_json::to_vec(&thin).unwrap();
    for _ in 0..2 {
        let (status, answer) = post(&d, stripe_request(&body, STRIPE_SECRET, NOW)).await;
        assert_eq!(status, 400, "{answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("thin event") && error.contains("snapshot"),
            "{answer}"
        );
    }
    // Refused, not claimed: a snapshot delivery of the same id still applies.
    let f = Family::load("endive", "dahlia");
    let ids = Ids::new(&f, "thin");
    let finalized = invoice(&f, &ids, &[]);
    let outcomes = deliver(
        &d,
        &[f.event(
            "evt_test_65R9Ijk8Z7thin",
            "invoice.finalized",
            T0,
            finalized,
        )],
    )
    .await;
    assert_eq!(outcomes, [("invoice.finalized".into(), "applied".into())]);
}

/// A thin event notification as an event destination posts it.
fn thin_event(id: &str, kind: &str, related: &str, url: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id": id,
        "object": "v2.core.event",
        "type": kind,
        "livemode": false,
        "created": "2026-01-01T20:40:00.000Z",
        "related_object": {"id": related, "type": kind.trim_start_matches("v1.").split('.').next(), "url": url}
    }))
    .unwrap()
}

/// With a Stripe API key, a thin event is read whole: its related object
/// from Stripe's API, in the thin event's envelope, through the webhook's
/// own path. Once only; and a Stripe that cannot answer gets a 503, so
/// Stripe delivers it again.
#[tokio::test]
async fn with_an_api_key_thin_events_are_read_whole_through_stripes_api() {
    use pastdue_shared::adapters::stripe_api::{ApiKey, Retries, StripeApi, StripeThin};
    let key = format!("rk_test_thin{}", fastrand::u32(..));
    let api = StripeApi::new(
        &support::local_endpoint("STRIPE_API_BASE"),
        ApiKey::parse(&key).unwrap(),
        Retries {
            attempts: 1,
            ..Retries::default()
        },
    )
    .unwrap();
    let d = deps_with_thin("stripe-thin-read", StripeThin { api }).await;
    let f = Family::load("endive", "dahlia");
    let ids = Ids::new(&f, "thinread");
    let payment = ids.id("inpay", 1);
    support::stripe_api_set(
        &key,
        "invoices",
        &serde_json::json!([invoice(&f, &ids, &[])]),
    );
    support::stripe_api_set(
        &key,
        "invoice_payments",
        &serde_json::json!([f.paid_invoice_payment(
            &payment,
            &ids.invoice,
            12_000,
            &ids.id("pi", 1)
        )]),
    );
    let finalized = thin_event(
        &ids.id("evt", 1),
        "v1.invoice.finalized",
        &ids.invoice,
        &format!("/v1/invoices/{}", ids.invoice),
    );
    let paid = thin_event(
        &ids.id("evt", 2),
        "v1.invoice_payment.paid",
        &payment,
        &format!("/v1/invoice_payments/{payment}"),
    );
    let mut outcomes = Vec::new();
    for body in [&finalized, &paid, &paid] {
        let (status, answer) = post(&d, stripe_request(body, STRIPE_SECRET, NOW)).await;
        assert_eq!(status, 200, "{answer}");
        outcomes.push(answer["outcome"].as_str().unwrap().to_owned());
    }
    assert_eq!(outcomes, ["applied", "applied", "duplicate"]);
    let shown = show(&d, &ids.customer).await;
    assert_eq!(
        line(&shown, &ids.invoice)[2],
        "0.00",
        "paid in full: {shown}"
    );

    // Stripe's API fails: 503, nothing recorded, and Stripe's retry applies.
    support::stripe_api_set(
        &key,
        "faults",
        &serde_json::json!({"status": 500, "count": 1, "path": "/v1/invoices"}),
    );
    let updated = thin_event(
        &ids.id("evt", 3),
        "v1.invoice.updated",
        &ids.invoice,
        &format!("/v1/invoices/{}", ids.invoice),
    );
    let (status, answer) = post(&d, stripe_request(&updated, STRIPE_SECRET, NOW)).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (503, Some("retry")),
        "{answer}"
    );
    let (status, answer) = post(&d, stripe_request(&updated, STRIPE_SECRET, NOW)).await;
    assert_eq!(status, 200, "{answer}");
}

/// An inquiry (`warning_*`) moves no money; when it escalates to a
/// chargeback, Stripe withdraws the funds and says so, and a lost
/// chargeback leaves the invoice owed again. On every version, in order,
/// in reverse and shuffled with duplicates.
#[tokio::test]
async fn an_inquiry_that_escalates_withdraws_the_funds_then_on_every_version() {
    for (name, objects) in FAMILIES {
        let f = Family::load(name, objects);
        let d = deps(&format!("stripe-inquiry-{name}")).await;
        for (run, order) in [("o", 0), ("r", 1), ("s", 2)] {
            let ids = Ids::new(&f, &format!("q{run}"));
            let payment = ids.id("pi", 1);
            let mut n = 0;
            let mut out = Vec::new();
            let mut send = |kind: &str, at: i64, object: Value| {
                n += 1;
                out.push(f.event(&ids.id("evt", n), kind, at, object));
            };
            send("invoice.finalized", T0, invoice(&f, &ids, &[]));
            let mut paid = vec![
                ("status", Value::from("paid")),
                ("amount_paid", 12_000.into()),
                ("amount_remaining", 0.into()),
            ];
            if f.basil_or_later() {
                let part = f.object(
                    "invoice_payment",
                    &[
                        ("id", ids.id("inpay", 1).into()),
                        ("invoice", ids.invoice.clone().into()),
                        ("amount_paid", 12_000.into()),
                        ("amount_requested", 12_000.into()),
                        ("currency", "usd".into()),
                        ("payment.type", "payment_intent".into()),
                        ("payment.payment_intent", payment.clone().into()),
                        ("status", "paid".into()),
                    ],
                );
                send("invoice_payment.paid", T0 + 100, part);
            } else {
                paid.push(("payment_intent", payment.clone().into()));
            }
            send("invoice.paid", T0 + 100, invoice(&f, &ids, &paid));
            for (kind, at, status) in [
                ("charge.dispute.created", T0 + 200, "warning_needs_response"),
                ("charge.dispute.updated", T0 + 300, "warning_under_review"),
                ("charge.dispute.funds_withdrawn", T0 + 400, "needs_response"),
                ("charge.dispute.closed", T0 + 900, "lost"),
            ] {
                send(kind, at, dispute(&f, &ids, &payment, 12_000, status));
            }
            let deliveries = match order {
                0 => out.clone(),
                1 => out.iter().rev().cloned().collect(),
                seed => shuffled(&out, seed),
            };
            let outcomes = deliver(&d, &deliveries).await;
            let context = format!("{name} order {run}: {outcomes:?}");
            let shown = show(&d, &ids.customer).await;
            let [amount, paid, outstanding, ..] = line(&shown, &ids.invoice);
            assert_eq!(
                [amount.as_str(), paid.as_str(), outstanding.as_str()],
                ["120.00", "0.00", "120.00"],
                "{context}: the lost chargeback's funds are owed again, once"
            );
        }
        // The inquiry alone, never escalated, withdraws nothing.
        let ids = Ids::new(&f, "qalone");
        let payment = ids.id("pi", 1);
        let mut paid = vec![
            ("status", Value::from("paid")),
            ("amount_paid", 12_000.into()),
            ("amount_remaining", 0.into()),
        ];
        let mut deliveries = vec![f.event(
            &ids.id("evt", 1),
            "invoice.finalized",
            T0,
            invoice(&f, &ids, &[]),
        )];
        if f.basil_or_later() {
            deliveries.push(f.event(
                &ids.id("evt", 2),
                "invoice_payment.paid",
                T0 + 100,
                f.object(
                    "invoice_payment",
                    &[
                        ("id", ids.id("inpay", 1).into()),
                        ("invoice", ids.invoice.clone().into()),
                        ("amount_paid", 12_000.into()),
                        ("currency", "usd".into()),
                        ("payment.type", "payment_intent".into()),
                        ("payment.payment_intent", payment.clone().into()),
                        ("status", "paid".into()),
                    ],
                ),
            ));
        } else {
            paid.push(("payment_intent", payment.clone().into()));
        }
        deliveries.push(f.event(
            &ids.id("evt", 3),
            "invoice.paid",
            T0 + 100,
            invoice(&f, &ids, &paid),
        ));
        for (n, (kind, status)) in [
            ("charge.dispute.created", "warning_needs_response"),
            ("charge.dispute.closed", "warning_closed"),
        ]
        .into_iter()
        .enumerate()
        {
            deliveries.push(f.event(
                &ids.id("evt", 4 + n as u32),
                kind,
                T0 + 200,
                dispute(&f, &ids, &payment, 12_000, status),
            ));
        }
        deliver(&d, &deliveries).await;
        let shown = show(&d, &ids.customer).await;
        assert_eq!(
            line(&shown, &ids.invoice)[2],
            "0.00",
            "{name}: an inquiry alone moves no money"
        );
    }
}
