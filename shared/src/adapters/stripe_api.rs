//! Stripe's API: the reads reconciliation makes, with a restricted key, and
//! the customer portal's sessions ([`StripeApi::billing_portal_session`]),
//! the one write. One client, built once at init: it pins its
//! `Stripe-Version`, pages with `starting_after`, retries what Stripe says
//! to retry (429 after its `Retry-After`, 409, 5xx, a connection that
//! failed) with bounded backoff (a write under one `Idempotency-Key`),
//! times out, and never shows its key.

mod portal;

use std::fmt;
use std::time::SystemTime;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::http_retry::{self, Answer, ApiError, Failure, Verdict};

/// The version every call asks for: objects fetched from the API (an
/// invoice) are rendered in it; events keep the version they were made in.
pub const STRIPE_VERSION: &str = "2026-11-18.endive";

/// Stripe's API.
pub const DEFAULT_BASE: &str = "https://api.stripe.com";

/// A restricted (`rk_…`) or secret (`sk_…`) key. Never printed.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let key = raw.trim();
        let known = ["rk_live_", "rk_test_", "sk_live_", "sk_test_"];
        if !known.iter().any(|p| key.starts_with(p)) || key.len() < 12 {
            return Err(
                "a Stripe API key starts with rk_live_, rk_test_, sk_live_ or sk_test_".into(),
            );
        }
        if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err("a Stripe API key has only letters, digits and _".into());
        }
        Ok(Self(key.to_owned()))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// Why a call did not give an answer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StripeApiError {
    /// No answer, or only ones to retry, after every attempt: try later.
    #[error("Stripe could not be reached after {attempts} attempts: {last}")]
    Unavailable { attempts: u32, last: String },
    /// An answer that retrying will not change (a bad key, a missing
    /// permission, a bad request).
    #[error("Stripe answered {status} ({kind}): {message}")]
    Refused {
        status: u16,
        kind: String,
        message: String,
    },
    /// A body that is not what Stripe documents.
    #[error("Stripe's answer to {path} did not read: {reason}")]
    Malformed { path: String, reason: String },
}

impl StripeApiError {
    /// Whether a later call may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

pub use super::http_retry::Retries;

/// What `GET /v1/invoices` is asked for.
#[derive(Debug, Clone, Default)]
pub struct InvoicesQuery {
    pub status: String,
    pub customer: Option<String>,
    pub created_gte: Option<i64>,
    pub starting_after: Option<String>,
}

/// One page of a list: each item's JSON as Stripe sent it.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Box<RawValue>>,
    pub has_more: bool,
}

impl Page {
    /// The id to pass as `starting_after` for the next page.
    pub fn last_id(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct Id<'a> {
            #[serde(borrow)]
            id: std::borrow::Cow<'a, str>,
        }
        let last = self.items.last()?;
        serde_json::from_str::<Id<'_>>(last.get())
            .ok()
            .map(|i| i.id.into_owned())
    }
}

#[derive(Deserialize)]
struct ListBody {
    data: Vec<Box<RawValue>>,
    has_more: bool,
}

/// What to list: `GET /v1/events`.
#[derive(Debug, Clone, Default)]
pub struct EventsQuery {
    pub created_gte: Option<i64>,
    pub created_lte: Option<i64>,
    /// At most 20, as Stripe allows.
    pub types: Vec<String>,
    pub starting_after: Option<String>,
}

/// The client.
#[derive(Clone)]
pub struct StripeApi {
    http: reqwest::Client,
    base: String,
    key: ApiKey,
    retries: Retries,
}

impl fmt::Debug for StripeApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeApi")
            .field("base", &self.base)
            .field("key", &self.key)
            .finish()
    }
}

impl StripeApi {
    pub fn new(base: &str, key: ApiKey, retries: Retries) -> Result<Self, String> {
        let base = http_retry::check_base(base, "STRIPE_API_BASE", "key")?;
        let http = http_retry::client(retries.timeout, true)?;
        Ok(Self {
            http,
            base,
            key,
            retries,
        })
    }

    /// One page of events, newest first, as Stripe lists them.
    pub async fn events(&self, query: &EventsQuery) -> Result<Page, StripeApiError> {
        let mut params: Vec<(&str, String)> = vec![("limit", "100".into())];
        if let Some(t) = query.created_gte {
            params.push(("created[gte]", t.to_string()));
        }
        if let Some(t) = query.created_lte {
            params.push(("created[lte]", t.to_string()));
        }
        for t in &query.types {
            params.push(("types[]", t.clone()));
        }
        if let Some(after) = &query.starting_after {
            params.push(("starting_after", after.clone()));
        }
        self.list("/v1/events", &params).await
    }

    /// One page of invoices, newest first, as Stripe lists them: those of
    /// `status` (`open`, `uncollectible`, ...), of one customer when given,
    /// created at or after `created_gte` when given, after the invoice
    /// `starting_after`.
    pub async fn invoices(&self, query: &InvoicesQuery) -> Result<Page, StripeApiError> {
        let mut params: Vec<(&str, String)> =
            vec![("limit", "100".into()), ("status", query.status.clone())];
        if let Some(customer) = &query.customer {
            params.push(("customer", customer.clone()));
        }
        if let Some(t) = query.created_gte {
            params.push(("created[gte]", t.to_string()));
        }
        if let Some(after) = &query.starting_after {
            params.push(("starting_after", after.clone()));
        }
        self.list("/v1/invoices", &params).await
    }

    /// One page of the list at `path`.
    async fn list(&self, path: &str, params: &[(&str, String)]) -> Result<Page, StripeApiError> {
        let body = self.get(path, params).await?;
        let list: ListBody = serde_json::from_slice(&body).map_err(|e| malformed(path, &e))?;
        Ok(Page {
            items: list.data,
            has_more: list.has_more,
        })
    }

    /// An invoice as Stripe has it now, its payments expanded (the list
    /// `invoice_payment.paid` events come from), or `None` when Stripe has
    /// none by that id.
    pub async fn invoice(&self, id: &str) -> Result<Option<Vec<u8>>, StripeApiError> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(StripeApiError::Refused {
                status: 0,
                kind: "invalid_request_error".into(),
                message: format!("{id:?} is not a Stripe id"),
            });
        }
        let expand = [("expand[]", "payments".to_owned())];
        self.found(&format!("/v1/invoices/{id}"), &expand).await
    }

    /// The object at `path` (`/v1/<resource>/<id>`, as a thin event's
    /// `related_object.url` names it), or `None` when Stripe has none.
    pub async fn object(&self, path: &str) -> Result<Option<Vec<u8>>, StripeApiError> {
        if !crate::processors::stripe::thin::is_object_path(path) {
            return Err(StripeApiError::Refused {
                status: 0,
                kind: "invalid_request_error".into(),
                message: format!("{path:?} is not a Stripe object path"),
            });
        }
        self.found(path, &[]).await
    }

    /// A GET whose `404` means "Stripe has none": `None`.
    async fn found(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Option<Vec<u8>>, StripeApiError> {
        match self.get(path, params).await {
            Ok(body) => Ok(Some(body)),
            Err(StripeApiError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A GET with the key, the pinned version and the retries.
    async fn get(&self, path: &str, params: &[(&str, String)]) -> Result<Vec<u8>, StripeApiError> {
        self.request(reqwest::Method::GET, path, params).await
    }

    /// A POST of `params`, form-encoded as Stripe takes them, every attempt
    /// under one `Idempotency-Key`: a retry of a request Stripe did carry
    /// out gets its first answer, never a second object.
    async fn post(&self, path: &str, params: &[(&str, String)]) -> Result<Vec<u8>, StripeApiError> {
        self.request(reqwest::Method::POST, path, params).await
    }

    /// A request with the key, the pinned version and the retries: `params`
    /// in the query of a GET, the body of anything else.
    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<u8>, StripeApiError> {
        let url = format!("{}{path}", self.base);
        let write = (method != reqwest::Method::GET).then(|| {
            let mut form = reqwest::Url::parse("http://form.invalid/").expect("a fixed URL");
            form.query_pairs_mut().extend_pairs(params);
            let body = form.query().unwrap_or_default().to_owned();
            let key = format!(
                "pastdue-{:016x}{:016x}",
                fastrand::u64(..),
                fastrand::u64(..)
            );
            (body, key)
        });
        let build = || {
            let request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.key.0)
                .header("Stripe-Version", STRIPE_VERSION);
            match &write {
                None => request.query(params),
                Some((body, key)) => request
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("Idempotency-Key", key)
                    .body(body.clone()),
            }
        };
        let sent =
            http_retry::send(&self.retries, "Stripe", path, usize::MAX, build, classify).await;
        match sent {
            Ok(answer) => Ok(answer.body),
            Err(Failure::Refused(answer)) => {
                let (kind, message) = error_of(&answer);
                Err(StripeApiError::Refused {
                    status: answer.status,
                    kind,
                    message,
                })
            }
            Err(Failure::Unavailable { attempts, last }) => {
                Err(StripeApiError::Unavailable { attempts, last })
            }
            Err(Failure::TooLarge { status, limit }) => Err(StripeApiError::Malformed {
                path: path.to_owned(),
                reason: format!("HTTP {status}: a body over {limit} bytes"),
            }),
        }
    }
}

/// What Stripe says of an answer: taken (2xx); to retry when its
/// `Stripe-Should-Retry` says so, else when 429 (after its `Retry-After`),
/// 409 or 5xx; else refused.
fn classify(answer: &Answer) -> Verdict {
    let status = answer.status;
    if (200..300).contains(&status) {
        return Verdict::Done;
    }
    let should_retry = answer
        .headers
        .get("stripe-should-retry")
        .and_then(|v| v.to_str().ok())
        .map(|v| v == "true");
    if !should_retry.unwrap_or(status == 429 || status == 409 || status >= 500) {
        return Verdict::Refused;
    }
    Verdict::Retry {
        after: http_retry::wait_header(&answer.headers, "retry-after", SystemTime::now()),
        reason: error_of(answer).1,
    }
}

/// The `type` and `message` of Stripe's error body.
fn error_of(answer: &Answer) -> (String, String) {
    match ApiError::read(&answer.body) {
        Some(e) => (e.kind, e.message),
        None => ("api_error".to_owned(), format!("HTTP {}", answer.status)),
    }
}

fn malformed(path: &str, e: &serde_json::Error) -> StripeApiError {
    StripeApiError::Malformed {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// Stripe's event log for reconciliation: `GET /v1/events` of the types
/// pastdue maps (Stripe takes at most 20 a request).
#[derive(Debug, Clone)]
pub struct StripeEvents {
    pub api: StripeApi,
    pub types: Vec<String>,
}

impl crate::ports::reconcile::EventLog for StripeEvents {
    async fn page(
        &self,
        from: i64,
        until: i64,
        after: Option<&str>,
    ) -> Result<crate::ports::reconcile::LoggedPage, crate::ports::reconcile::LogError> {
        use crate::ports::reconcile::{LogError, Logged, LoggedPage};
        #[derive(Deserialize)]
        struct Head<'a> {
            #[serde(borrow)]
            id: std::borrow::Cow<'a, str>,
            created: i64,
        }
        let query = EventsQuery {
            created_gte: Some(from),
            created_lte: Some(until),
            types: self.types.clone(),
            starting_after: after.map(str::to_owned),
        };
        let page = self.api.events(&query).await.map_err(|e| LogError {
            retryable: e.is_retryable(),
            reason: e.to_string(),
        })?;
        let events = page
            .items
            .iter()
            .map(|raw| {
                let head: Head<'_> = serde_json::from_str(raw.get()).map_err(|e| LogError {
                    reason: format!("an event in /v1/events did not read: {e}"),
                    retryable: false,
                })?;
                Ok(Logged {
                    id: head.id.into_owned(),
                    created: head.created,
                    body: raw.get().as_bytes().to_vec(),
                })
            })
            .collect::<Result<Vec<_>, LogError>>()?;
        Ok(LoggedPage {
            events,
            has_more: page.has_more,
        })
    }
}

/// Stripe's invoices as its API has them now, for the check before cutting
/// off: an account pastdue knows by its Stripe customer id (`cus_…`) and
/// an invoice by Stripe's id (`in_…`) are Stripe's.
pub struct StripeInvoices {
    pub api: StripeApi,
}

impl crate::ports::cutoff::CurrentInvoices for StripeInvoices {
    fn processor(&self) -> &'static str {
        use crate::processors::FromSecret;
        crate::processors::stripe::StripeProcessor::NAME
    }

    fn issued(
        &self,
        account: &crate::domain::AccountId,
        invoice: &crate::domain::InvoiceId,
    ) -> bool {
        account.as_str().starts_with("cus_") && invoice.as_str().starts_with("in_")
    }

    async fn current(
        &self,
        invoice: &crate::domain::InvoiceId,
        now: i64,
    ) -> Result<Option<Vec<u8>>, crate::ports::reconcile::LogError> {
        use crate::ports::reconcile::LogError;
        let Some(body) = self
            .api
            .invoice(invoice.as_str())
            .await
            .map_err(|e| LogError {
                retryable: e.is_retryable(),
                reason: e.to_string(),
            })?
        else {
            return Ok(None);
        };
        crate::processors::stripe::current::invoice_event(&body, STRIPE_VERSION, now)
            .map(Some)
            .map_err(|e| LogError {
                reason: format!("GET /v1/invoices/{invoice} did not read: {e}"),
                retryable: false,
            })
    }
}

/// Stripe's thin events made whole for `ingest`: the related object read
/// from the API, in the thin event's envelope.
pub struct StripeThin {
    pub api: StripeApi,
}

impl crate::ports::thin::Thicken for StripeThin {
    async fn thicken(
        &self,
        processor: &str,
        body: &[u8],
    ) -> Result<Option<Vec<u8>>, crate::ports::thin::ThinError> {
        use crate::ports::thin::ThinError;
        use crate::processors::FromSecret;
        use crate::processors::stripe::StripeProcessor;
        use crate::processors::stripe::thin::ThinEvent;
        if processor != StripeProcessor::NAME {
            return Ok(None);
        }
        let Some(thin) = ThinEvent::parse(body).map_err(|e| ThinError::Refused(e.to_string()))?
        else {
            return Ok(None);
        };
        match self.api.object(&thin.url).await {
            Ok(Some(object)) => Ok(Some(thin.snapshot(&object, STRIPE_VERSION))),
            Ok(None) => Err(ThinError::Refused(format!(
                "Stripe has no {} any more: the thin event {} cannot be read",
                thin.url, thin.id
            ))),
            Err(e) if e.is_retryable() => Err(ThinError::Unavailable(e.to_string())),
            Err(e) => Err(ThinError::Refused(e.to_string())),
        }
    }
}
