//! The customer page served on loopback for the browser: a small HTTP/1.1
//! server that hands each request to the `portal` function's own handler
//! (`pastdue_shared::handlers::portal::handle`), as its Function URL does
//! in AWS, with the clock the test sets.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request};
use pastdue_shared::handlers::portal::{self, PortalHttp};
use pastdue_shared::ports::card::CardSessions;
use pastdue_shared::ports::{AccountRepository, Publish};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The largest request head read.
const MAX_HEAD: usize = 16 * 1024;

/// A listener bound before the page is built (the emails need its address).
pub struct Bound {
    listener: TcpListener,
    /// `http://127.0.0.1:PORT/`: the page's address (`PORTAL_URL`).
    pub url: String,
}

pub async fn bind() -> Bound {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    Bound { listener, url }
}

/// The page's clock, set by the test.
#[derive(Clone)]
pub struct Clock(Arc<Mutex<DateTime<Utc>>>);

impl Clock {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(now)))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap() = now;
    }

    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Serves `deps` on `bound` until the test ends.
pub fn serve<R, B, C>(bound: Bound, deps: PortalHttp<R, B, C>, clock: Clock)
where
    R: AccountRepository + 'static,
    B: Publish + 'static,
    C: CardSessions + 'static,
{
    let deps = Arc::new(deps);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = bound.listener.accept().await else {
                return;
            };
            let deps = deps.clone();
            let clock = clock.clone();
            tokio::spawn(async move {
                let _ = one(stream, &deps, &clock).await;
            });
        }
    });
}

/// One request on one connection (then closed).
async fn one<R, B, C>(
    stream: TcpStream,
    deps: &PortalHttp<R, B, C>,
    clock: &Clock,
) -> std::io::Result<()>
where
    R: AccountRepository,
    B: Publish,
    C: CardSessions,
{
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("GET").to_owned(),
        parts.next().unwrap_or("/").to_owned(),
    );
    let mut builder = lambda_http::http::Request::builder()
        .method(method.as_str())
        .uri(target.as_str());
    let mut length = 0usize;
    let mut head = line.len();
    loop {
        let mut header = String::new();
        head += reader.read_line(&mut header).await?;
        let header = header.trim_end();
        if header.is_empty() || head > MAX_HEAD {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            }
            builder = builder.header(name, value);
        }
    }
    // Read at most one byte past the function's limit: enough to see it
    // is over.
    let mut body = vec![0; length.min(portal::MAX_BODY + 1)];
    reader.read_exact(&mut body).await?;
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::Binary(body)
    };
    let request: Request = builder
        .body(body)
        .unwrap_or_else(|_| lambda_http::http::Request::new(Body::Empty));
    let response = portal::handle(deps, &request, clock.now()).await;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status().as_u16(),
        response.status().canonical_reason().unwrap_or("")
    );
    let bytes: &[u8] = match response.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    for (name, value) in response.headers() {
        out.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        bytes.len()
    ));
    let mut stream = reader.into_inner();
    stream.write_all(out.as_bytes()).await?;
    stream.write_all(bytes).await?;
    stream.shutdown().await
}
