//! Every function binary starts the Lambda runtime: each is run for real
//! against a minimal Lambda Runtime API served here, given invocations, and
//! its replies are checked.

mod gocardless_story;
#[allow(dead_code)] // what the story module builds on
mod ingest_harness;
mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use pastdue_shared::adapters::dynamodb::keys;
use pastdue_shared::domain::AccountId;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const FUNCTIONS: [&str; 11] = [
    "ingest",
    "portal",
    "invoice-issued",
    "payment-succeeded",
    "payment-failed",
    "card-expiring",
    "dispute-opened",
    "dispute-closed",
    "dunning",
    "notifier",
    "reconcile",
];

/// What a function reported for one invocation.
#[derive(Debug, Clone)]
enum Reply {
    Response(Value),
    Error(Value),
    InitError(Value),
}

/// Builds the function binaries once (cargo test builds only test targets).
fn binaries() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet"])
            .current_dir(support::repo_root());
        // `--bin`, not `-p`: the package selection `cargo lambda watch`
        // (and so `make demo`) builds with, so the binaries are built once.
        for f in FUNCTIONS {
            cmd.args(["--bin", f]);
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo build of the functions failed");
        // target/debug/deps/<this test> -> target/debug
        let exe = std::env::current_exe().unwrap();
        exe.parent().and_then(|p| p.parent()).unwrap().to_path_buf()
    })
    .clone()
}

async fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await.ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some((method, path, body))
}

/// Serves the Runtime API on one connection: hands out `events` in order,
/// forwards what the function reports, and leaves the last `next` pending.
type Queue = std::sync::Arc<tokio::sync::Mutex<Vec<Value>>>;

async fn serve(stream: TcpStream, queue: Queue, replies: mpsc::Sender<Reply>) {
    let mut reader = BufReader::new(stream);
    while let Some((method, path, body)) = read_request(&mut reader).await {
        let parsed = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let stream = reader.get_mut();
        if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let next = { queue.lock().await.pop() };
            let Some(event) = next else {
                std::future::pending::<()>().await;
                return;
            };
            let body = event.to_string();
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 60_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 lambda-runtime-aws-request-id: req-1\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:test\r\n\
                 content-length: {}\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
        } else {
            let reply = if path.ends_with("/response") {
                Reply::Response(parsed)
            } else if path.ends_with("/init/error") {
                Reply::InitError(parsed)
            } else {
                Reply::Error(parsed)
            };
            let _ = replies.send(reply).await;
            let _ = stream
                .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}")
                .await;
        }
    }
}

/// Runs one function binary with `events` and returns its replies, in order.
async fn invoke(function: &str, table: &str, events: Vec<Value>) -> Vec<Reply> {
    invoke_with(function, table, &[], events).await
}

/// [`invoke`], with more environment variables.
async fn invoke_with(
    function: &str,
    table: &str,
    env: &[(&str, &str)],
    events: Vec<Value>,
) -> Vec<Reply> {
    let count = events.len();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queue = events;
    queue.reverse();
    let queue = std::sync::Arc::new(tokio::sync::Mutex::new(queue));
    let (reply_tx, mut reply_rx) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, queue.clone(), reply_tx.clone()));
        }
    });
    let mut child = tokio::process::Command::new(binaries().join(function))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("TABLE_NAME", table)
        // Actions are recorded, not delivered: no `cargo lambda watch` here.
        .env("EVENT_BUS", "none")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {function}: {e}"));
    let mut replies = Vec::new();
    while replies.len() < count {
        let reply = tokio::time::timeout(Duration::from_secs(30), reply_rx.recv())
            .await
            .unwrap_or_else(|_| panic!("{function} did not reply within 30 s"))
            .expect("reply channel open");
        if let Reply::InitError(e) = &reply {
            panic!("{function} failed to initialise: {e}");
        }
        replies.push(reply);
    }
    let _ = child.kill().await;
    replies
}

fn eventbridge(detail_type: &str) -> Value {
    json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type, "source": "pastdue.stripe",
        "account": "000000000000", "time": "2026-01-16T09:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"id": "evt_1", "account": "cus_1"}
    })
}

#[tokio::test]
async fn dunning_reads_the_table_through_the_runtime() {
    let (client, table) = support::fresh_table("fn-dunning").await;
    let account = AccountId::parse("cus_late").unwrap();
    client
        .put_item()
        .table_name(table.as_str())
        .item(keys::PK, AttributeValue::S(keys::account_pk(&account)))
        .item(keys::SK, AttributeValue::S("INV#in_1".into()))
        .item(
            keys::GSI1_PK,
            AttributeValue::S(keys::due_shard_pk(keys::due_shard(&account))),
        )
        .item(
            keys::GSI1_SK,
            AttributeValue::S(keys::due_sort_key(
                "2026-01-15".parse().unwrap(),
                &account,
                "in_1",
            )),
        )
        .item(keys::TZ_ATTRIBUTE, AttributeValue::S("UTC".into()))
        .send()
        .await
        .unwrap();
    let schedule: Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo_root().join("events/schedule.json")).unwrap(),
    )
    .unwrap();
    let replies = invoke(
        "dunning",
        table.as_str(),
        vec![schedule, json!({"nope": 1})],
    )
    .await;
    match &replies[..] {
        [Reply::Response(ok), Reply::Error(bad)] => {
            assert_eq!(ok["candidates"], 1, "{ok}");
            assert_eq!(ok["due_before"], "2026-01-16", "{ok}");
            assert_eq!(bad["errorType"], "BadEvent", "{bad}");
        }
        other => panic!("unexpected replies {other:?}"),
    }
}

#[tokio::test]
async fn ingest_answers_function_url_requests() {
    let request = |method: &str, path: &str| {
        json!({
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json", "host": "abc.lambda-url.us-east-1.on.aws"},
            "requestContext": {
                "accountId": "anonymous", "apiId": "abc", "domainName": "abc.lambda-url.us-east-1.on.aws",
                "domainPrefix": "abc", "requestId": "r1", "routeKey": "$default", "stage": "$default",
                "time": "16/Jan/2026:09:00:00 +0000", "timeEpoch": 1_768_554_000_000_u64,
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"}
            },
            "body": "{}", "isBase64Encoded": false
        })
    };
    let mut undecodable = request("POST", "/stripe");
    undecodable["isBase64Encoded"] = json!(true);
    undecodable["body"] = json!("%%% not base64 %%%");
    let replies = invoke(
        "ingest",
        "unused-table",
        vec![
            request("POST", "/elsewhere"),
            undecodable,
            request("GET", "/stripe"),
        ],
    )
    .await;
    // However the runtime treats a body it cannot decode, the function
    // answers it and lives on to answer the next request.
    assert!(
        matches!(&replies[1], Reply::Response(r) if r["statusCode"].as_u64().is_some_and(|c| (400..500).contains(&c)))
            || matches!(&replies[1], Reply::Error(_)),
        "{:?}",
        replies[1]
    );
    let replies = [replies[0].clone(), replies[2].clone()];
    let statuses: Vec<Value> = replies
        .iter()
        .map(|r| match r {
            Reply::Response(v) => v["statusCode"].clone(),
            other => panic!("ingest must answer, not fail: {other:?}"),
        })
        .collect();
    assert_eq!(statuses, [json!(404), json!(405)]);
}

#[tokio::test]
async fn ingest_takes_a_signed_gocardless_batch_reading_its_payment_from_the_api() {
    let (client, table) = support::fresh_table("fn-gocardless").await;
    let story = gocardless_story::Story::new();
    story.seed();
    let body = gocardless_story::batch(&[story.event("payments", "created", json!({}))]);
    let signature = pastdue_shared::processors::gocardless::signature::signature_header(
        gocardless_story::SECRET,
        &body,
    );
    let delivery = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/gocardless", "rawQueryString": "",
        "headers": {"content-type": "application/json", "webhook-signature": signature,
            "host": "abc.lambda-url.us-east-1.on.aws"},
        "requestContext": {
            "accountId": "anonymous", "apiId": "abc", "domainName": "abc.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc", "requestId": "r1", "routeKey": "$default", "stage": "$default",
            "time": "16/Jan/2026:09:00:00 +0000", "timeEpoch": 1_768_554_000_000_u64,
            "http": {"method": "POST", "path": "/gocardless", "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1", "userAgent": "gocardless-webhook-service/1.1"}
        },
        "body": String::from_utf8(body).unwrap(), "isBase64Encoded": false
    });
    let base = gocardless_story::api_base();
    let replies = invoke_with(
        "ingest",
        table.as_str(),
        &[
            ("GOCARDLESS_WEBHOOK_SECRET", gocardless_story::SECRET),
            ("GOCARDLESS_ACCESS_TOKEN", gocardless_story::TOKEN),
            ("GOCARDLESS_API_BASE", &base),
            ("PAYPAL_WEBHOOK_ID", "1JE4291016473214C"),
        ],
        vec![delivery],
    )
    .await;
    let Reply::Response(response) = &replies[0] else {
        panic!("ingest must answer: {:?}", replies[0]);
    };
    assert_eq!(response["statusCode"], 200, "{response}");
    let answer: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    // Published (the bus here records; the per-event function applies).
    assert_eq!(answer["outcome"], "accepted", "{answer}");
    assert_eq!(
        gocardless_story::api_requests(&format!("/payments/{}", story.payment)).len(),
        1
    );
    // The customer was made an account, linked to its GoCardless id.
    let store = pastdue_shared::adapters::dynamodb::DynamoStore::new(
        client,
        table,
        pastdue_shared::domain::Policy::default(),
    );
    let account = AccountId::parse(&story.account()).unwrap();
    assert!(store.load(&account).await.unwrap().is_some());
}

#[tokio::test]
async fn portal_answers_function_url_requests() {
    let request = |method: &str, path: &str, query: &str| {
        json!({
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
            "headers": {"host": "abc.lambda-url.us-east-1.on.aws"},
            "requestContext": {
                "accountId": "anonymous", "apiId": "abc", "domainName": "abc.lambda-url.us-east-1.on.aws",
                "domainPrefix": "abc", "requestId": "r1", "routeKey": "$default", "stage": "$default",
                "time": "16/Jan/2026:09:00:00 +0000", "timeEpoch": 1_768_554_000_000_u64,
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"}
            },
            "isBase64Encoded": false
        })
    };
    let replies = invoke_with(
        "portal",
        "unused-table",
        &[("PORTAL_SECRET", "a-portal-secret-of-at-least-32-characters")],
        vec![
            request("GET", "/", "t=forged.link"),
            request("GET", "/promise", "t=x&until=2026-01-20"),
        ],
    )
    .await;
    let answers: Vec<(Value, Value)> = replies
        .iter()
        .map(|r| match r {
            Reply::Response(v) => (v["statusCode"].clone(), v["headers"].clone()),
            other => panic!("portal must answer, not fail: {other:?}"),
        })
        .collect();
    assert_eq!(answers[0].0, json!(404));
    assert_eq!(answers[1].0, json!(405));
    for (_, headers) in &answers {
        assert_eq!(headers["x-frame-options"], "DENY", "{headers}");
        assert_eq!(headers["cache-control"], "no-store", "{headers}");
    }
}

fn bus_event(detail: Value) -> Value {
    let mut e = eventbridge(detail["type"].as_str().unwrap());
    e["detail"] = detail;
    e
}

#[tokio::test]
async fn each_event_handler_applies_what_its_route_sends_it() {
    let (client, table) = support::fresh_table("fn-handlers").await;
    let store = pastdue_shared::adapters::dynamodb::DynamoStore::new(
        client,
        table.clone(),
        pastdue_shared::domain::Policy::default(),
    );
    let account = pastdue_shared::domain::Account::from_json(
        &json!({"id": "acct_fn", "name": "Function Test", "contacts": []}),
    )
    .unwrap();
    support::accounts(&store)
        .upsert_account(&account)
        .await
        .unwrap();
    let at = "2026-01-10T10:00:00Z";
    let details = [
        (
            "invoice-issued",
            json!({"id": "ev1", "at": at, "account": "acct_fn", "type": "invoice_issued", "invoice": "in_1", "amount": "100.00", "currency": "USD", "due": "2026-01-15"}),
        ),
        (
            "payment-succeeded",
            json!({"id": "ev2", "at": at, "account": "acct_fn", "type": "payment_succeeded", "invoice": "in_1", "amount": "50.00", "currency": "USD", "payment": "pi_1"}),
        ),
        (
            "payment-failed",
            json!({"id": "ev3", "at": at, "account": "acct_fn", "type": "payment_failed", "invoice": "in_1", "amount": "50.00", "currency": "USD", "reason": "declined"}),
        ),
        (
            "card-expiring",
            json!({"id": "ev4", "at": at, "account": "acct_fn", "type": "card_expiring", "card": "card_1", "exp_month": 2, "exp_year": 2026}),
        ),
        (
            "dispute-opened",
            json!({"id": "ev5", "at": at, "account": "acct_fn", "type": "dispute_opened", "invoice": "in_1", "dispute": "dp_1", "amount": "50.00", "currency": "USD"}),
        ),
        (
            "dispute-closed",
            json!({"id": "ev6", "at": at, "account": "acct_fn", "type": "dispute_closed", "dispute": "dp_1", "outcome": "won"}),
        ),
    ];
    for (function, detail) in details {
        let wrong = bus_event(
            json!({"id": "evx", "at": at, "account": "acct_fn", "type": "hold_released"}),
        );
        let wrong = if function == "invoice-issued" {
            eventbridge("payment_failed")
        } else {
            wrong
        };
        let replies = invoke(
            function,
            table.as_str(),
            vec![bus_event(detail.clone()), bus_event(detail), wrong],
        )
        .await;
        match &replies[..] {
            [
                Reply::Response(first),
                Reply::Response(again),
                Reply::Error(bad),
            ] => {
                assert_eq!(first["outcome"], "applied", "{function}: {first}");
                assert_eq!(again["outcome"], "duplicate", "{function}: {again}");
                assert_eq!(bad["errorType"], "BadEvent", "{function}: {bad}");
            }
            other => panic!("{function}: unexpected replies {other:?}"),
        }
    }
    let shown = store
        .load(&pastdue_shared::domain::AccountId::parse("acct_fn").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        shown.state.invoices()[0].paid.to_string(),
        "50.00",
        "paid, disputed, won back"
    );
}

#[tokio::test]
async fn the_notifier_emails_each_recipient_once_through_ses() {
    let (_, table) = support::fresh_table("fn-notifier").await;
    let endpoint = support::local_endpoint("AWS_ENDPOINT_URL_SESV2");
    let tag = table.as_str().replace('_', "-");
    let dana = format!("dana+{tag}@whitfield.example");
    let kevin = format!("kevin+{tag}@whitfield.example");
    let message = json!({
        "id": "acct_1:2026-01-16:final_notice", "action": "final_notice", "kind": "warning",
        "account": "acct_1", "account_name": "Whitfield Hosting", "timezone": "UTC",
        "date": "2026-01-29", "dpd": 14, "episode": "2026-01-16", "invoices": ["in_1"],
        "amounts": [{"invoice": "in_1", "owed": "1250.00", "currency": "USD", "due": "2026-01-15", "days_overdue": 14}],
        "recipients": [{"name": "Dana Whitfield", "email": dana}, {"name": "Kevin Ortiz", "email": kevin}],
        "suspend_on": "2026-02-05", "reason": "final_notice: 14 days past due", "cause": "run 2026-01-29"
    });
    let envelope = json!({
        "version": "0", "id": "1", "detail-type": "final_notice", "source": "pastdue.engine",
        "account": "000000000000", "time": "2026-01-29T09:00:00Z", "region": "us-east-1",
        "resources": [], "detail": message
    });
    let replies = invoke(
        "notifier",
        table.as_str(),
        vec![envelope.clone(), envelope, json!({"detail": {"nope": 1}})],
    )
    .await;
    match &replies[..] {
        [
            Reply::Response(first),
            Reply::Response(again),
            Reply::Error(bad),
        ] => {
            assert_eq!(first["sent"], 2, "{first}");
            assert_eq!(
                (again["sent"].as_u64(), again["skipped"].as_u64()),
                (Some(0), Some(2)),
                "{again}"
            );
            assert_eq!(bad["errorType"], "BadEvent", "{bad}");
        }
        other => panic!("notifier: unexpected replies {other:?}"),
    }
    for (address, name, other) in [
        (&dana, "Dana Whitfield", "Kevin"),
        (&kevin, "Kevin Ortiz", "Dana"),
    ] {
        let mails = support::ses_messages_to(&endpoint, address);
        assert_eq!(mails.len(), 1, "one email to {address}");
        let body = mails[0]["body"].as_str().unwrap();
        assert!(body.contains(&format!("Dear {name},")), "{body}");
        assert!(
            !body.contains(&format!("Dear {other}")),
            "greets only its own reader"
        );
        assert!(
            body.contains("1,250.00 USD") && body.contains("5 February 2026"),
            "{body}"
        );
        assert!(
            mails[0]["subject"]
                .as_str()
                .unwrap()
                .contains("5 February 2026")
        );
    }
}

/// `reconcile` through the runtime: it reads its key at init, lists what
/// the (loopback) Stripe API holds since its checkpoint, and takes it
/// through the webhook's path: the customer becomes an account.
#[tokio::test]
async fn reconcile_reads_stripe_and_takes_what_the_webhook_missed() {
    let (client, table) = support::fresh_table("fn-reconcile").await;
    let base = support::local_endpoint("STRIPE_API_BASE");
    let key = format!("rk_test_fn{}", fastrand::u32(..));
    let schedule: Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo_root().join("events/schedule.json")).unwrap(),
    )
    .unwrap();
    let now = chrono::DateTime::parse_from_rfc3339(schedule["time"].as_str().unwrap())
        .unwrap()
        .timestamp();
    let mut finalized: Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo_root().join("events/stripe/invoice.finalized.json"))
            .unwrap(),
    )
    .unwrap();
    finalized["created"] = (now - 86_400).into();
    ureq::post(&format!("{base}/_test/events"))
        .header("Authorization", &format!("Bearer {key}"))
        .send_json(json!([finalized]))
        .unwrap();
    let replies = invoke_with(
        "reconcile",
        table.as_str(),
        &[("STRIPE_API_KEY", &key), ("STRIPE_API_BASE", &base)],
        vec![schedule, json!({"nope": 1})],
    )
    .await;
    match &replies[..] {
        [Reply::Response(ok), Reply::Error(bad)] => {
            assert_eq!(
                (ok["taken"].as_u64(), ok["finished"].as_bool()),
                (Some(1), Some(true)),
                "{ok}"
            );
            assert_eq!(bad["errorType"], "BadEvent", "{bad}");
        }
        other => panic!("unexpected replies {other:?}"),
    }
    let customer = finalized["data"]["object"]["customer"].as_str().unwrap();
    let account = client
        .get_item()
        .table_name(table.as_str())
        .key(keys::PK, AttributeValue::S(format!("ACCT#{customer}")))
        .key(keys::SK, AttributeValue::S(keys::STATE_SK.into()))
        .send()
        .await
        .unwrap();
    assert!(account.item().is_some(), "the customer became an account");
}
