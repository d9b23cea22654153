//! The operator commands against DynamoDB Local, through the real binary.

mod harness;

use harness::Cli;
use serde_json::{Value, json};

const ACCOUNTS: &str = r#"[{"id": "acct_1", "name": "Whitfield Hosting", "timezone": "America/New_York", "exempt": false,
  "contacts": [{"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]},
               {"name": "Kevin Ortiz", "email": "kevin@whitfield.example", "roles": ["primary"]}]}]"#;

fn line(v: Value) -> String {
    v.to_string() + "\n"
}

#[tokio::test]
async fn onboarding_applying_and_showing_an_account() {
    let cli = Cli::new("cli-show").await;
    let accounts = cli.file("accounts.json", ACCOUNTS);
    assert_eq!(
        cli.ok(&["accounts", "import", &accounts]).trim(),
        "created 1, updated 0, unchanged 0"
    );
    assert_eq!(
        cli.ok(&["accounts", "import", &accounts]).trim(),
        "created 0, updated 0, unchanged 1"
    );

    let issued = json!({"id": "e1", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_1", "amount": "120.00", "currency": "USD", "due": "2026-01-15"});
    let paid = json!({"id": "e2", "at": "2026-01-10T15:00:00Z", "account": "acct_1", "type": "payment_succeeded", "invoice": "in_1", "amount": "20.00", "currency": "USD", "payment": "pi_1"});
    let events = cli.file(
        "events.jsonl",
        &(line(issued.clone()) + &line(paid.clone()) + &line(paid)),
    );
    assert_eq!(
        cli.ok(&["events", "apply", &events]).trim(),
        "applied 2, duplicate 1, rejected 0"
    );

    let shown = cli.json(&[
        "account",
        "show",
        "acct_1",
        "--date",
        "2026-01-20",
        "--json",
    ]);
    for key in [
        "id",
        "name",
        "status",
        "timezone",
        "exempt",
        "dpd",
        "hold_until",
        "contacts",
        "invoices",
        "episode",
    ] {
        assert!(shown.get(key).is_some(), "{key} missing from {shown}");
    }
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["dpd"], 5);
    assert_eq!(
        shown["contacts"][0],
        json!({"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]})
    );
    let inv = &shown["invoices"][0];
    for (k, v) in [
        ("id", "in_1"),
        ("currency", "USD"),
        ("amount", "120.00"),
        ("paid", "20.00"),
        ("outstanding", "100.00"),
        ("due", "2026-01-15"),
        ("status", "open"),
    ] {
        assert_eq!(inv[k], v, "{k}");
    }
    assert_eq!(inv["in_dispute"], false);
    let text = cli.ok(&["account", "show", "acct_1", "--date", "2026-01-20"]);
    assert!(
        text.contains("Whitfield Hosting (acct_1)")
            && text.contains("days past due on 2026-01-20: 5"),
        "{text}"
    );

    let listed = cli.json(&["account", "list", "--status", "active", "--json"]);
    assert_eq!(
        listed,
        json!([{"id": "acct_1", "name": "Whitfield Hosting", "status": "active"}])
    );
    assert_eq!(
        cli.json(&["account", "list", "--status", "suspended", "--json"]),
        json!([])
    );
}

#[tokio::test]
async fn an_invalid_events_file_applies_nothing() {
    let cli = Cli::new("cli-invalid").await;
    cli.ok(&["accounts", "import", &cli.file("accounts.json", ACCOUNTS)]);
    let good = json!({"id": "e1", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_1", "amount": "120.00", "currency": "USD", "due": "2026-01-15"});
    let bad = json!({"id": "e2", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_2", "amount": "12.x", "currency": "USD", "due": "2026-01-15"});
    let file = cli.file("bad.jsonl", &(line(good) + &line(bad)));
    let out = cli.run(&["events", "apply", &file]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("line 2") && err.contains("e2") && err.contains("amount"),
        "{err}"
    );
    let shown = cli.json(&["account", "show", "acct_1", "--json"]);
    assert_eq!(
        shown["invoices"],
        json!([]),
        "the valid first line was not applied either"
    );

    let unknown = cli.run(&["account", "show", "nobody", "--json"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8(unknown.stderr)
            .unwrap()
            .contains("no account nobody")
    );
    let stray = cli.file("stray.json", &json!([{"id": "x1", "at": "2026-01-01T15:00:00Z", "account": "acct_9", "type": "hold_released"}]).to_string());
    let out = cli.run(&["events", "apply", &stray]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an event for an unknown account is rejected"
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("rejected 1")
    );
}

#[tokio::test]
async fn operator_changes_land_in_the_timeline() {
    let cli = Cli::new("cli-ops").await;
    cli.ok(&["accounts", "import", &cli.file("accounts.json", ACCOUNTS)]);
    cli.ok(&["account", "set-timezone", "acct_1", "Asia/Kolkata"]);
    assert_eq!(
        cli.run(&["account", "set-timezone", "acct_1", "Mars/Base"])
            .status
            .code(),
        Some(2)
    );
    let said = cli.json(&["account", "exempt", "acct_1", "on", "--json"]);
    assert_eq!(said["ok"], true, "{said}");
    cli.ok(&[
        "contact",
        "add",
        "acct_1",
        "--name",
        "Esme Ortiz",
        "--email",
        "esme@whitfield.example",
        "--role",
        "escalation",
        "--role",
        "primary",
    ]);
    assert_eq!(
        cli.run(&[
            "contact",
            "add",
            "acct_1",
            "--name",
            "Esme",
            "--email",
            "esme@whitfield.example"
        ])
        .status
        .code(),
        Some(2),
        "already a contact"
    );
    cli.ok(&["contact", "remove", "acct_1", "kevin@whitfield.example"]);
    assert_eq!(
        cli.run(&["contact", "remove", "acct_1", "kevin@whitfield.example"])
            .status
            .code(),
        Some(2)
    );
    cli.ok(&[
        "hold",
        "place",
        "acct_1",
        "--until",
        "2099-01-31",
        "--reason",
        "Dana phoned: pays Friday",
    ]);

    let shown = cli.json(&["account", "show", "acct_1", "--json"]);
    assert_eq!(shown["timezone"], "Asia/Kolkata");
    assert_eq!(shown["exempt"], true);
    assert_eq!(shown["hold_until"], "2099-01-31");
    let emails: Vec<&str> = shown["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["dana@whitfield.example", "esme@whitfield.example"]);

    cli.ok(&["hold", "release", "acct_1"]);
    assert_eq!(
        cli.json(&["account", "show", "acct_1", "--json"])["hold_until"],
        Value::Null
    );
    let timeline = cli.ok(&["account", "timeline", "acct_1"]);
    for needle in [
        "time zone changed from America/New_York to Asia/Kolkata",
        "exempt",
        "contact added: Esme Ortiz",
        "contact removed: kevin@whitfield.example",
        "hold_placed until 2099-01-31: Dana phoned: pays Friday",
        "hold_released",
    ] {
        assert!(timeline.contains(needle), "{needle} not in\n{timeline}");
    }
}

#[tokio::test]
async fn export_and_import_through_the_command() {
    let source = Cli::new("cli-export").await;
    source.ok(&[
        "accounts",
        "import",
        &source.file("accounts.json", ACCOUNTS),
    ]);
    let issued = json!([{"id": "e1", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_1", "amount": "120.00", "currency": "USD", "due": "2026-01-15"}]);
    source.apply("e.json", issued);
    let dump = source.dir.join("dump.jsonl");
    let said = source.ok(&["export", "--out", dump.to_str().unwrap()]);
    assert!(said.starts_with("exported "), "{said}");

    let target = Cli::new("cli-import").await;
    let said = target.ok(&["import", "--in", dump.to_str().unwrap()]);
    assert!(said.contains("0 already present"), "{said}");
    assert_eq!(source.show(), target.show());
    let broken = target.file("broken.jsonl", "{\"PK\": {\"S\": \"ACCT#x\"}}\n");
    assert_eq!(
        target.run(&["import", "--in", &broken]).status.code(),
        Some(2),
        "an item without SK"
    );
}

#[tokio::test]
async fn accounts_link_gives_contacts_restored_without_email_links_theirs() {
    use pastdue_shared::ports::account_links::AccountLinks;
    let source = Cli::new("cli-link-source").await;
    source.ok(&[
        "accounts",
        "import",
        &source.file("accounts.json", ACCOUNTS),
    ]);
    let dump = source.dir.join("dump.jsonl");
    source.ok(&["export", "--out", dump.to_str().unwrap()]);
    // Items put back as they were: the account, but no email links.
    let target = Cli::new("cli-link").await;
    target.ok(&["import", "--in", dump.to_str().unwrap()]);
    let store = pastdue_shared::adapters::dynamodb::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&harness::support::sdk_config().await),
        pastdue_shared::config::TableName::parse(&target.table).unwrap(),
        pastdue_shared::domain::Policy::default(),
    );
    let linked = || store.linked_account("email:kevin@whitfield.example");
    assert_eq!(linked().await.unwrap(), None);
    let said = target.ok(&["accounts", "link"]);
    assert_eq!(said.trim(), "2 contact addresses of 1 accounts linked");
    assert_eq!(linked().await.unwrap().unwrap().as_str(), "acct_1");
    // Again: the same, nothing else.
    assert_eq!(target.ok(&["accounts", "link"]), said);
}

#[tokio::test]
async fn preview_says_what_the_run_would_do_and_changes_nothing() {
    let cli = Cli::new("cli-preview").await;
    let accounts = cli.file("accounts.json", ACCOUNTS);
    cli.ok(&["accounts", "import", &accounts]);
    let issued = json!({"id": "e1", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_1", "amount": "120.00", "currency": "USD", "due": "2026-01-15"});
    let events = cli.file("events.jsonl", &line(issued));
    cli.ok(&["events", "apply", &events]);
    let before = cli.json(&["account", "timeline", "acct_1", "--json"]);

    let friday = cli.json(&["preview", "--date", "2026-01-16", "--json"]);
    assert_eq!(friday.as_array().unwrap().len(), 1, "{friday}");
    assert_eq!(friday[0]["actions"][0]["action"], "reminder_1");
    assert_eq!(
        friday[0]["actions"][0]["to"],
        json!(["dana@whitfield.example"])
    );
    let saturday = cli.json(&["preview", "--date", "2026-01-17", "--json"]);
    assert_eq!(saturday[0]["nothing_because"], "weekend", "{saturday}");
    let text = cli.ok(&["preview", "--date", "2026-01-16"]);
    assert!(
        text.contains("reminder_1 to dana@whitfield.example"),
        "{text}"
    );
    assert!(text.contains("nothing was written or sent"), "{text}");

    // Nothing was stored: the same date still fires when previewed again.
    assert_eq!(
        cli.json(&["account", "timeline", "acct_1", "--json"]),
        before
    );
    let again = cli.json(&["preview", "--date", "2026-01-16", "--json"]);
    assert_eq!(again[0]["actions"][0]["action"], "reminder_1");
}

#[tokio::test]
async fn every_email_template_renders_for_review() {
    let cli = Cli::new("cli-render").await;
    let out = cli.dir.join("emails");
    let said = cli.ok(&["emails", "render", "--out", out.to_str().unwrap()]);
    assert!(said.starts_with("rendered 17 emails"), "{said}");
    for name in [
        "reminder_1",
        "reminder_2",
        "final_notice",
        "suspend",
        "reinstate",
        "cancel",
        "collections_notice",
        "payment_failed_notice",
        "card_expiring_notice",
        "direct_debit_stopped_notice",
        "promise_confirmed",
    ] {
        let html = std::fs::read_to_string(out.join(format!("{name}.html"))).unwrap();
        let text = std::fs::read_to_string(out.join(format!("{name}.txt"))).unwrap();
        assert!(text.starts_with("Subject: "), "{name}");
        for body in [&html, &text] {
            assert!(body.contains("Dear Dana Whitfield,"), "{name}: {body}");
            assert!(
                !body.contains("{{") && !body.contains("{%"),
                "{name}: unrendered"
            );
        }
    }
    for staff in [
        "dispute_alert",
        "collections",
        "undeliverable",
        "cut_off_unverified",
        "promise_noted",
        "staff_digest",
    ] {
        let text = std::fs::read_to_string(out.join(format!("{staff}.txt"))).unwrap();
        assert!(text.contains("Hello billing team,"), "{staff}: {text}");
    }
    let final_notice = std::fs::read_to_string(out.join("final_notice.txt")).unwrap();
    assert!(final_notice.contains("suspended on 5 February 2026"));
}
