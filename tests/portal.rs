//! The customer page as a customer uses it, on the local stack: the link
//! comes out of a real reminder in the SES emulator, opens in headless
//! Chromium (Debian's `chromium` through `chromedriver`), a date is picked
//! and promised; the hold is in DynamoDB Local, the confirmation in the
//! emulator, and the runs up to the date fire nothing. Then each way a
//! link or a form can be wrong, over plain HTTP.

mod browser;
#[allow(dead_code)] // this target uses part of it
mod dunning_harness;
mod portal_server;
mod support;

use chrono::{DateTime, NaiveDate, Utc};
use dunning_harness::*;
use pastdue_shared::adapters::bus::InlineBus;
use pastdue_shared::adapters::stripe_api::{ApiKey, Retries, StripeApi};
use pastdue_shared::domain::{AccountId, AccountState, EmailAddress, Event, Policy};
use pastdue_shared::handlers::portal::PortalHttp;
use pastdue_shared::portal::link::{LinkSigner, PortalLink, parse_secrets};
use pastdue_shared::portal::page::Pages;
use pastdue_shared::portal::service::{PageLinks, Portal};
use pastdue_shared::processors::verify::Secret;
use pastdue_shared::services::Applier;
use portal_server::Clock;
use serde_json::json;

const SECRET: &str = "portal-test-secret-of-at-least-32-characters";
const CARD_URL: &str = "https://billing.example.com/card/{account}";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// One overdue customer with its page served on loopback.
struct Customer {
    d: Deps,
    id: String,
    dana: String,
    /// The page's address.
    url: String,
    clock: Clock,
}

impl Customer {
    /// `id`'s 300.00 USD invoice WH-0042 fell due on 2026-01-15. With
    /// `stripe_key`, "Update card" asks that Stripe for a portal session.
    async fn new(label: &str, id: &str, stripe_key: Option<&str>) -> Self {
        let bound = portal_server::bind().await;
        let secrets = parse_secrets(SECRET).unwrap();
        let signer = LinkSigner::new(&bound.url, &secrets).unwrap();
        let d = deps_with_portal(label, Policy::default(), support::accounts, Some(signer)).await;
        // The SES emulator keeps every run's mail: an address of this run's own.
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dana = format!("dana.{label}.{run}@whitfield.example");
        onboard(
            &d,
            json!({"id": id, "name": "Whitfield Hosting", "timezone": "UTC", "contacts": [
                {"name": "Dana Whitfield", "email": dana, "roles": ["billing"]},
                {"name": "Kevin Ortiz", "email": format!("kevin.{label}@whitfield.example"), "roles": ["primary"]}]}),
            json!({"id": format!("{id}-inv"), "at": "2026-01-01T10:00:00Z", "account": id,
                "type": "invoice_issued", "invoice": "in_1", "amount": "300.00", "currency": "USD", "due": "2026-01-15",
                "number": "WH-0042", "pay_url": "https://invoice.stripe.com/i/acct_1/test_WH0042"}),
        )
        .await;
        let cards = stripe_key.map(|key| {
            StripeApi::new(
                &support::local_endpoint("STRIPE_API_BASE"),
                ApiKey::parse(key).unwrap(),
                Retries::default(),
            )
            .unwrap()
        });
        let clock = Clock::new(at("2026-01-16T10:00:00Z"));
        let staff = EmailAddress::parse("billing@pastdue.example").unwrap();
        let page = PortalHttp {
            portal: Portal {
                accounts: d.store.clone(),
                // The event path: applied through the store, its actions
                // emailed by the real notifier into the SES emulator.
                bus: InlineBus::new(Applier {
                    accounts: support::accounts(&d.store),
                    bus: d.bus.clone(),
                }),
                cards,
                secrets,
                policy: Policy::default(),
                links: PageLinks {
                    pay_url: "https://billing.example.com/pay/{account}".into(),
                    card_url: CARD_URL.into(),
                },
            },
            pages: Pages::new(staff, stripe_key.is_some(), CARD_URL).unwrap(),
        };
        let url = bound.url.clone();
        portal_server::serve(bound, page, clock.clone());
        Self {
            d,
            id: id.to_owned(),
            dana,
            url,
            clock,
        }
    }

    /// The page's clock and the notifier's, at `now`.
    fn at(&self, now: &str) {
        self.clock.set(at(now));
        self.d.bus.at(at(now));
    }

    async fn state(&self) -> AccountState {
        let id = AccountId::parse(&self.id).unwrap();
        self.d.store.load(&id).await.unwrap().unwrap().state
    }

    /// The emails Dana received, as (subject, body).
    fn dana_mail(&self) -> Vec<(String, String)> {
        let ses = support::local_endpoint("AWS_ENDPOINT_URL_SESV2");
        support::ses_messages_to(&ses, &self.dana)
            .iter()
            .map(|m| {
                (
                    m["subject"].as_str().unwrap_or_default().to_owned(),
                    m["body"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The page link in the latest email to Dana with `subject` in it.
    fn link_from_mail(&self, subject: &str) -> String {
        let mail = self.dana_mail();
        let (_, body) = mail
            .iter()
            .rev()
            .find(|(s, _)| s.contains(subject))
            .unwrap_or_else(|| panic!("no email {subject:?} to Dana: {mail:?}"));
        // HTML attributes carry `/` as `&#x2f;`.
        let body = body.replace("&#x2f;", "/");
        let start = body
            .find(&format!("{}?t=", self.url))
            .unwrap_or_else(|| panic!("no link to {} in {body}", self.url));
        body[start..]
            .chars()
            .take_while(|c| !matches!(c, '"' | '<' | ' ' | '\n' | '\r'))
            .collect()
    }

    /// The reminder of the 16th, and the link it carries.
    async fn reminded(&self) -> String {
        let report = run_at(&self.d, at("2026-01-16T09:00:00Z"), &NoDeadline).await;
        let sent = self.d.bus.take();
        assert_eq!(sent.len(), 1, "{report:?}");
        self.link_from_mail("reminder")
    }
}

fn token(link: &str) -> &str {
    link.split_once("?t=").unwrap().1
}

/// Plain HTTP, statuses as they are, redirects not followed.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// Status, headers we check, and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn answer(mut response: ureq::http::Response<ureq::Body>) -> Answer {
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    Answer {
        status: response.status().as_u16(),
        headers,
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn get(url: &str) -> Answer {
    answer(agent().get(url).call().unwrap())
}

fn post(url: &str, form: &[(&str, &str)]) -> Answer {
    answer(agent().post(url).send_form(form.iter().copied()).unwrap())
}

/// Every page says the same to browsers: no framing, no caching, no
/// referrer, nothing but its own style.
fn assert_guarded(a: &Answer) {
    let csp = a.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(a.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(a.header("cache-control"), Some("no-store"));
    assert_eq!(a.header("x-frame-options"), Some("DENY"));
}

fn assert_expired(a: &Answer) {
    assert_eq!(a.status, 404, "{}", a.body);
    assert!(a.body.contains("This link has expired"), "{}", a.body);
    assert!(!a.body.contains("WH-0042"), "reveals nothing: {}", a.body);
    assert_guarded(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_promises_from_the_reminder_and_nothing_fires_until_the_date() {
    let c = Customer::new("portal-browser", "acct_portal_browser", None).await;
    let link = c.reminded().await;
    c.at("2026-01-16T15:00:00Z");

    let browser = browser::Browser::start();
    browser.goto(&link);
    let page = browser.find("main").text();
    for words in [
        "Dear Dana Whitfield",
        "WH-0042",
        "300.00 USD",
        "Can't pay today?",
    ] {
        assert!(page.contains(words), "{words:?} in {page}");
    }
    assert_eq!(
        browser.find("#pay").attribute("href").as_deref(),
        Some("https://invoice.stripe.com/i/acct_1/test_WH0042")
    );
    // Today and the 14 days after it, no more.
    let options = browser.find_all("#until option");
    assert_eq!(options.len(), 15);
    let shot = support::repo_root().join("target/customer-page.png");
    browser.screenshot_png(&shot);
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);

    browser.find("#until").select("2026-01-22");
    browser.find("#promise").click_and_wait();
    let notice = browser.find("#notice").text();
    assert!(notice.contains("22 January 2026"), "{notice}");
    assert!(browser.find("#promised").text().contains("22 January 2026"));
    drop(browser);

    // The hold, through the event path, naming who promised.
    let state = c.state().await;
    assert_eq!(
        state.hold_on(day("2026-01-22")).map(|(until, _)| until),
        Some(day("2026-01-22"))
    );
    let reason = state.hold_on(day("2026-01-22")).unwrap().1.to_owned();
    assert!(reason.contains("Dana Whitfield"), "{reason}");
    assert!(reason.contains("via the customer page"), "{reason}");
    assert_eq!(state.promises().len(), 1);
    // Dana's confirmation; staff's note.
    let mail = c.dana_mail();
    assert!(
        mail.iter()
            .any(|(s, b)| s.contains("promise to pay by 22 January 2026")
                && b.contains("Dear Dana Whitfield")),
        "{mail:?}"
    );
    let ses = support::local_endpoint("AWS_ENDPOINT_URL_SESV2");
    let staff = std::env::var("STAFF_EMAIL").unwrap();
    assert!(
        support::ses_messages_to(&ses, &staff)
            .iter()
            .any(|m| m["subject"]
                .as_str()
                .is_some_and(|s| s.contains(&c.id) && s.starts_with("Promise to pay"))),
        "staff note"
    );

    // reminder_2 was due on the 22nd: nothing fires up to the promised date.
    c.d.bus.take();
    assert_eq!(days(&c.d, "2026-01-17", "2026-01-22").await, vec![]);
    // Unpaid: the ladder resumes the next day, and says the date passed.
    let resumed = days(&c.d, "2026-01-23", "2026-01-23").await;
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].action, "reminder_2");
    assert_eq!(resumed[0].promise_passed, Some(day("2026-01-22")));
    let (_, body) = c
        .dana_mail()
        .into_iter()
        .rev()
        .find(|(s, _)| !s.contains("promise"))
        .unwrap();
    assert!(body.contains("That date has passed"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_links_and_forms_change_nothing_and_say_so() {
    let c = Customer::new("portal-http", "acct_portal_http", None).await;
    let link = c.reminded().await;
    c.at("2026-01-16T15:00:00Z");
    let promise = format!("{}promise", c.url);
    let t = token(&link).to_owned();

    let page = get(&link);
    assert_eq!(page.status, 200);
    assert_guarded(&page);
    assert!(page.body.contains("WH-0042"));

    // Forged (another secret), tampered (one character), expired (a day
    // after its 14), and none at all: one page that says nothing more.
    let ours = PortalLink::verify(&t, &parse_secrets(SECRET).unwrap(), day("2026-01-16")).unwrap();
    let forged = ours.sign(&Secret::from_bytes(b"a-guess-at-the-secret".to_vec()));
    assert_expired(&get(&format!("{}?t={forged}", c.url)));
    let mut tampered = t.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_expired(&get(&format!("{}?t={tampered}", c.url)));
    assert_expired(&get(&c.url));
    c.at("2026-01-31T09:00:00Z");
    assert_expired(&get(&link));
    assert_expired(&post(&promise, &[("t", &t), ("until", "2026-02-02")]));
    c.at("2026-01-16T15:00:00Z");

    // GET never changes anything.
    let sneaky = get(&format!("{promise}?t={t}&until=2026-01-20"));
    assert_eq!(sneaky.status, 405);
    assert_eq!(sneaky.header("allow"), Some("POST"));
    assert_guarded(&sneaky);
    // Past the limit, not a date, too big: refused, with the reason.
    let far = post(&promise, &[("t", &t), ("until", "2026-01-31")]);
    assert_eq!(far.status, 422);
    assert!(far.body.contains("within 14 days"), "{}", far.body);
    assert_eq!(
        post(&promise, &[("t", &t), ("until", "Friday")]).status,
        400
    );
    let huge = "x".repeat(5000);
    assert_eq!(post(&promise, &[("t", &t), ("until", &huge)]).status, 413);
    assert!(c.state().await.hold_on(day("2026-01-16")).is_none());
    assert!(c.state().await.promises().is_empty());

    // A double submit places one hold.
    for _ in 0..2 {
        let ok = post(&promise, &[("t", &t), ("until", "2026-01-20")]);
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert!(ok.body.contains("20 January 2026"));
    }
    assert_eq!(c.state().await.promises().len(), 1);
    let confirmations = c
        .dana_mail()
        .iter()
        .filter(|(s, _)| s.contains("promise to pay"))
        .count();
    assert_eq!(confirmations, 1);
    // A second promise in the episode: refused politely, with the reason.
    let second = post(&promise, &[("t", &t), ("until", "2026-01-21")]);
    assert_eq!(second.status, 422);
    assert!(
        second
            .body
            .contains("already promised to pay by 20 January 2026"),
        "{}",
        second.body
    );
    assert_eq!(c.state().await.promises().len(), 1);

    // Paid: the episode ended, and its link opens nothing any more.
    let paid = Event::from_json(&json!({"id": "portal-http-paid", "at": "2026-01-19T12:00:00Z",
        "account": c.id, "type": "payment_succeeded", "invoice": "in_1", "amount": "300.00", "currency": "USD"}))
    .unwrap();
    support::accounts(&c.d.store).apply(&paid).await.unwrap();
    c.at("2026-01-19T13:00:00Z");
    assert_expired(&get(&link));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_card_goes_to_stripes_portal_and_nowhere_else() {
    let key = "rk_test_portalcard0001";
    support::stripe_api_set(key, "reset", &json!({}));
    let id = "cus_PortalCard0001";
    support::stripe_api_set(key, "customers", &json!([{"id": id, "object": "customer"}]));
    let c = Customer::new("portal-card", id, Some(key)).await;
    let link = c.reminded().await;
    let t = token(&link).to_owned();
    let card = post(&format!("{}card", c.url), &[("t", &t)]);
    assert_eq!(card.status, 303, "{}", card.body);
    let to = card.header("location").unwrap_or_default();
    assert!(
        to.starts_with("https://billing.stripe.com/p/session/"),
        "{to}"
    );
    assert_guarded(&card);
    // Stripe was asked for this customer, coming back to this page.
    let asked = support::stripe_api_requests(key);
    let session = asked
        .iter()
        .find(|r| r["path"] == "/v1/billing_portal/sessions")
        .unwrap();
    assert_eq!(session["form"]["customer"][0], id, "{session}");
    // Stripe's portal never set up: the configured CARD_URL instead.
    support::stripe_api_set(key, "portal", &json!({"configured": false}));
    let fallback = post(&format!("{}card", c.url), &[("t", &t)]);
    assert_eq!(fallback.status, 303);
    assert_eq!(
        fallback.header("location"),
        Some(CARD_URL.replace("{account}", id).as_str())
    );
    // A forged token goes nowhere.
    assert_expired(&post(&format!("{}card", c.url), &[("t", "forged.token")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_staff_agreed_is_shown_and_never_shortened() {
    let c = Customer::new("portal-held", "acct_portal_held", None).await;
    let link = c.reminded().await;
    let agreed = Event::from_json(&json!({"id": "portal-held-agreed", "at": "2026-01-16T12:00:00Z",
        "account": c.id, "type": "hold_placed", "until": "2026-01-28", "reason": "agreed by phone"}))
    .unwrap();
    support::accounts(&c.d.store).apply(&agreed).await.unwrap();
    c.at("2026-01-16T15:00:00Z");
    let page = get(&link);
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("We have agreed to hold off until <strong>28 January 2026</strong>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("name=\"until\""), "no promise form");
    let t = token(&link);
    let shorter = post(
        &format!("{}promise", c.url),
        &[("t", t), ("until", "2026-01-20")],
    );
    assert_eq!(shorter.status, 422);
    assert!(shorter.body.contains("already agreed"), "{}", shorter.body);
    assert_eq!(
        c.state().await.hold_on(day("2026-01-16")).map(|h| h.0),
        Some(day("2026-01-28"))
    );
}
