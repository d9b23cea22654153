//! The `ingest` function's HTTP boundary (a Lambda Function URL). So far it
//! routes and bounds requests; verification and mapping arrive with the
//! processor adapters.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// Processors send small JSON documents; anything larger is refused unread.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The processors `ingest` accepts deliveries from, by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processor {
    Stripe,
    Standard,
}

impl Processor {
    pub fn from_path(path: &str) -> Option<Self> {
        match path.trim_end_matches('/') {
            "/stripe" => Some(Self::Stripe),
            "/standard" => Some(Self::Standard),
            _ => None,
        }
    }
}

fn reply(status: StatusCode, outcome: &str, error: &str) -> Response<Body> {
    let body = json!({ "outcome": outcome, "error": error }).to_string();
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        lambda_http::http::header::CONTENT_TYPE,
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Answers one request. Never panics on what arrives over the network.
pub fn handle(request: &Request) -> Response<Body> {
    let Some(processor) = Processor::from_path(request.uri().path()) else {
        return reply(
            StatusCode::NOT_FOUND,
            "rejected",
            "unknown path: use /stripe or /standard",
        );
    };
    if request.method() != Method::POST {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "rejected",
            "webhooks are POSTed",
        );
    }
    if request.body().len() > MAX_BODY_BYTES {
        return reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            "rejected",
            "body over 256 KiB",
        );
    }
    tracing::warn!(
        ?processor,
        "delivery refused: processor adapters are not built yet"
    );
    reply(
        StatusCode::NOT_IMPLEMENTED,
        "not_built",
        "webhook verification is not built yet; the delivery was not recorded",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str, body: Vec<u8>) -> Request {
        let mut r = Request::new(Body::Binary(body));
        *r.method_mut() = method.parse().unwrap();
        *r.uri_mut() = format!("https://x.lambda-url.us-east-1.on.aws{path}")
            .parse()
            .unwrap();
        r
    }

    #[test]
    fn routes_and_bounds_requests() {
        assert_eq!(handle(&request("POST", "/nope", vec![])).status(), 404);
        assert_eq!(handle(&request("GET", "/stripe", vec![])).status(), 405);
        let big = vec![b'{'; MAX_BODY_BYTES + 1];
        assert_eq!(handle(&request("POST", "/standard", big)).status(), 413);
        let not_built = handle(&request("POST", "/stripe/", b"{}".to_vec()));
        assert_eq!(not_built.status(), 501);
        let Body::Text(text) = not_built.body() else {
            panic!("JSON body")
        };
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["outcome"], "not_built");
    }
}
