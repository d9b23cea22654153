//! `infra/template.yaml` grants each function only what its code calls
//! (least privilege), and deploys nothing that can lose an event silently.

use std::collections::{BTreeMap, BTreeSet};

use pastdue_shared::routing::ROUTES;
use serde_yaml::Value;

fn template() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn functions(t: &Value) -> Vec<(String, &Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
        .map(|r| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap()
                .to_owned();
            (binary, r)
        })
        .collect()
}

/// `!If [condition, a, b]` grants a or b: count both.
fn untag(v: &Value) -> Vec<&Value> {
    match v {
        Value::Tagged(t) if t.tag == "If" => t.value.as_sequence().unwrap()[1..].iter().collect(),
        other => vec![other],
    }
}

/// Every IAM statement a function's `Policies` can grant.
fn statements(function: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for policy in function["Properties"]["Policies"]
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        for p in untag(policy) {
            assert!(
                p.is_mapping()
                    || p.as_str() == Some("AWS::NoValue")
                    || matches!(p, Value::Tagged(_)),
                "only inline statements, no managed or SAM policy templates: {p:?}"
            );
            for s in p["Statement"]
                .as_sequence()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                out.extend(untag(s).into_iter().filter(|s| s.is_mapping()));
            }
        }
    }
    out
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn actions(s: &Value) -> Vec<String> {
    strings(&s["Action"])
}

fn leading_keys(s: &Value) -> Vec<String> {
    strings(&s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
}

/// What taking a processor's deliveries needs (the delivery path, and the
/// secret or key read from SSM at init): `ingest`, `reconcile`, and
/// `dunning`'s check before a cut-off alike.
const DELIVERY_PATH: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
    "events:PutEvents",
    "ssm:GetParameter",
];

fn allowed(binary: &str) -> (&'static [&'static str], &'static [&'static str]) {
    // (actions, partition-key prefixes it may write)
    match binary {
        "ingest" => (DELIVERY_PATH, &["ACCT#*", "DLV#*", "LINK#*"]),
        "payment-succeeded" => (
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "events:PutEvents",
            ],
            &["ACCT#*", "LINK#*"],
        ),
        // The per-kind handlers: the functions the bus routes events to.
        h if ROUTES.iter().any(|r| r.function == h) => (
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "events:PutEvents",
            ],
            &["ACCT#*"],
        ),
        // The runs, and (with the Stripe key) the check before a cut-off:
        // what Stripe says goes through the webhook's path and is applied
        // in the run's own process (payment links included).
        "dunning" => (DELIVERY_PATH, &["ACCT#*", "DLV#*", "LINK#*", "RUN#*"]),
        // The webhook's path, its own checkpoint, and the Stripe key.
        "reconcile" => (DELIVERY_PATH, &["ACCT#*", "DLV#*", "LINK#*", "RECONCILE#*"]),
        // Writes its mail log only: never an account, never an invoice.
        // Reads the portal secret, to sign the links in its emails.
        "notifier" => (
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "events:PutEvents",
                "ses:SendEmail",
                "ssm:GetParameter",
            ],
            &["MAIL#*"],
        ),
        // The public customer page: reads one account, places holds through
        // the bus, reads its link secret (and the Stripe key). Writes nothing.
        "portal" => (
            &["dynamodb:Query", "events:PutEvents", "ssm:GetParameter"],
            &[],
        ),
        other => panic!("no allow-list for function {other}: add one"),
    }
}

#[test]
fn each_function_is_granted_exactly_its_allow_list() {
    let t = template();
    let fns = functions(&t);
    assert_eq!(fns.len(), 11, "every function binary has an allow-list");
    for (binary, f) in &fns {
        let (expected_actions, expected_writes) = allowed(binary);
        let mut granted = BTreeSet::new();
        let mut writes = BTreeSet::new();
        for s in statements(f) {
            assert_eq!(s["Effect"], "Allow", "{binary}: {s:?}");
            let resources = format!("{:?}", s["Resource"]);
            assert!(
                !s["Resource"].is_null() && !resources.contains("String(\"*\")"),
                "{binary}: every statement names its resources: {s:?}"
            );
            for a in actions(s) {
                assert!(!a.contains('*'), "{binary}: no wildcard action: {a}");
                if a == "dynamodb:PutItem" || a == "dynamodb:UpdateItem" {
                    let keys = leading_keys(s);
                    assert!(
                        !keys.is_empty(),
                        "{binary}: a table write is limited to partition-key prefixes: {s:?}"
                    );
                    writes.extend(keys);
                }
                granted.insert(a);
            }
        }
        let expected: BTreeSet<String> = expected_actions.iter().map(|a| (*a).to_owned()).collect();
        assert_eq!(granted, expected, "{binary}: granted actions");
        let expected: BTreeSet<String> = expected_writes.iter().map(|k| (*k).to_owned()).collect();
        assert_eq!(writes, expected, "{binary}: writable partitions");
    }
}

/// The (source, detail-types) pairs a function may put on the bus; an empty
/// list of types means any.
fn publishes(binary: &str) -> Vec<(&'static str, Vec<&'static str>)> {
    match binary {
        "ingest" => vec![
            ("pastdue.stripe", vec![]),
            ("pastdue.standard", vec![]),
            ("pastdue.paypal", vec![]),
            ("pastdue.gocardless", vec![]),
            ("pastdue.engine", vec!["dispute_alert"]),
        ],
        "reconcile" => vec![
            ("pastdue.stripe", vec![]),
            ("pastdue.engine", vec!["dispute_alert"]),
        ],
        "notifier" => vec![("pastdue.notifier", vec!["contact_undeliverable"])],
        "portal" => vec![("pastdue.portal", vec!["hold_placed"])],
        _ => vec![("pastdue.engine", vec![])],
    }
}

#[test]
fn each_function_puts_on_the_bus_only_its_own_sources() {
    let t = template();
    for (binary, f) in functions(&t) {
        let mut granted = Vec::new();
        for s in statements(f) {
            if actions(s).iter().any(|a| a.starts_with("events:")) {
                let c = &s["Condition"]["StringEquals"];
                let sources = strings(&c["events:source"]);
                assert!(!sources.is_empty(), "{binary}: PutEvents limited by source");
                let types = strings(&c["events:detail-type"]);
                for source in sources {
                    granted.push((source, types.clone()));
                }
            }
        }
        granted.sort();
        let mut expected: Vec<(String, Vec<String>)> = publishes(&binary)
            .into_iter()
            .map(|(s, t)| (s.to_owned(), t.into_iter().map(str::to_owned).collect()))
            .collect();
        expected.sort();
        assert_eq!(granted, expected, "{binary}");
    }
}

#[test]
fn only_the_notifier_sends_email_and_only_what_the_run_needs_reads_the_index() {
    let t = template();
    let mut ses: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (binary, f) in functions(&t) {
        for s in statements(f) {
            let acts = actions(s);
            if acts.iter().any(|a| a.starts_with("ses:")) {
                ses.entry(binary.clone())
                    .or_default()
                    .extend(acts.iter().cloned());
                let resources = format!("{:?}", s["Resource"]);
                assert!(
                    resources.contains(":identity/") && resources.contains(":configuration-set/"),
                    "SendEmail on the sender's identity and the configuration set only: {resources}"
                );
            }
            let resources = format!("{:?}", s["Resource"]);
            if resources.contains("/index/") {
                assert_eq!(binary, "dunning", "only the run queries an index");
                assert_eq!(acts, ["dynamodb:Query"]);
            }
        }
    }
    assert_eq!(
        ses,
        BTreeMap::from([("notifier".to_owned(), vec!["ses:SendEmail".to_owned()])]),
        "ingest and the handlers cannot send email"
    );
}

#[test]
fn nothing_fails_silently() {
    let t = template();
    for (binary, f) in functions(&t) {
        let p = &f["Properties"];
        assert!(
            !p["ReservedConcurrentExecutions"].is_null(),
            "{binary}: bounded concurrency"
        );
        assert!(
            !p["LoggingConfig"]["LogGroup"].is_null(),
            "{binary}: its own log group, with retention"
        );
        // Ingest and the portal answer their Function URLs synchronously.
        let asynchronous = !["ingest", "portal"].contains(&binary.as_str());
        if asynchronous {
            assert_eq!(
                p["DeadLetterQueue"]["Type"], "SQS",
                "{binary}: events it fails on are parked"
            );
            assert!(!p["EventInvokeConfig"]["MaximumRetryAttempts"].is_null());
        }
        for (name, e) in p["Events"].as_mapping().into_iter().flatten() {
            let kind = e["Type"].as_str().unwrap();
            assert!(
                ["EventBridgeRule", "ScheduleV2"].contains(&kind),
                "{binary}: {kind}"
            );
            assert!(
                !e["Properties"]["DeadLetterConfig"]["Arn"].is_null(),
                "{binary} {name:?}: a dead-letter queue for what cannot be delivered"
            );
            assert!(
                !e["Properties"]["RetryPolicy"].is_null(),
                "{binary} {name:?}: an explicit retry policy"
            );
        }
    }
    let resources = t["Resources"].as_mapping().unwrap();
    let alarmed: BTreeSet<String> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|r| format!("{:?}", r["Properties"]["Dimensions"][0]["Value"]))
        .collect();
    for (id, r) in resources {
        let id = id.as_str().unwrap();
        if r["Type"] == "AWS::SQS::Queue" {
            assert!(
                alarmed
                    .iter()
                    .any(|a| a.contains(&format!("\"{id}.QueueName\""))),
                "an alarm watches queue {id}"
            );
        }
        if r["Type"] == "AWS::Serverless::Function" {
            for metric in ["Errors", "Throttles"] {
                let alarm = &resources[&Value::from(format!("{id}{metric}Alarm"))];
                assert_eq!(alarm["Properties"]["MetricName"], metric, "{id}");
            }
        }
        if r["Type"] == "AWS::Logs::LogGroup" {
            assert!(!r["Properties"]["RetentionInDays"].is_null(), "{id}");
        }
        for skip in r["Metadata"]["checkov"]["skip"]
            .as_sequence()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let reason = skip["comment"].as_str().unwrap_or_default();
            assert!(
                reason.len() > 40,
                "{id}: checkov skip {:?} needs a written reason",
                skip["id"]
            );
        }
    }
}

/// The customer page is public (its links are signed, not IAM): it may read
/// account partitions only, put only `hold_placed` as `pastdue.portal`, and
/// read only its link secret and the Stripe key; its concurrency is the
/// page's rate limit. The notifier signs the links with the same secret.
#[test]
fn the_portal_reads_one_account_and_places_only_holds() {
    let t = template();
    let fns = functions(&t);
    let function = |name: &str| {
        fns.iter()
            .find(|(binary, _)| binary == name)
            .map(|(_, f)| *f)
            .unwrap_or_else(|| panic!("no {name} function"))
    };
    let portal = function("portal");
    let p = &portal["Properties"];
    assert_eq!(p["FunctionUrlConfig"]["AuthType"], "NONE");
    assert!(
        matches!(&p["ReservedConcurrentExecutions"],
            Value::Tagged(t) if t.tag == "Ref" && t.value == "PortalReservedConcurrency"),
        "the page's rate limit is a parameter"
    );
    let env = &p["Environment"]["Variables"];
    for var in [
        "PORTAL_SECRET_PARAM",
        "PAY_URL",
        "CARD_URL",
        "SENDER_EMAIL",
        "STRIPE_API_KEY_PARAM",
    ] {
        assert!(!env[var].is_null(), "portal: {var}");
    }
    assert!(
        format!("{:?}", env["STRIPE_API_KEY_PARAM"]).contains("HasStripeApiKey"),
        "portal: the Stripe key only when it is configured"
    );
    for s in statements(portal) {
        let acts = actions(s);
        let resources = format!("{:?}", s["Resource"]);
        if acts.iter().any(|a| a.starts_with("dynamodb:")) {
            assert!(
                acts.iter()
                    .all(|a| a == "dynamodb:Query" || a == "dynamodb:GetItem"),
                "portal: reads only: {acts:?}"
            );
            assert!(!resources.contains("/index/"), "portal: no index");
            assert_eq!(
                leading_keys(s),
                ["ACCT#*"],
                "portal: account partitions only"
            );
        }
        if acts.iter().any(|a| a.starts_with("events:")) {
            let c = &s["Condition"]["StringEquals"];
            assert_eq!(strings(&c["events:source"]), ["pastdue.portal"]);
            assert_eq!(strings(&c["events:detail-type"]), ["hold_placed"]);
        }
        if acts.iter().any(|a| a.starts_with("ssm:")) {
            assert!(
                resources.contains("${PortalSecretParam}")
                    || resources.contains("${StripeApiKeyParam}"),
                "portal: its link secret and the Stripe key only: {resources}"
            );
        }
    }
    let notifier = function("notifier");
    let env = &notifier["Properties"]["Environment"]["Variables"];
    assert!(format!("{:?}", env["PORTAL_URL"]).contains("PortalFunctionUrl.FunctionUrl"));
    assert!(format!("{:?}", env["PORTAL_SECRET_PARAM"]).contains("PortalSecretParam"));
    let reads: Vec<String> = statements(notifier)
        .into_iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("ssm:")))
        .map(|s| format!("{:?}", s["Resource"]))
        .collect();
    assert!(
        !reads.is_empty() && reads.iter().all(|r| r.contains("${PortalSecretParam}")),
        "notifier: reads the portal secret only: {reads:?}"
    );
    assert!(
        format!("{:?}", t["Outputs"]["PortalUrl"]["Value"])
            .contains("PortalFunctionUrl.FunctionUrl"),
        "the page's URL is an output"
    );
}

#[test]
fn the_table_keeps_every_customer_record() {
    let t = template();
    let table = &t["Resources"]["Table"];
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(p["DeletionProtectionEnabled"], true);
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(p["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(p["TimeToLiveSpecification"]["Enabled"], true);
}

/// The alarms on log metric filters watch what the code really logs: each
/// `$.message = "..."` and each `$.field` a filter names is in the source of
/// the function whose log group it reads (its handler, for `ingest` the
/// delivery path it takes deliveries through, and for `dunning` the daily
/// run of each account).
#[test]
fn log_alarms_match_what_the_code_logs() {
    let t = template();
    let source = |file: &str| {
        let read = |path: &str| {
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
                .unwrap()
        };
        let mut code = read(&format!("src/handlers/{file}"));
        if file == "ingest.rs" {
            code.push_str(&read("src/services/deliver.rs"));
        }
        if file == "dunning.rs" {
            code.push_str(&read("src/services/daily_run.rs"));
        }
        code
    };
    let mut filters = 0;
    for (id, r) in t["Resources"].as_mapping().unwrap() {
        if r["Type"] != "AWS::Logs::MetricFilter" {
            continue;
        }
        filters += 1;
        let p = &r["Properties"];
        let group = format!("{:?}", p["LogGroupName"]);
        let code = match () {
            _ if group.contains("IngestFunctionLogs") => source("ingest.rs"),
            _ if group.contains("DunningFunctionLogs") => source("dunning.rs"),
            _ if group.contains("NotifierFunctionLogs") => source("notifier.rs"),
            _ => panic!("{id:?}: which function logs to {group}?"),
        };
        let pattern = p["FilterPattern"].as_str().unwrap();
        for part in pattern.split("$.").skip(1) {
            let field: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if field == "message" {
                let message = part.split('"').nth(1).unwrap();
                assert!(
                    code.contains(&format!("\"{message}\"")),
                    "{id:?}: {message:?} is never logged"
                );
            } else {
                assert!(code.contains(&field), "{id:?}: no field {field} is logged");
            }
        }
        let alarmed = t["Resources"].as_mapping().unwrap().values().any(|a| {
            a["Type"] == "AWS::CloudWatch::Alarm"
                && a["Properties"]["MetricName"] == p["MetricTransformations"][0]["MetricName"]
                && !a["Properties"]["AlarmActions"].is_null()
        });
        assert!(alarmed, "{id:?}: an alarm with actions watches its metric");
    }
    assert!(filters >= 5, "{filters}");
}
