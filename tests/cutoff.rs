//! The check before cutting off, on the local stack: the daily run asks
//! the loopback Stripe API (`dev/stripe_api.py`) about each overdue
//! invoice before `suspend` fires. A payment recorded only in Stripe stops
//! the suspension on the day it would have come; a Stripe that answers
//! errors defers it, and staff hear of it a day later; reminders and
//! warnings never wait for Stripe.

#[allow(dead_code)] // this target uses part of it
mod dunning_harness;
#[allow(dead_code)]
mod stripe_shapes;
mod support;

use std::time::Duration;

use chrono::NaiveDate;
use dunning_harness::*;
use pastdue_shared::adapters::dynamodb::DynamoStore;
use pastdue_shared::adapters::stripe_api::{ApiKey, Retries, StripeApi, StripeInvoices};
use pastdue_shared::domain::{AccountId, Policy};
use pastdue_shared::processors::stripe::mapping::read_delivery;
use pastdue_shared::services::cutoff::CutOffCheck;
use pastdue_shared::services::daily_run::CheckedRuns;
use serde_json::{Value, json};
use stripe_shapes::Family;

type Check = CutOffCheck<
    StripeInvoices,
    DynamoStore,
    pastdue_shared::services::Accounts<DynamoStore>,
    pastdue_shared::adapters::bus::InlineBus<support::InlineApplier>,
>;
type Runs = CheckedRuns<DynamoStore, Option<Check>>;

/// The GETs of invoices the key's Stripe answered, as `(path, query)`.
fn invoice_requests(key: &str) -> Vec<(String, Value)> {
    support::stripe_api_requests(key)
        .iter()
        .filter(|r| r["path"].as_str().unwrap().starts_with("/v1/invoices"))
        .map(|r| (r["path"].as_str().unwrap().to_owned(), r["query"].clone()))
        .collect()
}

/// Runs whose cut-offs are checked with the Stripe of `key`, one attempt
/// per call so a failing Stripe fails fast.
async fn checked(label: &str, key: &str) -> Deps<Runs> {
    let api = StripeApi::new(
        &support::local_endpoint("STRIPE_API_BASE"),
        ApiKey::parse(key).unwrap(),
        Retries {
            attempts: 1,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(10),
            timeout: Duration::from_secs(5),
        },
    )
    .unwrap();
    deps_with(label, Policy::default(), |store| CheckedRuns {
        accounts: support::accounts(store),
        check: Some(CutOffCheck::new(
            StripeInvoices { api },
            store.clone(),
            support::accounts(store),
            support::inline_bus(store),
            read_delivery,
        )),
    })
    .await
}

/// `in_1` as Stripe has it: 300.00 USD due 2026-01-15 (as the account's
/// invoice in pastdue), with `set` on top.
fn stripe_invoice(customer: &str, set: &[(&str, Value)]) -> Value {
    let due = NaiveDate::from_ymd_opt(2026, 1, 15)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp();
    let mut fields: Vec<(&str, Value)> = vec![
        ("id", "in_1".into()),
        ("customer", customer.into()),
        ("currency", "usd".into()),
        ("amount_due", 30_000.into()),
        ("amount_paid", 0.into()),
        ("amount_remaining", 30_000.into()),
        ("status", "open".into()),
        ("due_date", due.into()),
        (
            "status_transitions.finalized_at",
            (due - 14 * 86_400).into(),
        ),
    ];
    fields.extend(set.iter().cloned());
    Family::load("endive", "dahlia").object("invoice", &fields)
}

fn names(actions: &[pastdue_shared::domain::ActionMessage]) -> Vec<(String, String)> {
    actions
        .iter()
        .map(|m| (m.date.to_string(), m.action.clone()))
        .collect()
}

async fn status(d: &Deps<Runs>, account: &str) -> (String, Vec<String>) {
    let loaded = d
        .store
        .load(&AccountId::parse(account).unwrap())
        .await
        .unwrap()
        .unwrap();
    let owed = loaded
        .state
        .invoices()
        .iter()
        .map(|i| format!("{} {}", i.id, i.outstanding))
        .collect();
    (loaded.state.status.as_str().to_owned(), owed)
}

#[tokio::test]
async fn a_payment_recorded_only_in_stripe_stops_the_suspension_on_the_day_it_would_fire() {
    let tag = fastrand::u32(..);
    let key = format!("rk_test_cutoff_paid{tag}");
    let customer = format!("cus_Paid{tag}");
    let d = checked("cutoff-paid", &key).await;
    one_account(
        &d,
        &customer,
        json!([{"name": "Dana", "email": format!("dana+{tag}@whitfield.example"), "roles": ["billing", "primary"]}]),
    )
    .await;
    support::stripe_api_set(&key, "invoices", &json!([stripe_invoice(&customer, &[])]));

    // Reminders and the final notice go out without asking Stripe.
    let warned = days(&d, "2026-01-16", "2026-02-04").await;
    assert_eq!(
        names(&warned),
        [
            ("2026-01-16".into(), "reminder_1".into()),
            ("2026-01-22".into(), "reminder_2".into()),
            ("2026-01-29".into(), "final_notice".into()),
        ]
    );
    assert!(invoice_requests(&key).is_empty(), "no cut-off, no GET");

    // The customer paid in Stripe's dashboard; the webhooks never came.
    let f = Family::load("endive", "dahlia");
    let payment = f.paid_invoice_payment(
        &format!("inpay_{tag}"),
        "in_1",
        30_000,
        &format!("pi_Paid{tag}"),
    );
    support::stripe_api_set(&key, "invoice_payments", &json!([payment]));
    support::stripe_api_set(
        &key,
        "invoices",
        &json!([stripe_invoice(
            &customer,
            &[
                ("status", "paid".into()),
                ("amount_paid", 30_000.into()),
                ("amount_remaining", 0.into()),
            ]
        )]),
    );

    // Suspension day: Stripe is asked once, the payment applied, nothing cut.
    let day = days(&d, "2026-02-05", "2026-02-05").await;
    assert!(
        !names(&day).iter().any(|(_, a)| a == "suspend"),
        "paid in Stripe: {:?}",
        names(&day)
    );
    assert_eq!(
        status(&d, &customer).await,
        ("active".to_owned(), vec!["in_1 0.00".to_owned()])
    );
    let asked = invoice_requests(&key);
    // One GET of the one overdue invoice; deciding again found nothing to
    // cut off, so nothing more was asked.
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked.iter().all(
        |(path, query)| path == "/v1/invoices/in_1" && query["expand[]"] == json!(["payments"])
    ));
    // The timeline says where the payment came from.
    let timeline = d
        .store
        .timeline(&AccountId::parse(&customer).unwrap())
        .await
        .unwrap();
    assert!(
        timeline.iter().any(|e| e.summary
            == "payment_succeeded in_1 (applied, via check_before_cut_off)"
            && e.detail["event"]["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("stripe:checked_in_1_"))),
        "{timeline:#?}"
    );
    // Later runs find nothing to cut off and ask nothing.
    let after = days(&d, "2026-02-06", "2026-03-20").await;
    assert!(names(&after).is_empty(), "{:?}", names(&after));
    assert_eq!(invoice_requests(&key).len(), 1);
}

#[tokio::test]
async fn stripe_answering_errors_defers_the_cut_off_and_staff_hear_of_it_a_day_later() {
    let tag = fastrand::u32(..);
    let key = format!("rk_test_cutoff_down{tag}");
    let customer = format!("cus_Down{tag}");
    let d = checked("cutoff-down", &key).await;
    one_account(
        &d,
        &customer,
        json!([{"name": "Kevin", "email": format!("kevin+{tag}@whitfield.example"), "roles": ["billing"]}]),
    )
    .await;
    support::stripe_api_set(&key, "invoices", &json!([stripe_invoice(&customer, &[])]));
    days(&d, "2026-01-16", "2026-02-04").await;

    // Stripe answers 500 to the next three reads of the invoice.
    support::stripe_api_set(
        &key,
        "faults",
        &json!({"status": 500, "count": 3, "path": "/v1/invoices"}),
    );
    let first = days(&d, "2026-02-05", "2026-02-05").await;
    assert!(names(&first).is_empty(), "deferred: {:?}", names(&first));
    assert_eq!(status(&d, &customer).await.0, "active");
    let second = days(&d, "2026-02-06", "2026-02-06").await;
    assert_eq!(
        names(&second),
        [("2026-02-06".into(), "cut_off_unverified".into())],
        "a day of deferral: staff are told"
    );
    assert!(second[0].recipients.is_empty(), "staff only");
    assert!(
        second[0].reason.contains("since the run of 2026-02-05"),
        "{}",
        second[0].reason
    );
    let staff = std::env::var("STAFF_EMAIL").unwrap();
    let endpoint = support::local_endpoint("AWS_ENDPOINT_URL_SESV2");
    assert!(
        support::ses_messages_to(&endpoint, &staff)
            .iter()
            .any(|m| m.to_string().contains(&customer)),
        "the alert reached staff"
    );
    assert_eq!(status(&d, &customer).await.0, "active");

    // Still failing on Monday: the weekend did not end the stretch, so
    // staff hear again, counted from Thursday.
    let monday = days(&d, "2026-02-07", "2026-02-09").await;
    assert_eq!(
        names(&monday),
        [("2026-02-09".into(), "cut_off_unverified".into())]
    );
    assert!(
        monday[0].reason.contains("since the run of 2026-02-05"),
        "{}",
        monday[0].reason
    );
    // Stripe answers again, and agrees: Tuesday's run suspends.
    let later = days(&d, "2026-02-10", "2026-02-10").await;
    assert_eq!(names(&later), [("2026-02-10".into(), "suspend".into())]);
    assert_eq!(status(&d, &customer).await.0, "suspended");
}
