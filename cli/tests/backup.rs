//! Operator data is never lost, through the real binary against DynamoDB
//! Local: re-importing accounts merges, and a restore brings an account
//! back as a whole without republishing anything.

mod harness;

use aws_sdk_dynamodb::types::AttributeValue;
use harness::{Cli, support};
use serde_json::{Value, json};

/// The onboarding file a billing system exports: no time zone, no
/// exemption, two contacts.
const ACCOUNTS: &str = r#"[{"id": "acct_1", "name": "Whitfield Hosting",
  "contacts": [{"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]},
               {"name": "Kevin Ortiz", "email": "kevin@whitfield.example", "roles": ["primary"]}]}]"#;

#[tokio::test]
async fn reimporting_accounts_keeps_what_operators_and_mail_feedback_changed() {
    let cli = Cli::new("cli-merge").await;
    let file = cli.file("accounts.json", ACCOUNTS);
    cli.ok(&["accounts", "import", &file]);
    cli.ok(&["account", "set-timezone", "acct_1", "Europe/Dublin"]);
    cli.ok(&["account", "exempt", "acct_1", "on"]);
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
    ]);
    cli.apply(
        "bounce.json",
        json!([{"id": "ses:m1:Bounce:dana", "at": "2026-01-10T10:00:00Z", "account": "acct_1",
                "type": "contact_undeliverable", "email": "dana@whitfield.example", "reason": "bounced (NoEmail)"}]),
    );
    let before = cli.show();

    // The same file again: nothing it does not carry is lost.
    assert_eq!(
        cli.ok(&["accounts", "import", &file]).trim(),
        "created 0, updated 0, unchanged 1"
    );
    assert_eq!(cli.show(), before);

    // A renamed customer and a changed role: those win, the rest stays.
    let renamed = cli.file(
        "renamed.json",
        &ACCOUNTS
            .replace("Whitfield Hosting", "Whitfield Hosting LLC")
            .replace(r#"["primary"]"#, r#"["primary", "escalation"]"#),
    );
    assert_eq!(
        cli.ok(&["accounts", "import", &renamed]).trim(),
        "created 0, updated 1, unchanged 0"
    );
    let after = cli.show();
    assert_eq!(after["name"], "Whitfield Hosting LLC");
    assert_eq!(after["timezone"], "Europe/Dublin");
    assert_eq!(after["exempt"], true);
    let contacts: Vec<(String, Value, Value)> = after["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["email"].as_str().unwrap().to_owned(),
                c["roles"].clone(),
                c["undeliverable"].clone(),
            )
        })
        .collect();
    assert_eq!(
        contacts,
        [
            (
                "dana@whitfield.example".to_owned(),
                json!(["billing"]),
                json!("bounced (NoEmail)")
            ),
            (
                "kevin@whitfield.example".to_owned(),
                json!(["primary", "escalation"]),
                Value::Null
            ),
            (
                "esme@whitfield.example".to_owned(),
                json!(["escalation"]),
                Value::Null
            ),
        ]
    );
}

fn issued() -> Value {
    json!([{"id": "e1", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued",
            "invoice": "in_1", "amount": "120.00", "currency": "USD", "due": "2026-01-15"}])
}

fn paid() -> Value {
    json!([{"id": "p1", "at": "2026-01-20T15:00:00Z", "account": "acct_1", "type": "payment_succeeded",
            "invoice": "in_1", "amount": "50.00", "currency": "USD", "payment": "pi_1"}])
}

#[tokio::test]
async fn a_restore_brings_a_damaged_account_back_whole_and_republishes_nothing() {
    let cli = Cli::new("cli-restore").await;
    cli.ok(&["accounts", "import", &cli.file("accounts.json", ACCOUNTS)]);
    cli.apply("issued.json", issued());
    let backup = cli.dir.join("backup.jsonl");
    cli.ok(&["export", "--out", backup.to_str().unwrap()]);
    let at_backup = cli.show();

    // Later: a payment, then the state item is damaged, version and all.
    cli.apply("paid.json", paid());
    assert_eq!(cli.show()["invoices"][0]["owed"], "70.00");
    let dynamo = aws_sdk_dynamodb::Client::new(&support::sdk_config().await);
    dynamo
        .update_item()
        .table_name(&cli.table)
        .key("PK", AttributeValue::S("ACCT#acct_1".into()))
        .key("SK", AttributeValue::S("STATE".into()))
        .update_expression("SET #d = :broken, #v = :lost")
        .expression_attribute_names("#d", "data")
        .expression_attribute_names("#v", "version")
        .expression_attribute_values(":broken", AttributeValue::S("{\"account\": tru".into()))
        .expression_attribute_values(":lost", AttributeValue::S("?".into()))
        .send()
        .await
        .unwrap();
    assert!(!cli.run(&["account", "show", "acct_1"]).status.success());

    // Adding only what is missing cannot repair it.
    cli.ok(&["import", "--in", backup.to_str().unwrap()]);
    assert!(!cli.run(&["account", "show", "acct_1"]).status.success());

    let said = cli.ok(&["import", "--in", backup.to_str().unwrap(), "--restore"]);
    assert!(said.starts_with("restored 1 account(s)"), "{said}");
    assert!(
        said.contains("1 later invoice(s) and claim(s) removed"),
        "{said}"
    );
    let restored = cli.show();
    assert_eq!(restored, at_backup);

    // The payment since the backup is replayed and counts (its claim went
    // with the state it belonged to); later changes commit normally.
    assert!(cli.apply("paid.json", paid()).contains("applied 1"));
    assert_eq!(cli.show()["invoices"][0]["owed"], "70.00");
    let timeline = cli.ok(&["account", "timeline", "acct_1"]);
    assert!(timeline.contains("restored from a backup"), "{timeline}");
    assert_eq!(
        timeline.matches("payment_succeeded").count(),
        2,
        "the first application stays in the history: {timeline}"
    );
}

#[tokio::test]
async fn a_restore_never_republishes_an_announced_action() {
    let cli = Cli::new("cli-restore-outbox").await;
    cli.ok(&["accounts", "import", &cli.file("accounts.json", ACCOUNTS)]);
    cli.apply("issued.json", issued());
    // A payment failure: its notice is announced at once (inline bus).
    let failed = json!([{"id": "f1", "at": "2026-01-16T15:00:00Z", "account": "acct_1", "type": "payment_failed",
                         "invoice": "in_1", "amount": "120.00", "currency": "USD", "reason": "card_declined"}]);
    cli.apply("failed.json", failed);
    let backup = cli.dir.join("backup.jsonl");
    cli.ok(&["export", "--out", backup.to_str().unwrap()]);
    // The backup as it would look had the export caught the entry pending.
    let text = std::fs::read_to_string(&backup).unwrap();
    let pending: Vec<String> = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["SK"]["S"].as_str().is_some_and(|s| s.starts_with("ACT#")) {
                v["state"] = json!({"S": "pending"});
            }
            v.to_string()
        })
        .collect();
    assert!(pending.iter().any(|l| l.contains("\"pending\"")));
    let backup = cli.file("pending.jsonl", &(pending.join("\n") + "\n"));
    let said = cli.ok(&["import", "--in", &backup, "--restore"]);
    assert!(
        said.contains("1 pending action(s) marked announced"),
        "{said}"
    );
    // Nothing is left to announce: the next change publishes only its own.
    let dynamo = aws_sdk_dynamodb::Client::new(&support::sdk_config().await);
    let items = dynamo
        .query()
        .table_name(&cli.table)
        .key_condition_expression("PK = :pk AND begins_with(SK, :act)")
        .expression_attribute_values(":pk", AttributeValue::S("ACCT#acct_1".into()))
        .expression_attribute_values(":act", AttributeValue::S("ACT#".into()))
        .send()
        .await
        .unwrap();
    let states: Vec<&str> = items
        .items()
        .iter()
        .map(|i| i["state"].as_s().unwrap().as_str())
        .collect();
    assert_eq!(states, ["announced"]);
}
