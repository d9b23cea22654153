//! `pastdue`, the operator command.
//!
//! It uses the same environment as the functions (`TABLE_NAME`, the AWS SDK's
//! standard variables), so `eval "$(make env)"` points it at the local stack.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pastdue_shared::adapters::dynamodb::schema::{TableSchema, TableSetup, ensure_table};
use pastdue_shared::adapters::ses::{SenderSetup, verify_sender};
use pastdue_shared::config::TableName;
use pastdue_shared::domain::EmailAddress;
use pastdue_shared::runtime;

mod simulate;

/// Why a command failed, and its exit status: 2 for bad input (nothing was
/// done), 1 for everything else.
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self::internal(message)
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "pastdue",
    version,
    about = "Payment reconciliation and dunning for businesses that bill every month.",
    long_about = "Payment reconciliation and dunning for businesses that bill every month.\n\n\
        pastdue keeps each customer account's billing standing, escalates late payers \
        through reminders, a final notice, suspension and collections, and reinstates \
        them by itself when the money arrives. This is the operator command; it uses \
        the same environment as the functions (TABLE_NAME and the AWS SDK's standard \
        variables)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prepare an environment: the table and the sender identity.
    #[command(subcommand)]
    Setup(Setup),
    /// Play a scenario through the dunning engine and print what it would do,
    /// date by date (the spec's `simulate`). Bad input exits with status 2.
    Simulate {
        /// Scenario JSON: from, to, accounts, events.
        scenario: PathBuf,
        /// Print the actions as a JSON array (the spec's exact format).
        #[arg(long)]
        json: bool,
        /// Policy TOML file (default: the spec's ladder).
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum Setup {
    /// Create the DynamoDB table exactly as infra/template.yaml defines it
    /// (keys, indexes, TTL). Idempotent. For local stacks and tests: in AWS
    /// the SAM stack creates the table.
    Table {
        /// The SAM template holding the `Table` resource.
        #[arg(long, default_value = "infra/template.yaml")]
        template: PathBuf,
        /// Name of the table to create.
        #[arg(long, env = "TABLE_NAME")]
        table: String,
    },
    /// Start verification of the sender address in SES (CreateEmailIdentity).
    /// Idempotent.
    Sender {
        /// The address billing mail is sent from.
        #[arg(long, env = "SENDER_EMAIL")]
        email: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(Failure { code, message }) => {
            eprintln!("pastdue: {message}");
            ExitCode::from(code)
        }
    }
}

async fn run(command: Command) -> Result<String, Failure> {
    match command {
        Command::Simulate {
            scenario,
            json,
            policy,
        } => simulate::run(&scenario, json, policy.as_deref()),
        Command::Setup(Setup::Table { template, table }) => {
            let table = TableName::parse(&table)?;
            let schema = TableSchema::from_template_file(&template).map_err(|e| e.to_string())?;
            let client = aws_sdk_dynamodb::Client::new(&runtime::aws_config().await);
            let setup = ensure_table(&client, &table, &schema)
                .await
                .map_err(|e| e.to_string())?;
            Ok(match setup {
                TableSetup::Created => {
                    format!("table {table}: created from {}", template.display())
                }
                TableSetup::AlreadyThere => format!("table {table}: already there"),
            })
        }
        Command::Setup(Setup::Sender { email }) => {
            let sender = EmailAddress::parse(&email).map_err(|e| e.to_string())?;
            let client = aws_sdk_sesv2::Client::new(&runtime::aws_config().await);
            let setup = verify_sender(&client, &sender)
                .await
                .map_err(|e| e.to_string())?;
            Ok(match setup {
                SenderSetup::Created => format!("sender {sender}: verification started"),
                SenderSetup::AlreadyThere => format!("sender {sender}: already an identity"),
            })
        }
    }
}
