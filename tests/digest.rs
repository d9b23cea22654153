//! The staff's morning digest on the local stack: a planted day (a call to
//! make, a promise due today, one broken yesterday, a suspension at the
//! next run, a contact mail cannot reach), gathered through the due index
//! and sent by the real notifier into the SES emulator, read back from
//! there; sent once however often the hour's run goes; only at the staff's
//! run_hour on a business day.

#[allow(dead_code)] // this target uses part of it
mod dunning_harness;
mod support;

use chrono::{DateTime, Utc};
use dunning_harness::*;
use pastdue_shared::domain::{Event, Policy};
use pastdue_shared::services::digest::{self, Morning};
use serde_json::json;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The staff emails whose body names `marker`, as (subject, body).
fn staff_mail(marker: &str) -> Vec<(String, String)> {
    let ses = support::local_endpoint("AWS_ENDPOINT_URL_SESV2");
    let staff = std::env::var("STAFF_EMAIL").unwrap();
    support::ses_messages_to(&ses, &staff)
        .iter()
        .map(|m| {
            (
                m["subject"].as_str().unwrap_or_default().to_owned(),
                m["body"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .filter(|(_, body)| body.contains(marker))
        .collect()
}

async fn apply(d: &Deps, event: serde_json::Value) {
    support::apply_and_announce(&d.store, &d.bus, &Event::from_json(&event).unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_digest_of_a_planted_day_is_sent_once_with_each_section() {
    let d = deps("digest-day", Policy::default()).await;
    // This run's own ids: the emulator keeps every run's mail.
    let run = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let id = |name: &str| format!("dg{run}_{name}");
    let email = |who: &str, name: &str| format!("{who}@dg{run}-{name}.example");
    let invoice = |account: &str, due: &str| {
        json!({"id": format!("{account}-inv"), "at": "2025-12-20T10:00:00Z", "account": account,
            "type": "invoice_issued", "invoice": "in_1", "amount": "300.00", "currency": "USD", "due": due})
    };
    let customer = |account: &str, name: &str| {
        json!({"id": account, "name": name, "timezone": "UTC", "contacts": [
            {"name": format!("{name} Billing"), "email": email("billing", name), "roles": ["billing"], "phone": "+15550100199"},
            {"name": format!("{name} Boss"), "email": email("boss", name), "roles": ["escalation"]}]})
    };
    for (name, due) in [
        ("call", "2026-01-15"),
        ("cut", "2026-01-02"),
        ("today", "2026-01-15"),
        ("broken", "2026-01-15"),
        ("bounced", "2026-01-19"),
        ("disputed", "2026-01-19"),
        ("paid", "2026-01-15"),
        ("back", "2025-12-20"),
    ] {
        onboard(&d, customer(&id(name), name), invoice(&id(name), due)).await;
    }
    // Promises, made on the 19th: to pay today (the 22nd), and yesterday.
    days(&d, "2026-01-03", "2026-01-19").await;
    d.bus.at(at("2026-01-19T15:00:00Z"));
    for (name, until) in [("today", "2026-01-22"), ("broken", "2026-01-21")] {
        apply(
            &d,
            json!({"id": format!("{}-promise", id(name)), "at": "2026-01-19T15:00:00Z",
            "account": id(name), "type": "hold_placed", "until": until,
            "reason": "promised via the customer page", "promised_by": email("billing", name)}),
        )
        .await;
    }
    apply(&d, json!({"id": format!("{}-bounce", id("bounced")), "at": "2026-01-20T08:00:00Z",
        "account": id("bounced"), "type": "contact_undeliverable", "email": email("billing", "bounced"),
        "reason": "bounced: mailbox does not exist"}))
    .await;
    // A dispute on a paid invoice, with Stripe's evidence deadline.
    apply(&d, json!({"id": format!("{}-pay", id("disputed")), "at": "2026-01-10T12:00:00Z", "account": id("disputed"),
        "type": "payment_succeeded", "invoice": "in_1", "amount": "300.00", "currency": "USD"})).await;
    apply(&d, json!({"id": format!("{}-dispute", id("disputed")), "at": "2026-01-20T12:00:00Z", "account": id("disputed"),
        "type": "dispute_opened", "invoice": "in_1", "dispute": format!("dp_{run}"), "amount": "300.00", "currency": "USD",
        "evidence_due": "2026-01-30"})).await;
    days(&d, "2026-01-20", "2026-01-21").await;
    // Yesterday (the 21st): one pays, one suspended since the 12th pays too.
    d.bus.at(at("2026-01-21T12:00:00Z"));
    for name in ["paid", "back"] {
        apply(&d, json!({"id": format!("{}-pay", id(name)), "at": "2026-01-21T12:00:00Z", "account": id(name),
            "type": "payment_succeeded", "invoice": "in_1", "amount": "300.00", "currency": "USD"})).await;
    }
    days(&d, "2026-01-22", "2026-01-22").await;

    let morning = Morning::new(chrono_tz::Tz::UTC, &Policy::default());
    let now = at("2026-01-22T09:00:00Z");
    d.bus.at(now);
    // The hour's run, twice at once (overlapping), then again (retried):
    // one email.
    let policy = Policy::default();
    let send = || digest::send_if_due(&d.due, &d.store, &d.bus, &policy, &morning, now);
    let (a, b) = tokio::join!(send(), send());
    // The one that finds the other's claim in flight asks to be retried.
    assert!(a.is_ok() || b.is_ok(), "{a:?} {b:?}");
    for lost in [&a, &b].into_iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(lost, digest::DigestError::Bus(_)), "{lost}");
    }
    let again = send().await.unwrap();
    assert_eq!(again, Some("2026-01-22".parse().unwrap()));
    let mail = staff_mail(&id("call"));
    assert_eq!(mail.len(), 1, "sent once: {mail:?}");
    let (subject, body) = &mail[0];
    assert!(
        subject.starts_with("Collections, 22 January 2026"),
        "{subject}"
    );
    let text = body.replace("&#x2f;", "/");
    for (section, account, says) in [
        (
            "Calls to make",
            "call",
            "call call Billing at +15550100199 (reminder_2)",
        ),
        (
            "Promises to pay due today",
            "today",
            "promised to pay today",
        ),
        (
            "Promises broken since the last digest",
            "broken",
            "promised to pay by 2026-01-21: not paid",
        ),
        (
            "Cut-offs at the next run",
            "cut",
            "suspend on 2026-01-23 unless paid or held",
        ),
        (
            "Contacts mail cannot reach",
            "bounced",
            "fails (bounced: mailbox does not exist): call +15550100199",
        ),
    ] {
        assert!(text.contains(section), "{section} in {text}");
        assert!(text.contains(&id(account)), "{account} in {text}");
        assert!(text.contains(says), "{says:?} in {text}");
    }
    assert!(
        text.contains(&format!(
            "pastdue hold place {} --until 2026-01-30",
            id("cut")
        )),
        "the one command that holds it: {text}"
    );

    // Not at another hour, nor on a Saturday.
    for other in ["2026-01-22T10:00:00Z", "2026-01-24T09:00:00Z"] {
        let sent = digest::send_if_due(
            &d.due,
            &d.store,
            &d.bus,
            &Policy::default(),
            &morning,
            at(other),
        )
        .await
        .unwrap();
        assert_eq!(sent, None, "{other}");
    }
}

#[tokio::test]
async fn a_day_with_nothing_to_do_says_so_in_one_line() {
    let d = deps("digest-empty", Policy::default()).await;
    let digest = digest::gather(
        &d.due,
        &d.store,
        &Policy::default(),
        "2026-01-22".parse().unwrap(),
        at("2026-01-22T09:00:00Z"),
    )
    .await
    .unwrap();
    assert!(digest.is_empty());
    let message =
        pastdue_shared::domain::ActionMessage::staff_digest(digest, at("2026-01-22T09:00:00Z"))
            .unwrap();
    let templates = pastdue_shared::notify::render::Templates::new(
        pastdue_shared::runtime::MailSettings::from_env()
            .unwrap()
            .links,
        &Policy::default(),
    )
    .unwrap();
    let email = templates
        .render(
            "staff_digest",
            &message,
            pastdue_shared::notify::render::Audience::Staff,
            &pastdue_shared::notify::render::Failure::default(),
        )
        .unwrap();
    assert!(
        email.subject.ends_with("nothing needs a person today"),
        "{}",
        email.subject
    );
    assert!(
        email.text.contains("Nothing needs a person today."),
        "{}",
        email.text
    );
}
