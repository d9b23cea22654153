//! `pastdue reconcile` against the loopback Stripe API (`dev/stripe_api.py`)
//! and DynamoDB Local, through the real binary: every planted difference is
//! reported, the exit status says drift was found, and `--apply` settles
//! what Stripe's invoices can settle, once.

#[allow(dead_code)] // this target uses part of it
mod harness;

use harness::Cli;
use harness::support;
use serde_json::{Value, json};

#[allow(dead_code)] // this target uses part of it
#[path = "../../tests/stripe_shapes.rs"]
mod stripe_shapes;

use stripe_shapes::Family;

const DUE: i64 = 1_768_478_400; // 2026-01-15T12:00:00Z

fn invoice(f: &Family, id: &str, customer: &str, set: &[(&str, Value)]) -> Value {
    let mut fields: Vec<(&str, Value)> = vec![
        ("id", id.into()),
        ("customer", customer.into()),
        ("customer_email", "dana@whitfield.example".into()),
        ("customer_name", "Dana Whitfield".into()),
        ("currency", "usd".into()),
        ("amount_due", 10_000.into()),
        ("amount_paid", 0.into()),
        ("amount_remaining", 10_000.into()),
        ("status", "open".into()),
        ("due_date", DUE.into()),
        (
            "status_transitions.finalized_at",
            (DUE - 14 * 86_400).into(),
        ),
    ];
    fields.extend(set.iter().cloned());
    f.object("invoice", &fields)
}

fn payment(f: &Family, invoice: &str, amount: i64) -> Value {
    f.paid_invoice_payment(
        &format!("inpay_{invoice}"),
        invoice,
        amount,
        &format!("pi_{invoice}"),
    )
}

fn issued(id: &str) -> Value {
    json!({"id": format!("e_{id}"), "at": "2026-01-01T10:00:00Z", "account": "cus_Here",
           "type": "invoice_issued", "invoice": id, "amount": "100.00", "currency": "USD",
           "due": "2026-01-15"})
}

fn lines(report: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = report["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["account"].as_str().unwrap().to_owned(),
                d["invoice"].as_str().unwrap_or("").to_owned(),
                d["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn reconcile(cli: &Cli, key: &str, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["reconcile", "--json"];
    all.extend_from_slice(args);
    let out = cli.run_with(&all, &[("STRIPE_API_KEY", key)]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report)
}

#[tokio::test]
async fn the_drift_report_finds_each_planted_difference_and_apply_settles_what_stripe_can() {
    let cli = Cli::new("cli-reconcile").await;
    let key = format!("rk_test_drift{}", fastrand::u32(..));
    let accounts = cli.file(
        "accounts.json",
        r#"[{"id": "cus_Here", "name": "Whitfield Hosting", "timezone": "UTC",
             "contacts": [{"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]}]}]"#,
    );
    cli.ok(&["accounts", "import", &accounts]);
    cli.apply(
        "events.json",
        json!(
            [
                "in_Same",
                "in_PaidThere",
                "in_LessThere",
                "in_LaterThere",
                "in_Unknown"
            ]
            .map(issued)
        ),
    );

    let f = Family::load("endive", "dahlia");
    support::stripe_api_set(
        &key,
        "invoices",
        &json!([
            invoice(&f, "in_Same", "cus_Here", &[]),
            invoice(
                &f,
                "in_PaidThere",
                "cus_Here",
                &[
                    ("status", "paid".into()),
                    ("amount_paid", 10_000.into()),
                    ("amount_remaining", 0.into())
                ]
            ),
            invoice(
                &f,
                "in_LessThere",
                "cus_Here",
                &[
                    ("amount_paid", 4_000.into()),
                    ("amount_remaining", 6_000.into())
                ]
            ),
            invoice(
                &f,
                "in_LaterThere",
                "cus_Here",
                &[("due_date", (DUE + 17 * 86_400).into())]
            ),
            invoice(
                &f,
                "in_NewThere",
                "cus_Here",
                &[
                    ("amount_due", 4_000.into()),
                    ("amount_remaining", 4_000.into())
                ]
            ),
            invoice(&f, "in_Stranger", "cus_Stranger", &[]),
        ]),
    );
    support::stripe_api_set(
        &key,
        "invoice_payments",
        &json!([
            payment(&f, "in_PaidThere", 10_000),
            payment(&f, "in_LessThere", 4_000)
        ]),
    );

    let (status, report) = reconcile(&cli, &key, &[]);
    assert_eq!(status, 1, "drift found: {report}");
    let s = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        lines(&report),
        [
            s("cus_Here", "in_LaterThere", "due"),
            s("cus_Here", "in_LessThere", "owed"),
            s("cus_Here", "in_NewThere", "invoice_missing"),
            s("cus_Here", "in_PaidThere", "status"),
            s("cus_Here", "in_Unknown", "unknown_to_processor"),
            s("cus_Stranger", "", "customer_missing"),
            s("cus_Stranger", "in_Stranger", "invoice_missing"),
        ]
    );
    assert_eq!(
        report["applied"],
        Value::Null,
        "nothing applied without --apply"
    );

    // One customer only.
    let (_, one) = reconcile(&cli, &key, &["--account", "cus_Stranger"]);
    assert_eq!(lines(&one).len(), 2, "{one}");

    // --apply: five invoices taken from Stripe; what is left is the one
    // Stripe does not have, and a rerun applies nothing more.
    let (status, applied) = reconcile(&cli, &key, &["--apply"]);
    assert_eq!(
        (status, applied["applied"].clone()),
        (1, json!({"invoices": 5, "customers": 1})),
        "{applied}"
    );
    let (status, after) = reconcile(&cli, &key, &["--apply"]);
    assert_eq!(status, 1);
    assert_eq!(
        lines(&after),
        [s("cus_Here", "in_Unknown", "unknown_to_processor")]
    );
    assert_eq!(after["applied"], json!({"invoices": 0, "customers": 0}));
    let timeline = cli.ok(&["account", "timeline", "cus_Here"]);
    assert!(
        timeline.contains("payment_succeeded in_PaidThere (applied, via reconciliation)"),
        "{timeline}"
    );
    let stranger = cli.ok(&["account", "show", "cus_Stranger", "--date", "2026-01-20"]);
    assert!(stranger.contains("in_Stranger"), "{stranger}");

    // In sync: exit 0.
    let (status, clean) = reconcile(&cli, &key, &["--account", "cus_Stranger"]);
    assert_eq!((status, lines(&clean).len()), (0, 0), "{clean}");
}

/// A Stripe account pastdue is adopted into: `n` customers, each with one
/// invoice up to a year old; every tenth uncollectible, every third
/// partly paid.
fn adopted(f: &Family, key: &str, n: usize) {
    let now = chrono::Utc::now().timestamp();
    let mut invoices = Vec::new();
    let mut payments = Vec::new();
    for i in 0..n {
        let id = format!("in_Onb{i:04}");
        let finalized = now - (i as i64 % 365) * 86_400 - 3_600;
        let amount = 10_000 + i as i64;
        let paid = if i % 3 == 0 { 2_500 } else { 0 };
        invoices.push(invoice(
            f,
            &id,
            &format!("cus_Onb{i:04}"),
            &[
                (
                    "status",
                    (if i % 10 == 0 { "uncollectible" } else { "open" }).into(),
                ),
                ("amount_due", amount.into()),
                ("amount_paid", paid.into()),
                ("amount_remaining", (amount - paid).into()),
                ("due_date", (finalized + 14 * 86_400).into()),
                ("status_transitions.finalized_at", finalized.into()),
                ("created", finalized.into()),
            ],
        ));
        if paid > 0 {
            payments.push(payment(f, &id, paid));
        }
    }
    support::stripe_api_set(key, "invoices", &Value::from(invoices));
    support::stripe_api_set(key, "invoice_payments", &Value::from(payments));
}

#[tokio::test]
async fn onboarding_a_thousand_customers_resumes_after_an_interruption_and_a_rerun_is_a_no_op() {
    let cli = Cli::new("cli-onboard").await;
    let key = format!("rk_test_onboard{}", fastrand::u32(..));
    let f = Family::load("endive", "dahlia");
    adopted(&f, &key, 1_000);

    // Stripe fails half-way, through every retry: the run stops there.
    support::stripe_api_set(
        &key,
        "faults",
        &json!({"status": 500, "count": 4, "path": "/v1/invoices/in_Onb0500"}),
    );
    let cut = cli.run_with(
        &["reconcile", "--apply", "--all", "--json"],
        &[("STRIPE_API_KEY", key.as_str())],
    );
    assert_eq!(cut.status.code(), Some(1));
    let said = String::from_utf8_lossy(&cut.stderr);
    assert!(
        said.contains("taking invoice 501 of 1000"),
        "progress: {said}"
    );
    assert!(
        said.contains("in_Onb0500") && !said.contains("taking invoice 601"),
        "stopped at the invoice Stripe failed on: {said}"
    );

    // Run again: only what was not applied is still different.
    let (status, resumed) = reconcile(&cli, &key, &["--apply", "--all"]);
    assert_eq!(status, 1, "it found (and fixed) drift");
    assert_eq!(
        resumed["applied"],
        json!({"invoices": 500, "customers": 500}),
        "the first 500 were in already"
    );
    // And again: nothing differs, nothing is applied.
    let (status, again) = reconcile(&cli, &key, &["--apply", "--all"]);
    assert_eq!((status, lines(&again).len()), (0, 0), "{again}");
    assert_eq!(again["applied"], Value::Null);

    // Each came in with what was paid on it, in its own state.
    let paid = cli.json(&["account", "show", "cus_Onb0003", "--json"]);
    assert_eq!(paid["invoices"][0]["paid"], "25.00", "{paid}");
    let written_off = cli.json(&["account", "show", "cus_Onb0010", "--json"]);
    assert_eq!(
        written_off["invoices"][0]["status"], "written_off",
        "{written_off}"
    );
}
