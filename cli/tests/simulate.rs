//! `pastdue simulate` at its command-line boundary (spec §6).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pastdue(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pastdue"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run pastdue")
}

fn scenario_file(dir: &Path, name: &str, body: &serde_json::Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn every_canonical_scenario_prints_its_expected_actions() {
    let dir = repo().join("events/canonical");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let out = pastdue(&["simulate", path.to_str().unwrap(), "--json"]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let expected_path = dir.join("expected").join(&name);
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|_| panic!("{} is missing", expected_path.display())),
        )
        .unwrap();
        assert_eq!(got, expected, "{name}");
        let table = pastdue(&["simulate", path.to_str().unwrap()]);
        assert!(table.status.success());
        let text = String::from_utf8(table.stdout).unwrap();
        assert!(text.starts_with("DATE"), "{name}: {text}");
        assert_eq!(
            text.lines().count(),
            expected.as_array().unwrap().len() + 2,
            "{name}: a row per action, header and footer"
        );
        checked += 1;
    }
    assert!(checked >= 5, "at least five stories, found {checked}");
}

#[test]
fn the_json_output_is_in_the_spec_shape_and_order() {
    let out = pastdue(&["simulate", "events/canonical/late-payer.json", "--json"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.find("\"date\"").unwrap();
    for key in [
        "\"account\"",
        "\"action\"",
        "\"dpd\"",
        "\"invoices\"",
        "\"to\"",
    ] {
        assert!(text.find(key).unwrap() > first, "{key} comes after date");
    }
    assert!(text.contains("\"suspend_on\": \"2026-02-05\""));
}

#[test]
fn the_table_greets_by_name_and_marks_staff_only_actions() {
    let out = pastdue(&["simulate", "events/canonical/dispute-lost.json"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("dispute_alert") && text.contains("staff only"),
        "{text}"
    );
    assert!(
        text.contains("Amara Okafor <amara@northwind.example>"),
        "{text}"
    );
    assert!(
        text.contains("final_notice (suspend on 2026-03-13)"),
        "{text}"
    );
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_event_and_field() {
    let dir = std::env::temp_dir().join(format!("pastdue-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good_event = serde_json::json!({"id": "e1", "at": "2026-01-01T15:00:00Z", "account": "acct_1", "type": "invoice_issued", "invoice": "in_1", "amount": "120.00", "currency": "USD", "due": "2026-01-15"});
    let account =
        serde_json::json!({"id": "acct_1", "name": "Whitfield", "timezone": "UTC", "contacts": []});
    let scenario = |accounts: serde_json::Value, events: serde_json::Value| serde_json::json!({"from": "2026-01-01", "to": "2026-02-01", "accounts": accounts, "events": events});
    let with = |k: &str, v: serde_json::Value| {
        let mut bad = good_event.clone();
        bad[k] = v;
        scenario(
            serde_json::json!([account.clone()]),
            serde_json::json!([good_event.clone(), bad]),
        )
    };
    let cases = [
        (
            "amount",
            with("amount", "12,00".into()),
            "events[1] (id \"e1\"): field `amount`",
        ),
        (
            "currency",
            with("currency", "XYZ".into()),
            "field `currency`",
        ),
        ("date", with("due", "2026-13-01".into()), "field `due`"),
        // Two such invoices once overflowed a sum and the command panicked.
        (
            "huge amount",
            with("amount", "79000000000000000000000000000".into()),
            "field `amount`",
        ),
        ("type", with("type", "invoice_paid".into()), "field `type`"),
        (
            "account",
            with("account", "acct_9".into()),
            "field `account`: unknown account",
        ),
        (
            "timezone",
            scenario(
                serde_json::json!([{"id": "acct_1", "name": "W", "timezone": "Mars/Base"}]),
                serde_json::json!([]),
            ),
            "accounts[0] (id \"acct_1\"): field `timezone`",
        ),
        (
            "range",
            serde_json::json!({"from": "2026-02-01", "to": "2026-01-01", "accounts": [], "events": []}),
            "field `to`",
        ),
    ];
    for (name, body, needle) in cases {
        let file = scenario_file(&dir, &format!("{name}.json"), &body);
        for args in [
            vec!["simulate", file.as_str()],
            vec!["simulate", file.as_str(), "--json"],
        ] {
            let out = pastdue(&args);
            assert_eq!(out.status.code(), Some(2), "{name}");
            assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
            let err = String::from_utf8(out.stderr).unwrap();
            assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
            assert!(err.contains(needle), "{name}: {err}");
        }
    }
    let not_json = dir.join("broken.json");
    std::fs::write(&not_json, "{\"from\": ").unwrap();
    let out = pastdue(&["simulate", not_json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("not valid JSON")
    );
    let missing = pastdue(&["simulate", "no/such/file.json"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn a_policy_file_changes_the_ladder_and_a_bad_one_names_its_line() {
    let dir = std::env::temp_dir().join(format!("pastdue-pol-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let every_day = dir.join("every-day.toml");
    std::fs::write(&every_day, "business_days_only = false\nrun_hour = 9\n").unwrap();
    let out = pastdue(&[
        "simulate",
        "events/canonical/late-payer.json",
        "--json",
        "--policy",
        every_day.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let actions: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cancel = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "cancel")
        .unwrap();
    assert_eq!(
        cancel["date"], "2026-03-01",
        "Sunday counts when every day is a business day"
    );

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "min_balance = \"1.00\"\n\n[[step]]\nname = \"reminder_7\"\ndpd = 1\nto = [\"billing\"]\n",
    )
    .unwrap();
    let out = pastdue(&[
        "simulate",
        "events/canonical/late-payer.json",
        "--policy",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("line 4") && err.contains("reminder_7"),
        "{err}"
    );
}
