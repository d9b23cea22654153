//! The `pastdue` binary against a fresh table on DynamoDB Local, for the
//! command-line tests (`store.rs`, `backup.rs`).

#[path = "../../../tests/support.rs"]
pub mod support;

use std::process::{Command, Output};

use serde_json::Value;

/// One fresh table and a scratch folder for the files a test writes.
pub struct Cli {
    pub table: String,
    pub dir: std::path::PathBuf,
}

impl Cli {
    pub async fn new(label: &str) -> Self {
        let (_, table) = support::fresh_table(label).await;
        let dir = std::env::temp_dir().join(format!("pastdue-cli-{}", table));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            table: table.to_string(),
            dir,
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    /// [`Self::run`] with more environment variables.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pastdue"))
            .args(args)
            .envs(env.iter().copied())
            .env("TABLE_NAME", &self.table)
            // Events are applied in the command; the local bus (functions
            // under `cargo lambda watch`) is not part of these tests.
            .env("EVENT_BUS", "inline")
            .current_dir(support::repo_root())
            .output()
            .expect("run pastdue")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    pub fn file(&self, name: &str, body: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, body).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// Writes `events` to a file named `name` and applies it.
    pub fn apply(&self, name: &str, events: Value) -> String {
        let file = self.file(name, &events.to_string());
        self.ok(&["events", "apply", &file])
    }

    /// `account show acct_1` as of 2026-02-01, as JSON.
    pub fn show(&self) -> Value {
        self.json(&[
            "account",
            "show",
            "acct_1",
            "--date",
            "2026-02-01",
            "--json",
        ])
    }
}
