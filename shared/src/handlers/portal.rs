//! The `portal` function: the customer page over its Function URL.
//!
//! - `GET /?t=TOKEN`: the page (GET never changes anything);
//! - `POST /promise` (`t`, `until`): promise to pay by a date;
//! - `POST /card` (`t`): off to the processor's card page, else `CARD_URL`.
//!
//! The forms carry the signed token itself, so a cross-site form cannot
//! post for someone (it does not have their token) and no cookie session
//! is needed. Bodies are bounded; every response carries the same
//! security headers.

use chrono::{DateTime, Utc};
use lambda_http::http::{HeaderValue, Method, header};
use lambda_http::{Body, Request, Response};

use crate::portal::page::{Pages, Rendered};
use crate::portal::service::Portal;
use crate::ports::card::CardSessions;
use crate::ports::{AccountRepository, Publish};

/// The largest form body taken: a token and a date fit many times over.
pub const MAX_BODY: usize = 4096;

/// The page's use cases and its templates, built once at init.
pub struct PortalHttp<R, B, C> {
    pub portal: Portal<R, B, C>,
    pub pages: Pages,
}

/// What a request asks for, by its last path segment.
#[derive(Clone, Copy)]
enum Route {
    Page,
    Promise,
    Card,
}

pub async fn handle<R, B, C>(
    deps: &PortalHttp<R, B, C>,
    request: &Request,
    now: DateTime<Utc>,
) -> Response<Body>
where
    R: AccountRepository,
    B: Publish,
    C: CardSessions,
{
    let path = request.uri().path();
    let route = match path.rsplit('/').next().unwrap_or_default() {
        "" => Route::Page,
        "promise" => Route::Promise,
        "card" => Route::Card,
        _ => return respond(&deps.pages, deps.pages.not_found()),
    };
    let method = request.method();
    let rendered = match (route, method) {
        (Route::Page, &Method::GET | &Method::HEAD) => {
            let token = field(request.uri().query().unwrap_or_default(), "t");
            let reply = deps.portal.open(&token, now).await;
            deps.pages.render(&reply, &token)
        }
        (Route::Promise | Route::Card, &Method::POST) => {
            let Some(form) = form(request) else {
                return respond(&deps.pages, deps.pages.too_large());
            };
            let token = field(&form, "t");
            let reply = if matches!(route, Route::Promise) {
                deps.portal
                    .promise(&token, &field(&form, "until"), now)
                    .await
            } else {
                let back = page_url(request, path.trim_end_matches("card"), &token);
                deps.portal.card(&token, &back, now).await
            };
            deps.pages.render(&reply, &token)
        }
        _ => {
            let mut response = respond(&deps.pages, deps.pages.wrong_method());
            let allow = if matches!(route, Route::Page) {
                "GET, HEAD"
            } else {
                "POST"
            };
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            return response;
        }
    };
    respond(&deps.pages, rendered)
}

/// The form body, when it is one and within [`MAX_BODY`].
fn form(request: &Request) -> Option<String> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    if bytes.len() > MAX_BODY {
        return None;
    }
    Some(String::from_utf8_lossy(bytes).into_owned())
}

/// The first value of `name` in a query string or form body; empty if none.
fn field(encoded: &str, name: &str) -> String {
    form_urlencoded::parse(encoded.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.chars().take(MAX_BODY).collect())
        .unwrap_or_default()
}

/// The page's own address with `token`, for the processor's "back" link.
fn page_url(request: &Request, path: &str, token: &str) -> String {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let loopback = host.starts_with("127.0.0.1") || host.starts_with("localhost");
    let scheme = if loopback { "http" } else { "https" };
    format!("{scheme}://{host}{path}?t={token}")
}

fn respond(pages: &Pages, page: Rendered) -> Response<Body> {
    let mut response = Response::new(Body::Text(page.html));
    *response.status_mut() = lambda_http::http::StatusCode::from_u16(page.status)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(csp) = HeaderValue::from_str(pages.csp()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(location) = page.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    response
}
