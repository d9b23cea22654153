//! The Stripe API client against Stripe's API as `dev/stripe_api.py`
//! serves it on loopback (real list objects, cursors, error bodies, 429s
//! with Retry-After), each test on its own key, so its own account.

mod support;

use std::time::{Duration, Instant};

use pastdue_shared::adapters::stripe_api::{
    ApiKey, EventsQuery, Retries, STRIPE_VERSION, StripeApi, StripeApiError,
};
use pastdue_shared::ports::card::{CardSessionError, CardSessions, NoCardSessions};
use serde_json::{Value, json};

fn base() -> String {
    support::local_endpoint("STRIPE_API_BASE")
}

fn key(label: &str) -> String {
    format!("rk_test_{label}{}", fastrand::u32(..))
}

fn fast() -> Retries {
    Retries {
        attempts: 3,
        base: Duration::from_millis(20),
        cap: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
    }
}

fn client(key: &str, retries: Retries) -> StripeApi {
    StripeApi::new(&base(), ApiKey::parse(key).unwrap(), retries).unwrap()
}

fn event(n: i64, kind: &str) -> Value {
    json!({"id": format!("evt_{n:04}"), "object": "event", "created": 1_767_000_000 + n,
           "type": kind, "data": {"object": {"id": format!("in_{n}"), "object": "invoice"}}})
}

#[tokio::test]
async fn every_event_of_a_window_comes_once_page_by_page_with_the_pinned_version() {
    let key = key("pages");
    let events: Vec<Value> = (0..250)
        .map(|n| {
            event(
                n,
                if n % 5 == 0 {
                    "customer.created"
                } else {
                    "invoice.paid"
                },
            )
        })
        .collect();
    support::stripe_api_set(&key, "events", &Value::from(events));
    let api = client(&key, fast());
    let mut query = EventsQuery {
        created_gte: Some(1_767_000_010),
        created_lte: Some(1_767_000_239),
        types: vec!["invoice.paid".into()],
        starting_after: None,
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = api.events(&query).await.unwrap();
        pages += 1;
        for item in &page.items {
            let e: Value = serde_json::from_str(item.get()).unwrap();
            seen.push(e["created"].as_i64().unwrap());
        }
        if !page.has_more {
            break;
        }
        query.starting_after = page.last_id();
    }
    // 230 in the window, one in five of another type: 184, newest first.
    let expected: Vec<i64> = (10..240)
        .rev()
        .filter(|n| n % 5 != 0)
        .map(|n| 1_767_000_000 + n)
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 2);
    let asked = support::stripe_api_requests(&key);
    assert_eq!(asked.len(), 2);
    for r in &asked {
        assert_eq!(r["stripe_version"], STRIPE_VERSION);
        assert_eq!(r["query"]["limit"], json!(["100"]));
        assert_eq!(r["query"]["types[]"], json!(["invoice.paid"]));
        assert_eq!(r["query"]["created[gte]"], json!(["1767000010"]));
    }
    // The second page starts after the last event of the first.
    let last_of_first = format!("evt_{:04}", expected[99] - 1_767_000_000);
    assert_eq!(asked[1]["query"]["starting_after"], json!([last_of_first]));
}

#[tokio::test]
async fn a_rate_limit_waits_as_long_as_stripe_asks_then_answers() {
    let key = key("limited");
    support::stripe_api_set(&key, "events", &json!([event(1, "invoice.paid")]));
    support::stripe_api_set(
        &key,
        "faults",
        &json!({"status": 429, "count": 2, "retry_after": 1, "path": "/v1/events"}),
    );
    let started = Instant::now();
    let page = client(&key, fast())
        .events(&EventsQuery::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(support::stripe_api_requests(&key).len(), 3);
}

#[tokio::test]
async fn errors_stripe_retries_give_up_after_bounded_attempts_and_say_try_later() {
    let key = key("down");
    support::stripe_api_set(
        &key,
        "faults",
        &json!({"status": 500, "count": 10, "path": "/v1/invoices"}),
    );
    let started = Instant::now();
    let error = client(&key, fast()).invoice("in_1").await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(
        matches!(error, StripeApiError::Unavailable { attempts: 3, .. }),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(support::stripe_api_requests(&key).len(), 3);
    // A retry that would wait past the cap waits the cap.
    support::stripe_api_set(&key, "reset", &json!({}));
    support::stripe_api_set(
        &key,
        "faults",
        &json!({"status": 429, "count": 1, "retry_after": 3600, "path": "/v1/invoices"}),
    );
    let started = Instant::now();
    assert_eq!(client(&key, fast()).invoice("in_1").await, Ok(None));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn an_invoice_stripe_has_is_returned_whole_with_its_payments_and_one_it_lacks_is_none() {
    let key = key("invoices");
    let invoice = json!({"id": "in_1Known", "object": "invoice", "status": "paid",
                         "amount_remaining": 0, "created": 1_767_000_000});
    support::stripe_api_set(&key, "invoices", &json!([invoice]));
    let api = client(&key, fast());
    let body = api.invoice("in_1Known").await.unwrap().unwrap();
    let mut expanded = invoice.clone();
    expanded["payments"] = json!({"object": "list", "data": [], "has_more": false,
                                  "url": "/v1/invoice_payments?invoice=in_1Known"});
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), expanded);
    assert_eq!(
        support::stripe_api_requests(&key)[0]["query"]["expand[]"],
        json!(["payments"])
    );
    assert_eq!(api.invoice("in_1Missing").await, Ok(None));
    // An id that is not one is refused before any request.
    assert!(api.invoice("in_1/../../v1/events").await.is_err());
    assert_eq!(support::stripe_api_requests(&key).len(), 2);
}

#[tokio::test]
async fn a_revoked_key_is_refused_for_good_and_never_shown() {
    let key = key("revoked");
    support::stripe_api_set(&key, "revoke", &json!({}));
    let api = client(&key, fast());
    let error = api.events(&EventsQuery::default()).await.unwrap_err();
    assert!(
        matches!(error, StripeApiError::Refused { status: 401, .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    for shown in [format!("{error}"), format!("{error:?}"), format!("{api:?}")] {
        assert!(!shown.contains(&key), "{shown}");
    }
}

#[tokio::test]
async fn an_unreachable_stripe_is_retryable_and_plain_http_goes_only_to_loopback() {
    // Nothing listens on port 9 here.
    let api = StripeApi::new(
        "http://127.0.0.1:9",
        ApiKey::parse("rk_test_unreachable1").unwrap(),
        fast(),
    )
    .unwrap();
    let error = api.events(&EventsQuery::default()).await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(!format!("{error}").contains("rk_test"), "{error}");
    let key = || ApiKey::parse("rk_live_abcdefgh1234").unwrap();
    assert!(StripeApi::new("http://api.stripe.com", key(), fast()).is_err());
    assert!(StripeApi::new("https://api.stripe.com", key(), fast()).is_ok());
    assert!(StripeApi::new("http://localhost:12111", key(), fast()).is_ok());
    assert!(
        ApiKey::parse("pk_live_abcdefgh1234").is_err(),
        "a publishable key"
    );
    assert!(ApiKey::parse("whsec_abc").is_err());
}

/// The key is read once, from the variable or from the SSM parameter it
/// names; a key that is not one, or a base that would send it in clear, is
/// refused at init with the variable's name and never its value.
#[tokio::test]
async fn the_key_is_read_from_ssm_at_init_and_a_bad_setting_is_named_not_shown() {
    use pastdue_shared::config::{ConfigError, stripe_api};
    let config = support::sdk_config().await;
    support::local_endpoint("AWS_ENDPOINT_URL_SSM");
    let key = key("fromssm");
    support::stripe_api_set(&key, "events", &json!([event(7, "invoice.paid")]));
    let name = format!("/pastdue/test/stripe-api-{}", fastrand::u32(..));
    aws_sdk_ssm::Client::new(&config)
        .put_parameter()
        .name(&name)
        .value(&key)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let vars = |pairs: Vec<(&'static str, String)>| {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    };
    let api = stripe_api(
        vars(vec![
            ("STRIPE_API_KEY_PARAM", name.clone()),
            ("STRIPE_API_BASE", base()),
        ]),
        &config,
    )
    .await
    .unwrap()
    .expect("a key is configured");
    let page = api.events(&EventsQuery::default()).await.unwrap();
    assert_eq!(page.last_id().as_deref(), Some("evt_0007"));

    assert!(stripe_api(vars(vec![]), &config).await.unwrap().is_none());
    let bad = stripe_api(
        vars(vec![("STRIPE_API_KEY", "pk_live_notsecret99".into())]),
        &config,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            bad,
            ConfigError::Invalid {
                name: "STRIPE_API_KEY",
                ..
            }
        ),
        "{bad:?}"
    );
    assert!(!bad.to_string().contains("notsecret99"), "{bad}");
    let clear = stripe_api(
        vars(vec![
            ("STRIPE_API_KEY", key.clone()),
            ("STRIPE_API_BASE", "http://api.stripe.com".into()),
        ]),
        &config,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            clear,
            ConfigError::Invalid {
                name: "STRIPE_API_BASE",
                ..
            }
        ),
        "{clear:?}"
    );
    assert!(!clear.to_string().contains(&key), "{clear}");
}

/// Where the customer page's "Update card" comes back to: it carries the
/// page's signed link, which no error may repeat.
const BACK: &str = "https://billing.example.com/p/p1.c2lnbmVkLXRva2Vu.secret";

/// `POST /v1/billing_portal/sessions` on the loopback API as Stripe's
/// libraries send it, whatever the answer.
fn post_session(key: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut answer = agent
        .post(&format!("{}/v1/billing_portal/sessions", base()))
        .header("Authorization", &format!("Bearer {key}"))
        .header("Stripe-Version", STRIPE_VERSION)
        .send_form(form.iter().copied())
        .unwrap();
    (
        answer.status().as_u16(),
        answer.body_mut().read_json().unwrap(),
    )
}

/// Stripe of `key` knows the customer `cus_1Known`.
fn known_customer(key: &str) {
    support::stripe_api_set(
        key,
        "customers",
        &json!([{"id": "cus_1Known", "object": "customer"}]),
    );
}

#[tokio::test]
async fn a_card_session_for_a_known_customer_is_a_stripe_portal_url_asked_for_once() {
    let key = key("portal");
    known_customer(&key);
    let api = client(&key, fast());
    let url = api.card_session("cus_1Known", BACK).await.unwrap();
    assert!(url.starts_with("https://billing.stripe.com/"), "{url}");
    let asked = support::stripe_api_requests(&key);
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["method"], "POST");
    assert_eq!(asked[0]["path"], "/v1/billing_portal/sessions");
    assert_eq!(asked[0]["stripe_version"], STRIPE_VERSION);
    assert_eq!(
        asked[0]["form"],
        json!({"customer": ["cus_1Known"], "return_url": [BACK]})
    );
    assert!(
        asked[0]["idempotency_key"]
            .as_str()
            .is_some_and(|k| !k.is_empty())
    );
    // Each session is a new one.
    assert_ne!(api.card_session("cus_1Known", BACK).await.unwrap(), url);

    // The loopback answers with Stripe's object and Stripe's errors.
    let (status, session) = post_session(&key, &[("customer", "cus_1Known"), ("return_url", BACK)]);
    assert_eq!(status, 200, "{session}");
    let mut keys: Vec<&str> = session
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "configuration",
            "created",
            "customer",
            "customer_account",
            "flow",
            "id",
            "livemode",
            "locale",
            "object",
            "on_behalf_of",
            "return_url",
            "url"
        ]
    );
    assert_eq!(session["object"], "billing_portal.session");
    assert!(session["id"].as_str().unwrap().starts_with("bps_"));
    assert!(
        session["configuration"]
            .as_str()
            .unwrap()
            .starts_with("bpc_")
    );
    assert_eq!(session["livemode"], false);
    assert_eq!(session["return_url"], BACK);
    assert!(
        session["url"]
            .as_str()
            .unwrap()
            .starts_with("https://billing.stripe.com/p/session/test_")
    );
    let (status, missing) = post_session(&key, &[("return_url", BACK)]);
    assert_eq!(status, 400);
    assert_eq!(missing["error"]["type"], "invalid_request_error");
    assert_eq!(missing["error"]["code"], "parameter_missing");
    assert_eq!(missing["error"]["param"], "customer");
}

#[tokio::test]
async fn a_card_session_stripe_refuses_is_refused_and_never_shows_the_return_url() {
    let key = key("refused");
    known_customer(&key);
    let api = client(&key, fast());
    let error = api.card_session("cus_1Missing", BACK).await.unwrap_err();
    assert!(
        matches!(&error, CardSessionError::Refused(m) if m.contains("No such customer: 'cus_1Missing'")),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    // Refused once, not retried.
    assert_eq!(support::stripe_api_requests(&key).len(), 1);
    // A portal whose settings were never saved.
    support::stripe_api_set(&key, "portal", &json!({"configured": false}));
    let error = api.card_session("cus_1Known", BACK).await.unwrap_err();
    assert!(
        matches!(&error, CardSessionError::Refused(m) if m.contains("customer portal settings")),
        "{error:?}"
    );
    // Not a customer id: refused before any request.
    let error = api
        .card_session("cus_1&customer=cus_2", BACK)
        .await
        .unwrap_err();
    assert!(matches!(error, CardSessionError::Refused(_)), "{error:?}");
    assert_eq!(support::stripe_api_requests(&key).len(), 2);
    // Without an API key there is nowhere to send the customer.
    let none = NoCardSessions.card_session("cus_1Known", BACK).await;
    assert_eq!(
        none,
        Err(CardSessionError::Refused(
            "no Stripe API key is configured".into()
        ))
    );
    assert_eq!(
        None::<StripeApi>.card_session("cus_1Known", BACK).await,
        none
    );
    // What a refusal says never repeats the return URL or the key.
    let bad = client(&key, fast())
        .card_session("cus_1Known", "not a url secret")
        .await
        .unwrap_err();
    for shown in [format!("{bad}"), format!("{bad:?}"), format!("{error}")] {
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!shown.contains(&key), "{shown}");
    }
}

#[tokio::test]
async fn a_card_session_while_stripe_fails_is_unavailable_and_retries_under_one_idempotency_key() {
    let key = key("portaldown");
    known_customer(&key);
    support::stripe_api_set(
        &key,
        "faults",
        &json!({"status": 500, "count": 10, "path": "/v1/billing_portal/sessions"}),
    );
    let api = client(&key, fast());
    let error = api.card_session("cus_1Known", BACK).await.unwrap_err();
    assert!(
        matches!(error, CardSessionError::Unavailable(_)),
        "{error:?}"
    );
    assert!(error.is_retryable());
    let asked = support::stripe_api_requests(&key);
    assert_eq!(asked.len(), 3);
    assert!(
        asked
            .iter()
            .all(|r| r["idempotency_key"] == asked[0]["idempotency_key"])
    );
    // One failure, then Stripe answers: one session, made on the retry.
    support::stripe_api_set(&key, "reset", &json!({}));
    known_customer(&key);
    support::stripe_api_set(
        &key,
        "faults",
        &json!({"status": 503, "count": 1, "path": "/v1/billing_portal/sessions"}),
    );
    let url = api.card_session("cus_1Known", BACK).await.unwrap();
    assert!(url.starts_with("https://billing.stripe.com/"), "{url}");
    let asked = support::stripe_api_requests(&key);
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[0]["idempotency_key"], asked[1]["idempotency_key"]);
}
