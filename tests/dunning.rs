//! The hourly `dunning` run against DynamoDB Local: it fires what `pastdue
//! simulate` fires for the same events, never twice, and an interrupted run
//! resumes where it stopped.

mod dunning_harness;
mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use dunning_harness::*;
use pastdue_shared::domain::engine::run_instant;
use pastdue_shared::domain::simulate::{Scenario, simulate};
use pastdue_shared::domain::{Account, ActionMessage, Event, Policy};
use pastdue_shared::handlers::dunning::RunReport;
use pastdue_shared::handlers::notifier;
use serde_json::{Value, json};
use support::apply_and_announce;

const ZONES: [&str; 5] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
];

/// Twenty accounts in five time zones, each with its own story: never pays,
/// pays late, pays part, promises to pay (a hold) and pays, fails a payment
/// and pays after suspension (reinstated).
fn scenario(tag: &str) -> Scenario {
    let mut accounts = Vec::new();
    let mut events = Vec::new();
    for i in 0..20u32 {
        let id = format!("acct_{i:02}");
        let tz = ZONES[i as usize % ZONES.len()];
        accounts.push(json!({
            "id": id, "name": format!("Customer {i}"), "timezone": tz, "exempt": i == 7,
            "contacts": [
                {"name": format!("Billing Person {i}"), "email": format!("billing{i}+{tag}@example.com"), "roles": ["billing"]},
                {"name": format!("Owner {i}"), "email": format!("owner{i}+{tag}@example.com"), "roles": ["primary"]},
                {"name": format!("Escalation {i}"), "email": format!("esc{i}+{tag}@example.com"), "roles": ["escalation"]},
            ]
        }));
        let due = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() + Duration::days(i64::from(i % 10));
        let amount = format!("{}.00", 100 + i * 45);
        let mut ev = |n: u32, at: String, body: Value| {
            let mut e = json!({"id": format!("{id}-e{n}"), "at": at, "account": id});
            for (k, v) in body.as_object().unwrap() {
                e[k] = v.clone();
            }
            events.push(e);
        };
        ev(
            0,
            "2026-01-01T12:00:00Z".into(),
            json!({"type": "invoice_issued", "invoice": "in_1", "amount": amount, "currency": "USD", "due": due.to_string()}),
        );
        let on = |days: i64, hour: u32| format!("{}T{hour:02}:30:00Z", due + Duration::days(days));
        match i % 5 {
            0 => {}
            1 => ev(
                1,
                on(10, 15),
                json!({"type": "payment_succeeded", "invoice": "in_1", "amount": amount, "currency": "USD", "payment": format!("pi_{i}")}),
            ),
            2 => ev(
                1,
                on(9, 3),
                json!({"type": "payment_succeeded", "invoice": "in_1", "amount": "50.00", "currency": "USD", "payment": format!("pi_{i}")}),
            ),
            3 => {
                ev(
                    1,
                    on(12, 10),
                    json!({"type": "hold_placed", "until": (due + Duration::days(20)).to_string(), "reason": "phoned: pays Friday"}),
                );
                ev(
                    2,
                    on(19, 16),
                    json!({"type": "payment_succeeded", "invoice": "in_1", "amount": amount, "currency": "USD", "payment": format!("pi_{i}")}),
                );
            }
            _ => {
                ev(
                    1,
                    on(2, 8),
                    json!({"type": "payment_failed", "invoice": "in_1", "amount": amount, "currency": "USD", "reason": "card_declined"}),
                );
                ev(
                    2,
                    on(30, 20),
                    json!({"type": "payment_succeeded", "invoice": "in_1", "amount": amount, "currency": "USD", "payment": format!("pi_{i}")}),
                );
            }
        }
    }
    let text =
        json!({"from": "2026-01-01", "to": "2026-03-01", "accounts": accounts, "events": events});
    Scenario::from_json_str(&text.to_string()).unwrap()
}

/// The instants at which some account's run hour comes: an hourly
/// schedule would invoke at these (and at others, which find nothing due).
fn ticks(s: &Scenario, run_hour: u32) -> Vec<DateTime<Utc>> {
    let zones: BTreeSet<&str> = s.accounts.iter().map(|a| a.timezone.name()).collect();
    let mut ticks = BTreeSet::new();
    let mut d = s.from;
    while d <= s.to {
        for tz in &zones {
            let tz: Tz = tz.parse().unwrap();
            ticks.insert(run_instant(d, run_hour, tz));
        }
        d += Duration::days(1);
    }
    ticks.into_iter().collect()
}

/// An action as `pastdue simulate` prints it.
fn printed(m: &ActionMessage) -> Value {
    let mut to: Vec<&str> = m.recipients.iter().map(|r| r.email.as_str()).collect();
    to.sort_unstable();
    let mut v = json!({
        "date": m.date.to_string(), "account": m.account, "action": m.action, "dpd": m.dpd,
        "invoices": m.invoices, "to": to,
    });
    if let Some(d) = m.suspend_on {
        v["suspend_on"] = json!(d.to_string());
    }
    v
}

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|a| {
        (
            a["date"].as_str().unwrap_or_default().to_owned(),
            a["account"].as_str().unwrap_or_default().to_owned(),
            a["action"].as_str().unwrap_or_default().to_owned(),
        )
    });
    v
}

async fn onboard(d: &Deps, s: &Scenario) {
    for account in &s.accounts {
        support::accounts(&d.store)
            .upsert_account(account)
            .await
            .unwrap();
    }
}

/// Applies, through the handler path, every event before `until`.
async fn apply_before(
    d: &Deps,
    events: &mut std::iter::Peekable<std::vec::IntoIter<Event>>,
    until: DateTime<Utc>,
) {
    while let Some(e) = events.next_if(|e| e.at < until) {
        d.bus.at(e.at);
        apply_and_announce(&d.store, &d.bus, &e).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_days_of_hourly_runs_fire_what_simulate_fires_once_each() {
    let policy = Policy::default();
    let d = deps("dunning-60", policy.clone()).await;
    let tag = format!("t{}", fastrand::u32(..));
    let s = scenario(&tag);
    let expected: Vec<Value> = simulate(&s, &policy)
        .actions
        .iter()
        .map(|a| a.to_json())
        .collect();
    onboard(&d, &s).await;
    let mut events = s.events.clone();
    events.sort_by_key(|e| e.at);
    let mut events = events.into_iter().peekable();
    let mut reports: Vec<RunReport> = Vec::new();
    for tick in ticks(&s, policy.run_hour) {
        apply_before(&d, &mut events, tick).await;
        reports.push(run_at(&d, tick, &NoDeadline).await);
    }
    apply_before(&d, &mut events, DateTime::<Utc>::MAX_UTC).await;
    let sent = d.bus.take();
    let got = sorted(sent.iter().map(printed).collect());
    let kinds: BTreeSet<&str> = got.iter().filter_map(|a| a["action"].as_str()).collect();
    for kind in [
        "reminder_1",
        "reminder_2",
        "final_notice",
        "suspend",
        "reinstate",
        "cancel",
        "payment_failed_notice",
    ] {
        assert!(
            kinds.contains(kind),
            "the stories exercise {kind}: {kinds:?}"
        );
    }
    assert_eq!(got, sorted(expected), "the run's actions are simulate's");
    // Every notice reached the SES emulator once per recipient, greeting
    // that person by their own name.
    let endpoint = support::local_endpoint("AWS_ENDPOINT_URL_SESV2");
    let mut expected_mail: std::collections::BTreeMap<String, usize> = Default::default();
    for m in &sent {
        for r in &m.recipients {
            *expected_mail.entry(r.email.to_string()).or_default() += 1;
        }
    }
    let names: Vec<(String, String)> = s
        .accounts
        .iter()
        .flat_map(|a| {
            a.contacts
                .iter()
                .map(|c| (c.email.to_string(), c.name.clone()))
        })
        .collect();
    let mut mail_count = 0;
    for (email, name) in &names {
        let mails = support::ses_messages_to(&endpoint, email);
        assert_eq!(
            mails.len(),
            expected_mail.get(email).copied().unwrap_or(0),
            "{email}"
        );
        for mail in &mails {
            let body = mail["body"].as_str().unwrap();
            assert!(body.contains(&format!("Dear {name},")), "{email}: {body}");
            assert_eq!(
                body.matches("Dear ").count(),
                1,
                "one greeting, its reader's"
            );
        }
        mail_count += mails.len();
    }
    assert!(mail_count > 100, "{mail_count} emails");
    for m in sent.iter().filter(|m| m.action == "final_notice") {
        let when = pastdue_shared::notify::render::long_date(m.suspend_on.unwrap());
        for r in &m.recipients {
            let mails = support::ses_messages_to(&endpoint, r.email.as_str());
            assert!(
                mails
                    .iter()
                    .any(|x| x["body"].as_str().unwrap().contains(&when)),
                "{}: the final notice names the suspension date {when}",
                r.email
            );
        }
    }
    assert!(reports.iter().all(|r| r.complete && r.failed == 0));
    // An account is read only when its run hour comes: one evaluation per
    // overdue account and local date, never one per hourly tick.
    let evaluated: usize = reports.iter().map(|r| r.evaluated).sum();
    let due: usize = reports.iter().map(|r| r.due).sum();
    assert_eq!(evaluated, due, "nothing already run was read again");
}

async fn overdue_accounts(d: &Deps, n: u32) {
    for i in 0..n {
        let id = format!("late_{i:02}");
        let account = Account::from_json(&json!({"id": id, "name": format!("Late {i}"), "timezone": "UTC",
            "contacts": [{"name": format!("Pat {i}"), "email": format!("pat{i}@example.com"), "roles": ["billing"]}]}))
        .unwrap();
        support::accounts(&d.store)
            .upsert_account(&account)
            .await
            .unwrap();
        let invoice = Event::from_json(&json!({"id": format!("{id}-inv"), "at": "2026-01-01T10:00:00Z", "account": id,
            "type": "invoice_issued", "invoice": "in_1", "amount": "80.00", "currency": "EUR", "due": "2026-01-15"}))
        .unwrap();
        support::accounts(&d.store).apply(&invoice).await.unwrap();
    }
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn the_same_instant_twice_sends_nothing_new() {
    let d = deps("dunning-twice", Policy::default()).await;
    overdue_accounts(&d, 12).await;
    let first = run_at(&d, t("2026-01-16T09:00:00Z"), &NoDeadline).await;
    assert_eq!((first.evaluated, first.published), (12, 12), "{first:?}");
    assert_eq!(d.bus.take().len(), 12);
    let again = run_at(&d, t("2026-01-16T09:00:00Z"), &NoDeadline).await;
    assert_eq!(
        (again.due, again.evaluated, again.published),
        (0, 0, 0),
        "{again:?}"
    );
    // Later the same day: the date was run.
    let later = run_at(&d, t("2026-01-16T17:00:00Z"), &NoDeadline).await;
    assert_eq!((later.evaluated, later.published), (0, 0), "{later:?}");
    assert!(d.bus.take().is_empty());
}

#[tokio::test]
async fn a_run_stopped_by_the_deadline_resumes_without_doing_anything_twice() {
    let d = deps("dunning-deadline", Policy::default()).await;
    overdue_accounts(&d, 20).await;
    let now = t("2026-01-16T09:00:00Z");
    let cut = run_at(&d, now, &AfterAccounts(AtomicUsize::new(7))).await;
    assert!(!cut.complete, "{cut:?}");
    assert_eq!((cut.evaluated, cut.deferred), (7, 13), "{cut:?}");
    // The next invocation (an hour later) covers what was left.
    let next = run_at(&d, now + Duration::hours(1), &NoDeadline).await;
    assert!(next.complete, "{next:?}");
    assert_eq!(next.evaluated, 13, "{next:?}");
    let sent = d.bus.take();
    let accounts: BTreeSet<&str> = sent.iter().map(|m| m.account.as_str()).collect();
    assert_eq!((sent.len(), accounts.len()), (20, 20), "one reminder each");
    assert!(sent.iter().all(|m| m.action == "reminder_1"));
    // Every shard is checkpointed now: the same hour again reads nothing.
    let quiet = run_at(&d, now + Duration::hours(1), &NoDeadline).await;
    assert_eq!((quiet.due, quiet.evaluated), (0, 0), "{quiet:?}");
}

#[tokio::test]
async fn no_suspension_without_a_final_notice_that_reached_the_customer() {
    let d = deps("dunning-safety", Policy::default()).await;
    let tag = format!("t{}", fastrand::u32(..));
    let bad = format!("dana+{tag}@unreachable.example");
    d.bus
        .notifier
        .mail
        .refuse
        .lock()
        .unwrap()
        .insert(bad.clone());
    one_account(
        &d,
        "acct_s",
        json!([{"name": "Dana", "email": bad, "roles": ["billing", "primary"]}]),
    )
    .await;
    let actions = days(&d, "2026-01-16", "2026-02-13").await;
    let names: Vec<(String, &str)> = actions
        .iter()
        .map(|m| (m.date.to_string(), m.action.as_str()))
        .collect();
    assert!(
        !names.iter().any(|(_, a)| *a == "suspend"),
        "the only address refused every notice: {names:?}"
    );
    let finals: Vec<&str> = names
        .iter()
        .filter(|(_, a)| *a == "final_notice")
        .map(|(d, _)| d.as_str())
        .collect();
    assert_eq!(
        finals,
        ["2026-01-29", "2026-02-05", "2026-02-12"],
        "warned again each time suspension would have come"
    );
    let view = d
        .store
        .load(&pastdue_shared::domain::AccountId::parse("acct_s").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.state.status.as_str(), "active");
    assert!(view.state.account.contacts[0].undeliverable.is_some());

    // The operator adds a working contact: the next warning reaches them,
    // and suspension comes a full week after it.
    let good = format!("kevin+{tag}@whitfield.example");
    let mut account = view.state.account.clone();
    account.contacts.push(
        pastdue_shared::domain::Contact::new(
            "Kevin",
            pastdue_shared::domain::EmailAddress::parse(&good).unwrap(),
            [pastdue_shared::domain::Role::Primary].into(),
        )
        .unwrap(),
    );
    support::accounts(&d.store)
        .upsert_account(&account)
        .await
        .unwrap();
    let later = days(&d, "2026-02-14", "2026-02-27").await;
    let dated: Vec<(String, &str)> = later
        .iter()
        .map(|m| (m.date.to_string(), m.action.as_str()))
        .collect();
    assert_eq!(
        dated,
        [
            ("2026-02-19".to_owned(), "final_notice"),
            ("2026-02-26".to_owned(), "suspend")
        ]
    );
    let endpoint = support::local_endpoint("AWS_ENDPOINT_URL_SESV2");
    assert!(support::ses_messages_to(&endpoint, &bad).is_empty());
    assert_eq!(support::ses_messages_to(&endpoint, &good).len(), 2);
}

#[tokio::test]
async fn an_ses_outage_midway_loses_no_notice_and_duplicates_none() {
    let d = deps("dunning-outage", Policy::default()).await;
    let tag = format!("t{}", fastrand::u32(..));
    let mut addresses = Vec::new();
    for i in 0..6 {
        let email = format!("pat{i}+{tag}@example.com");
        one_account(
            &d,
            &format!("acct_o{i}"),
            json!([{"name": format!("Pat {i}"), "email": email, "roles": ["billing"]}]),
        )
        .await;
        addresses.push(email);
    }
    // SES throttles long enough that the notifier gives up on some (each
    // email is tried 4 times: 20 failures cannot all be absorbed by 6).
    d.bus.notifier.mail.fail_next.store(20, Ordering::SeqCst);
    let now = t("2026-01-16T09:00:00Z");
    let first = run_at(&d, now, &NoDeadline).await;
    assert!(first.failed > 0 && !first.complete, "{first:?}");
    // The next hourly invocation publishes what was left pending.
    let second = run_at(&d, now + Duration::hours(1), &NoDeadline).await;
    assert!(second.complete && second.failed == 0, "{second:?}");
    assert_eq!(second.evaluated, 0, "no account is run twice");
    let endpoint = support::local_endpoint("AWS_ENDPOINT_URL_SESV2");
    for (i, a) in addresses.iter().enumerate() {
        let mails = support::ses_messages_to(&endpoint, a);
        assert_eq!(mails.len(), 1, "{a}: exactly one reminder");
        // The SES MessageId is recorded for `pastdue account timeline`.
        let id = pastdue_shared::domain::AccountId::parse(&format!("acct_o{i}")).unwrap();
        let log = d.store.mails(&id).await.unwrap();
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0].state, "sent");
        assert_eq!(log[0].message_id.as_deref(), mails[0]["id"].as_str());
    }
}

#[tokio::test]
async fn a_bounce_reroutes_the_next_notice_and_asks_staff_to_phone() {
    let d = deps("dunning-bounce", Policy::default()).await;
    let tag = format!("t{}", fastrand::u32(..));
    let billing = format!("ap+{tag}@whitfield.example");
    let owner = format!("kevin+{tag}@whitfield.example");
    one_account(
        &d,
        "acct_b",
        json!([
        {"name": "Accounts Payable", "email": billing, "roles": ["billing"]},
        {"name": "Kevin Ortiz", "email": owner, "roles": ["primary"]}]),
    )
    .await;
    let first = days(&d, "2026-01-16", "2026-01-16").await;
    assert_eq!(first[0].recipients[0].email.as_str(), billing);
    // SES reports a permanent bounce for the billing address.
    let bounce = json!({
        "version": "0", "id": "b1", "detail-type": "Email Bounced", "source": "aws.ses",
        "account": "000000000000", "time": "2026-01-16T09:05:00Z", "region": "us-east-1", "resources": [],
        "detail": {"eventType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bounceSubType": "NoEmail",
                       "bouncedRecipients": [{"emailAddress": billing}]},
            "mail": {"messageId": format!("m-{tag}"), "destination": [billing],
                     "tags": {"account": ["acct_b"], "action": ["reminder_1"], "episode": ["2026-01-16"]}}}
    });
    let report = notifier::handle(&d.bus.notifier, &bounce, t("2026-01-16T09:05:00Z"))
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "staff are asked to phone: {report:?}");
    // A redelivered bounce asks only once.
    let again = notifier::handle(&d.bus.notifier, &bounce, t("2026-01-16T09:06:00Z"))
        .await
        .unwrap();
    assert_eq!((again.sent, again.skipped), (0, 1));
    // The next billing notice goes to the remaining contact.
    let failed = Event::from_json(&json!({"id": "acct_b-fail", "at": "2026-01-18T10:00:00Z", "account": "acct_b",
        "type": "payment_failed", "invoice": "in_1", "amount": "300.00", "currency": "USD", "reason": "card_declined"}))
    .unwrap();
    d.bus.at(failed.at);
    apply_and_announce(&d.store, &d.bus, &failed).await.unwrap();
    let notice = d.bus.take();
    assert_eq!(notice.len(), 1);
    assert_eq!(notice[0].recipients.len(), 1);
    assert_eq!(notice[0].recipients[0].email.as_str(), owner);
    let endpoint = support::local_endpoint("AWS_ENDPOINT_URL_SESV2");
    let to_owner = support::ses_messages_to(&endpoint, &owner);
    assert!(
        to_owner[0]["body"]
            .as_str()
            .unwrap()
            .contains("Dear Kevin Ortiz,")
    );
    let staff = std::env::var("STAFF_EMAIL").unwrap();
    assert!(
        support::ses_messages_to(&endpoint, &staff)
            .iter()
            .any(|m| m["subject"].as_str().unwrap().contains(&billing)),
        "staff are told which address bounced"
    );
}

/// Saved cards reach the run through the due index: only an account whose
/// card notice is due is read, the notice goes out once, and the account
/// then leaves the index.
#[tokio::test]
async fn a_card_about_to_expire_is_noticed_once_and_only_its_account_is_read() {
    let d = deps("dunning-cards", Policy::default()).await;
    let tag = format!("c{}", fastrand::u32(..));
    let contacts =
        json!([{"name": "Dana", "email": format!("dana+{tag}@example.com"), "roles": ["billing"]}]);
    for (n, exp_year) in [(1, 2026), (2, 2030)] {
        let id = format!("acct_{tag}_{n}");
        let account = Account::from_json(
            &json!({"id": id, "name": "Card customer", "timezone": "UTC", "contacts": contacts}),
        )
        .unwrap();
        support::accounts(&d.store)
            .upsert_account(&account)
            .await
            .unwrap();
        let saved = Event::from_json(
            &json!({"id": format!("{id}-card"), "at": "2026-01-05T10:00:00Z", "account": id,
            "type": "card_saved", "card": "pm_1", "exp_month": 3, "exp_year": exp_year}),
        )
        .unwrap();
        support::accounts(&d.store).apply(&saved).await.unwrap();
    }
    let at = |day: &str| format!("{day}T09:00:00Z").parse::<DateTime<Utc>>().unwrap();
    let before = run_at(&d, at("2026-02-27"), &NoDeadline).await;
    assert_eq!(
        before.evaluated, 0,
        "not due yet: nobody is read ({before:?})"
    );
    let due = run_at(&d, at("2026-03-01"), &NoDeadline).await;
    assert_eq!(
        due.evaluated, 1,
        "only the card that stops working soon ({due:?})"
    );
    let after = run_at(&d, at("2026-03-02"), &NoDeadline).await;
    assert_eq!(
        after.evaluated, 0,
        "sent: the account left the index ({after:?})"
    );
    let sent = d.bus.take();
    assert_eq!(
        sent.iter()
            .map(|m| (m.action.as_str(), m.account.as_str(), m.date.to_string()))
            .collect::<Vec<_>>(),
        [(
            "card_expiring_notice",
            format!("acct_{tag}_1").as_str(),
            "2026-03-01".to_owned()
        )]
    );
    let mail = support::ses_messages_to(
        &support::local_endpoint("AWS_ENDPOINT_URL_SESV2"),
        &format!("dana+{tag}@example.com"),
    );
    assert_eq!(mail.len(), 1, "{mail:?}");
}
