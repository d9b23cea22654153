//! `pastdue tasks` and `pastdue task done` on DynamoDB Local: the calls the
//! ladder opened, who to call at which number, and every outcome of a call.
//! Also phone numbers on contacts, validated as E.164.

#[allow(dead_code)] // this target uses part of it
mod harness;

use chrono::{Duration, Utc};
use harness::{Cli, support};
use pastdue_shared::adapters::dynamodb::DynamoStore;
use pastdue_shared::config::TableName;
use pastdue_shared::domain::{AccountId, Policy};
use pastdue_shared::services::Accounts;
use serde_json::{Value, json};

const ACCOUNTS: &str = r#"[
  {"id": "acct_late", "name": "Whitfield Hosting", "contacts": [
    {"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"], "phone": "+1 (555) 010-0199"},
    {"name": "Ruth Nakamura", "email": "ruth@whitfield.example", "roles": ["escalation"], "phone": "+15550100777"}]},
  {"id": "acct_later", "name": "Copperline MSP", "contacts": [
    {"name": "Luis Ortega", "email": "luis@copperline.example", "roles": ["billing"], "phone": "+442079460958"},
    {"name": "Ana Lee", "email": "ana@copperline.example", "roles": ["escalation"], "phone": "+442079460000"}]}
]"#;

/// `id`'s invoice fell due `days` ago; its daily runs up to today have run.
async fn late(cli: &Cli, id: &str, days: i64) {
    let today = Utc::now().date_naive();
    let due = today - Duration::days(days);
    cli.apply(
        &format!("{id}.json"),
        json!([{"id": format!("{id}-inv"), "at": format!("{}T10:00:00Z", due - Duration::days(14)),
            "account": id, "type": "invoice_issued", "invoice": "in_1", "amount": "250.00", "currency": "USD",
            "due": due.to_string()}]),
    );
    let config = support::sdk_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        TableName::parse(&cli.table).unwrap(),
        Policy::default(),
    );
    let accounts = Accounts::new(store.clone(), store.shared_policy());
    let id = AccountId::parse(id).unwrap();
    for date in (due + Duration::days(1))
        .iter_days()
        .take_while(|d| *d <= today)
    {
        accounts.run_due(&id, date).await.unwrap();
    }
}

fn tasks(cli: &Cli) -> Vec<Value> {
    cli.json(&["tasks", "--json"]).as_array().unwrap().clone()
}

fn task<'a>(all: &'a [Value], account: &str, task: &str) -> &'a Value {
    all.iter()
        .find(|t| t["account"] == account && t["task"] == task)
        .unwrap_or_else(|| panic!("no {task} task of {account} in {all:?}"))
}

#[tokio::test]
async fn calls_open_with_the_ladder_and_each_outcome_is_recorded() {
    let cli = Cli::new("cli-tasks").await;
    let accounts = cli.file("accounts.json", ACCOUNTS);
    cli.ok(&["accounts", "import", &accounts]);
    // Ten days late: the second reminder asked for a call to billing;
    // seventeen: the final notice also asked for one up the line.
    late(&cli, "acct_late", 10).await;
    late(&cli, "acct_later", 17).await;

    let all = tasks(&cli);
    assert_eq!(all.len(), 3, "{all:?}");
    let call = task(&all, "acct_late", "reminder_2");
    assert_eq!(call["call"][0]["name"], "Dana Whitfield");
    assert_eq!(call["call"][0]["phone"], "+15550100199");
    assert_eq!(call["owed"], "250.00 USD");
    assert_eq!(call["dpd"], 10);
    assert_eq!(
        task(&all, "acct_later", "final_notice")["call"][0]["name"],
        "Ana Lee"
    );
    assert_eq!(all[0]["account"], "acct_later", "most overdue first");
    // The same calls head the morning digest; the aging report has both
    // accounts in 1-30 days.
    let today = cli.json(&["today", "--json"]);
    assert_eq!(today["calls"].as_array().unwrap().len(), 3, "{today}");
    let digest = cli.ok(&["today"]);
    assert!(digest.contains("Calls to make"), "{digest}");
    let chart = cli.dir.join("aging.html");
    let aging = cli.json(&[
        "report",
        "aging",
        "--json",
        "--html",
        chart.to_str().unwrap(),
    ]);
    let usd = &aging["currencies"][0];
    assert_eq!(usd["currency"], "USD");
    assert_eq!(usd["buckets"][1]["total"], "500.00", "{aging}");
    assert_eq!(usd["buckets"][1]["accounts"].as_array().unwrap().len(), 2);
    assert_eq!(usd["dso"], "60.0", "500 owed of 250 sold in 30 days");
    assert!(
        std::fs::read_to_string(&chart)
            .unwrap()
            .contains("Receivables aging")
    );
    let text = cli.ok(&["tasks"]);
    assert!(
        text.contains("call Dana Whitfield <dana@whitfield.example> at +15550100199"),
        "{text}"
    );

    // No answer: still to do, with the attempt.
    cli.ok(&[
        "task",
        "done",
        "acct_late",
        "reminder_2",
        "--outcome",
        "no-answer",
        "--note",
        "voicemail",
    ]);
    let again = tasks(&cli);
    assert_eq!(
        task(&again, "acct_late", "reminder_2")["attempts"][0]["outcome"],
        "no-answer"
    );
    // Promised, with a date: closed, and the ladder held to that date.
    let friday = (Utc::now().date_naive() + Duration::days(3)).to_string();
    let said = cli.ok(&[
        "task",
        "done",
        "acct_late",
        "reminder_2",
        "--outcome",
        "promised",
        "--note",
        "pays Friday by card",
        "--until",
        &friday,
    ]);
    assert!(said.contains("hold placed"), "{said}");
    let shown = cli.json(&["account", "show", "acct_late", "--json"]);
    assert_eq!(shown["hold_until"], friday.as_str());
    assert!(
        !tasks(&cli)
            .iter()
            .any(|t| t["account"] == "acct_late" && t["task"] == "reminder_2")
    );
    let timeline = cli.ok(&["account", "timeline", "acct_late"]);
    assert!(
        timeline.contains("call for reminder_2: no-answer: voicemail"),
        "{timeline}"
    );
    assert!(
        timeline.contains("call for reminder_2: promised: pays Friday by card"),
        "{timeline}"
    );

    // A wrong number: closed, and the number marked, shown and not offered.
    cli.ok(&[
        "task",
        "done",
        "acct_later",
        "final_notice",
        "--outcome",
        "wrong-number",
        "--note",
        "a bakery",
    ]);
    let shown = cli.json(&["account", "show", "acct_later", "--json"]);
    let ana = shown["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Ana Lee")
        .unwrap();
    assert!(
        ana["phone_wrong"].as_str().unwrap().contains("a bakery"),
        "{ana}"
    );
    // Disputes: closed, in the timeline.
    cli.ok(&[
        "task",
        "done",
        "acct_later",
        "reminder_2",
        "--outcome",
        "disputes",
        "--note",
        "says the plan was cancelled",
    ]);
    assert!(tasks(&cli).is_empty());

    // Bad input: a clear error, exit 2, nothing recorded.
    for (args, says) in [
        (
            vec![
                "task",
                "done",
                "acct_late",
                "suspend",
                "--outcome",
                "promised",
            ],
            "no suspend task",
        ),
        (
            vec![
                "task",
                "done",
                "acct_late",
                "reminder_2",
                "--outcome",
                "maybe",
            ],
            "is not an outcome",
        ),
        (
            vec![
                "task",
                "done",
                "acct_late",
                "reminder_2",
                "--outcome",
                "no-answer",
                "--until",
                "2027-01-01",
            ],
            "--until goes with --outcome promised",
        ),
    ] {
        let out = cli.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn phone_numbers_are_e164_or_a_clear_error() {
    let cli = Cli::new("cli-phones").await;
    let accounts = cli.file("accounts.json", ACCOUNTS);
    cli.ok(&["accounts", "import", &accounts]);
    let added = cli.ok(&[
        "contact",
        "add",
        "acct_late",
        "--name",
        "Kevin Ortiz",
        "--email",
        "kevin@whitfield.example",
        "--role",
        "primary",
        "--phone",
        "+1 555 010 0123",
    ]);
    assert!(added.contains("+15550100123"), "{added}");
    let out = cli.run(&[
        "contact",
        "add",
        "acct_late",
        "--name",
        "Bad",
        "--email",
        "bad@whitfield.example",
        "--phone",
        "555-0199",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("E.164"));
    let bad_file = cli.file(
        "bad.json",
        r#"[{"id": "acct_x", "name": "X", "contacts": [{"name": "X", "email": "x@x.example", "roles": [], "phone": "call me"}]}]"#,
    );
    let out = cli.run(&["accounts", "import", &bad_file]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("contacts[0].phone") && err.contains("E.164"),
        "{err}"
    );
    let shown = cli.json(&["account", "show", "acct_late", "--json"]);
    let phones: Vec<&str> = shown["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["phone"].as_str())
        .collect();
    assert_eq!(phones, ["+15550100199", "+15550100777", "+15550100123"]);
    let text = cli.ok(&["account", "show", "acct_late"]);
    assert!(
        text.contains("Kevin Ortiz <kevin@whitfield.example>  primary  +15550100123"),
        "{text}"
    );
}
