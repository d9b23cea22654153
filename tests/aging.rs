//! The receivables aging report on DynamoDB Local: invoices applied through
//! the event path land in the due index with what is owed, and in the day
//! listings of issued invoices; the report reads only those (and the status
//! index's names) and gives the hand-computed buckets across currencies and
//! time zones. The chart is opened in headless Chromium.

mod browser;
#[allow(dead_code)] // this target uses part of it
mod dunning_harness;
mod support;

use chrono::{DateTime, Utc};
use dunning_harness::*;
use pastdue_shared::domain::{Event, Policy};
use pastdue_shared::services::aging;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_by_currency_and_time_zone_from_the_indexes() {
    let d = deps("aging", Policy::default()).await;
    // 2026-04-01 03:00 UTC: still 31 March in Chicago, 1 April in Tokyo.
    let now: DateTime<Utc> = "2026-04-01T03:00:00Z".parse().unwrap();
    let customers = [
        ("ag_whitfield", "Whitfield Hosting", "UTC"),
        ("ag_copperline", "Copperline MSP", "America/Chicago"),
        ("ag_kestrel", "Kestrel Games", "Asia/Tokyo"),
    ];
    for (id, name, tz) in customers {
        onboard(
            &d,
            json!({"id": id, "name": name, "timezone": tz, "contacts": []}),
            json!({"id": format!("{id}-0"), "at": "2026-03-20T10:00:00Z", "account": id, "type": "invoice_issued",
                "invoice": "in_0", "amount": "10.00", "currency": "USD", "due": "2026-04-10"}),
        )
        .await;
    }
    // (account, invoice, issued at, amount, currency, due, paid)
    let invoices = [
        (
            "ag_whitfield",
            "in_1",
            "2026-03-25T10:00:00Z",
            "200.00",
            "USD",
            "2026-03-31",
            None,
        ), // 1
        (
            "ag_whitfield",
            "in_2",
            "2025-12-01T10:00:00Z",
            "700.00",
            "USD",
            "2025-12-31",
            None,
        ), // 91
        (
            "ag_whitfield",
            "in_3",
            "2026-01-20T10:00:00Z",
            "500.00",
            "USD",
            "2026-01-31",
            Some("100.00"),
        ), // 60, 400 owed
        (
            "ag_copperline",
            "in_1",
            "2026-02-20T10:00:00Z",
            "300.00",
            "USD",
            "2026-03-01",
            None,
        ), // Chicago: 30
        (
            "ag_copperline",
            "in_2",
            "2026-03-15T10:00:00Z",
            "90.00",
            "USD",
            "2026-03-31",
            Some("90.00"),
        ), // paid: gone
        (
            "ag_kestrel",
            "in_1",
            "2026-03-10T10:00:00Z",
            "5000",
            "JPY",
            "2026-03-31",
            None,
        ), // Tokyo: 1
        (
            "ag_kestrel",
            "in_2",
            "2026-01-01T10:00:00Z",
            "640.00",
            "EUR",
            "2026-01-01",
            None,
        ), // 90
    ];
    for (account, invoice, at, amount, currency, due, paid) in invoices {
        let issued = json!({"id": format!("{account}-{invoice}"), "at": at, "account": account,
            "type": "invoice_issued", "invoice": invoice, "amount": amount, "currency": currency, "due": due});
        support::accounts(&d.store)
            .apply(&Event::from_json(&issued).unwrap())
            .await
            .unwrap();
        if let Some(paid) = paid {
            let payment = json!({"id": format!("{account}-{invoice}-pay"), "at": at, "account": account,
                "type": "payment_succeeded", "invoice": invoice, "amount": paid, "currency": currency});
            support::accounts(&d.store)
                .apply(&Event::from_json(&payment).unwrap())
                .await
                .unwrap();
        }
    }

    let report = aging::report(&d.due, &d.store, &Policy::default(), now)
        .await
        .unwrap();
    let currencies: Vec<&str> = report
        .currencies
        .iter()
        .map(|c| c.currency.as_str())
        .collect();
    assert_eq!(currencies, ["EUR", "JPY", "USD"]);
    let buckets = |c: usize| -> Vec<&str> {
        report.currencies[c]
            .buckets
            .iter()
            .map(|b| b.total.as_str())
            .collect()
    };
    assert_eq!(buckets(0), ["0.00", "0.00", "0.00", "640.00", "0.00"]);
    assert_eq!(buckets(1), ["0", "5000", "0", "0", "0"]);
    // current: three 10.00 not yet due; 1-30: 200 + Chicago's 300;
    // 31-60: 500 - 100 paid; over 90: 700.
    assert_eq!(buckets(2), ["30.00", "500.00", "400.00", "0.00", "700.00"]);
    let usd = &report.currencies[2];
    assert_eq!(usd.total, "1630.00");
    assert_eq!(usd.buckets[1].accounts[0].name, "Copperline MSP");
    assert_eq!(usd.buckets[1].accounts[1].name, "Whitfield Hosting");
    // Issued in the 30 days to 1 April: 3 x 10.00, 200.00 and Copperline's
    // 90.00 (paid since, still sold): 320.00. 1630 / 320 * 30 = 152.8.
    assert_eq!(usd.sales, "320.00");
    assert_eq!(usd.dso.as_deref(), Some("152.8"));
    assert_eq!(report.currencies[1].dso.as_deref(), Some("30.0"), "JPY");
    assert_eq!(report.currencies[0].dso, None, "no EUR sold in 30 days");

    // The chart, as a browser draws it.
    let page = pastdue_shared::notify::aging::page(&report).unwrap();
    let file = support::repo_root().join("target/aging.html");
    std::fs::write(&file, &page).unwrap();
    let browser = browser::Browser::start();
    browser.set_viewport(860, 640);
    browser.goto(&format!("file://{}", file.display()));
    let text = browser.find("main").text();
    for words in [
        "Receivables aging",
        "USD: 1,630.00 USD, DSO 152.8 days",
        "Copperline MSP (ag_copperline) 300.00",
    ] {
        assert!(text.contains(words), "{words:?} in {text}");
    }
    browser.screenshot_png(support::repo_root().join("target/aging.png"));
}
