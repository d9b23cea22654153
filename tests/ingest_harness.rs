//! The `ingest` handler wired to DynamoDB Local and an inline bus, and
//! requests signed as each processor signs them: shared by the ingest tests.

use lambda_http::http::{HeaderValue, Method};
use lambda_http::{Body, Request};
use pastdue_shared::adapters::bus::InlineBus;
use pastdue_shared::adapters::dynamodb::DynamoStore;
use pastdue_shared::domain::view::account_view;
use pastdue_shared::domain::{AccountId, ActionMessage, Event, Policy};
use pastdue_shared::handlers::ingest::{Ingest, handle};
use pastdue_shared::ports::certificates::{Certificates, NoCertificates};
use pastdue_shared::ports::objects::{FetchObjects, NoObjects};
use pastdue_shared::ports::remote_verify::{Offline, VerifyRemotely};
use pastdue_shared::ports::thin::{NoThin, Thicken};
use pastdue_shared::ports::{ApplyOutcome, Publish, PublishActions, PublishError};
use pastdue_shared::processors::standard::StandardProcessor;
use pastdue_shared::processors::stripe::StripeProcessor;
use pastdue_shared::processors::stripe::signature::signature_header;
use pastdue_shared::processors::{FromSecret, Processors};
use pastdue_shared::services::Accounts;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

use crate::support;

pub const STRIPE_SECRET: &str = "whsec_test_pastdue_stripe";
pub const OLD_STRIPE_SECRET: &str = "whsec_test_pastdue_previous";
pub const STANDARD_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
pub const NOW: i64 = 1_767_300_000;

/// The inline bus (events are applied here), recording the actions ingest
/// publishes itself (staff alerts).
#[derive(Debug, Clone)]
pub struct Bus {
    pub inline: InlineBus<support::InlineApplier>,
    pub alerts: Arc<Mutex<Vec<ActionMessage>>>,
}

impl Publish for Bus {
    async fn publish(
        &self,
        source: &str,
        events: &[Event],
    ) -> Result<Vec<Option<ApplyOutcome>>, PublishError> {
        self.inline.publish(source, events).await
    }
}

impl PublishActions for Bus {
    async fn publish_actions(&self, messages: &[ActionMessage]) -> Result<(), PublishError> {
        self.alerts.lock().unwrap().extend_from_slice(messages);
        Ok(())
    }
}

/// `ingest`'s parts; thin events made whole by `T` (none by default),
/// certificates from `C`, objects read through `O`.
pub type Deps<T = NoThin, C = NoCertificates, O = NoObjects, R = Offline> =
    Ingest<DynamoStore, Accounts<DynamoStore>, Bus, T, C, O, R>;

pub async fn deps(label: &str) -> Deps {
    deps_with_thin(label, NoThin).await
}

/// [`deps`] reading thin events through `thin`.
pub async fn deps_with_thin<T>(label: &str, thin: T) -> Deps<T> {
    let processors = Processors::default()
        .with(
            StripeProcessor::from_secret(&format!("{STRIPE_SECRET},{OLD_STRIPE_SECRET}"), 300)
                .unwrap(),
        )
        .with(StandardProcessor::from_secret(STANDARD_SECRET, 300).unwrap());
    deps_with(label, processors, thin, NoCertificates, NoObjects).await
}

/// `ingest` with `processors`, on a fresh table.
pub async fn deps_with<T, C, O>(
    label: &str,
    processors: Processors,
    thin: T,
    certificates: C,
    objects: O,
) -> Deps<T, C, O> {
    let (client, table) = support::fresh_table(label).await;
    let store = DynamoStore::new(client, table, Policy::default());
    Ingest {
        processors,
        accounts: support::accounts(&store),
        bus: Bus {
            inline: support::inline_bus(&store),
            alerts: Arc::default(),
        },
        store,
        thin,
        certificates,
        objects,
        remote: Offline,
    }
}

pub fn request(
    method: &str,
    path: &str,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
) -> Request {
    let mut r = Request::new(Body::Binary(body));
    *r.method_mut() = method.parse::<Method>().unwrap();
    *r.uri_mut() = format!("https://abc.lambda-url.us-east-1.on.aws{path}")
        .parse()
        .unwrap();
    for (k, v) in headers {
        r.headers_mut()
            .insert(*k, HeaderValue::from_str(v).unwrap());
    }
    r
}

pub fn stripe_request(body: &[u8], secret: &str, t: i64) -> Request {
    request(
        "POST",
        "/stripe",
        &[("stripe-signature", signature_header(secret, t, body))],
        body.to_vec(),
    )
}

pub async fn post<T: Thicken, C: Certificates, O: FetchObjects, R: VerifyRemotely>(
    deps: &Deps<T, C, O, R>,
    req: Request,
) -> (u16, Value) {
    post_at(deps, req, NOW).await
}

/// [`post`] at `now`.
pub async fn post_at<T: Thicken, C: Certificates, O: FetchObjects, R: VerifyRemotely>(
    deps: &Deps<T, C, O, R>,
    req: Request,
    now: i64,
) -> (u16, Value) {
    let response = handle(deps, &req, now).await;
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("JSON text expected, got {other:?}"),
    };
    (status, body)
}

pub async fn show<T, C, O, R>(deps: &Deps<T, C, O, R>, id: &str) -> Value {
    let loaded = deps
        .store
        .load(&AccountId::parse(id).unwrap())
        .await
        .unwrap()
        .expect("account");
    account_view(
        &loaded.state,
        "2026-06-01".parse().unwrap(),
        deps.store.policy(),
    )
}

/// Reconciliation's way into `deps`' delivery path: Stripe's events from
/// its API, taken at `now` as the `reconcile` function takes them.
#[allow(dead_code)] // the targets that reconcile use it
pub fn from_api(
    deps: &Deps,
    now: i64,
) -> pastdue_shared::services::deliver::FromApi<'_, DynamoStore, Accounts<DynamoStore>, Bus> {
    use pastdue_shared::services::deliver::{DeliveryPath, FromApi};
    FromApi {
        path: DeliveryPath {
            store: &deps.store,
            accounts: &deps.accounts,
            bus: &deps.bus,
            via: Some(pastdue_shared::domain::Via::Reconciliation),
        },
        read: pastdue_shared::processors::stripe::mapping::read_delivery,
        name: "stripe",
        now,
    }
}

/// What a customer's standing comes to, without the ids each processor
/// gives it.
#[allow(dead_code)] // the targets that compare processors use it
pub fn standing(shown: &Value) -> Value {
    let invoices: Vec<Value> = shown["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            json!({
                "amount": i["amount"], "owed": i["owed"], "due": i["due"],
                "status": i["status"], "currency": i["currency"],
            })
        })
        .collect();
    json!({"status": shown["status"], "dpd": shown["dpd"], "invoices": invoices})
}
