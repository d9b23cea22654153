//! `pastdue`, the operator command.
//!
//! It uses the same environment as the functions (`TABLE_NAME`, the AWS SDK's
//! standard variables), so `eval "$(make env)"` points it at the local stack.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pastdue_shared::adapters::dynamodb::DynamoStore;

use pastdue_shared::adapters::dynamodb::schema::{TableSchema, TableSetup, ensure_table};
use pastdue_shared::adapters::ses::{SenderSetup, verify_sender};
use pastdue_shared::config::TableName;
use pastdue_shared::domain::EmailAddress;
use pastdue_shared::runtime;

mod aging;
mod ops;
mod preview;
mod reconcile;
mod simulate;
mod tasks;
mod today;

/// Why a command failed, and its exit status: 2 for bad input (nothing was
/// done), 1 for everything else.
pub struct Failure {
    code: u8,
    message: String,
    /// A result to print on stdout, with a non-zero status (drift found).
    found: bool,
}

impl Failure {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
            found: false,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
            found: false,
        }
    }

    /// The command's report, printed as usual, with status 1: it found
    /// something a person should look at.
    pub fn found(report: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: report.into(),
            found: true,
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
    /// Print JSON (every command), for scripts.
    #[arg(long, global = true)]
    json: bool,
    /// Dunning policy TOML file (default: the spec's ladder, policy/default.toml).
    #[arg(long, global = true, env = "PASTDUE_POLICY")]
    policy: Option<PathBuf>,
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
    },
    /// Onboard customers: upsert accounts from a JSON array (spec §6 shape).
    #[command(subcommand)]
    Accounts(Accounts),
    /// Apply canonical events exactly once, as the handler functions do.
    #[command(subcommand)]
    Events(Events),
    /// Look at and change one account.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Add or remove an account's contacts.
    #[command(subcommand)]
    Contact(ContactCmd),
    /// Promise-to-pay and staff holds: no dunning step fires while one is on.
    #[command(subcommand)]
    Hold(HoldCmd),
    /// The calls the ladder asks staff to make: who, their number, what is
    /// owed, how late, the last email they got.
    Tasks,
    /// Record a call made for a task.
    #[command(subcommand)]
    Task(TaskCmd),
    /// Reports from the indexes (no scan).
    #[command(subcommand)]
    Report(ReportCmd),
    /// The staff's morning digest, as emailed: calls, promises, tomorrow's
    /// cut-offs, contacts mail cannot reach (today in STAFF_TIMEZONE).
    Today,
    /// Write every item of every account as JSON lines (backups, migrations).
    Export {
        #[arg(long)]
        out: PathBuf,
    },
    /// Put back items from `pastdue export`: only the missing ones, or with
    /// --restore each account as a whole.
    Import {
        #[arg(long = "in")]
        input: PathBuf,
        /// Restore each account in the file as a whole, over what the table
        /// holds: state and invoices as backed up, later claims removed so
        /// their events can be replayed, nothing republished. See
        /// docs/operations.md and docs/reliability.md.
        #[arg(long)]
        restore: bool,
    },
    /// What the next dunning run would do, account by account. Writes and
    /// sends nothing.
    Preview {
        /// Run on this local date for every account (default: each
        /// account's own today).
        #[arg(long)]
        date: Option<String>,
    },
    /// The email templates.
    #[command(subcommand)]
    Emails(EmailsCmd),
    /// Compare pastdue's open invoices with Stripe's (STRIPE_API_KEY or
    /// STRIPE_API_KEY_PARAM, read-only) and print every difference; exit 1
    /// when there is any.
    Reconcile {
        /// Only Stripe invoices created on or after this date (YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
        /// Only this customer.
        #[arg(long)]
        account: Option<String>,
        /// Take each differing invoice from Stripe through the webhook's
        /// own path (its payments, void, write-off, amount and due date).
        #[arg(long)]
        apply: bool,
        /// Onboarding an existing Stripe account: Stripe's uncollectible
        /// invoices too, with a progress line. Run again after an
        /// interruption: what was applied is no longer a difference.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
enum EmailsCmd {
    /// Render every template with sample data as DIR/<name>.html and .txt.
    Render {
        #[arg(long)]
        out: PathBuf,
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

#[derive(Debug, Subcommand)]
enum Accounts {
    /// Upsert accounts from FILE: a JSON array of {id, name, timezone, exempt, contacts}.
    Import { file: PathBuf },
    /// Link every account's contact addresses, so a PayPal or GoCardless
    /// customer paying from one of them joins that account. Run once after
    /// upgrading (contacts added since are linked as they are added).
    Link,
}

#[derive(Debug, Subcommand)]
enum Events {
    /// Apply the events in FILE (JSON array or JSON lines). An invalid file
    /// applies nothing and exits 2.
    Apply { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum AccountCmd {
    /// Status, days past due, hold, contacts, invoices and the current episode.
    Show {
        id: String,
        /// Evaluate on this local date instead of today.
        #[arg(long)]
        date: Option<String>,
    },
    /// Accounts, optionally only those with one status.
    List {
        /// active, suspended or cancelled
        #[arg(long)]
        status: Option<String>,
    },
    /// The audit timeline: every applied event and every action, with its cause.
    Timeline { id: String },
    /// Change the time zone in which the account's dates are counted.
    SetTimezone { id: String, timezone: String },
    /// Exempt accounts are warned but never suspended or cancelled.
    Exempt {
        id: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

#[derive(Debug, Subcommand)]
enum ContactCmd {
    /// Add a contact; each is greeted by their own name.
    Add {
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// billing, primary or escalation (repeatable)
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Where staff call them, in E.164 (+15550100199; spaces and
        /// dashes are fine).
        #[arg(long)]
        phone: Option<String>,
    },
    /// Remove the contact with EMAIL.
    Remove { id: String, email: String },
}

#[derive(Debug, Subcommand)]
enum ReportCmd {
    /// Receivables per currency in the buckets current, 1-30, 31-60,
    /// 61-90 and over 90 days past due, with the accounts in each and the
    /// day's days-sales-outstanding.
    Aging {
        /// Also write the chart (a stacked bar per currency) as HTML.
        #[arg(long)]
        html: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum TaskCmd {
    /// What the call for TASK (the step that opened it, e.g. reminder_2)
    /// found; in the timeline. `no-answer` leaves the task open.
    Done {
        id: String,
        task: String,
        /// promised, no-answer, wrong-number or disputes
        #[arg(long)]
        outcome: String,
        #[arg(long, default_value = "")]
        note: String,
        /// With `promised`: hold the ladder until this date.
        #[arg(long)]
        until: Option<String>,
        /// Who was called (default: the first of the task's contacts with
        /// a working number); `wrong-number` marks this contact's phone.
        #[arg(long)]
        contact: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum HoldCmd {
    /// No dunning step fires on local dates up to and including UNTIL.
    Place {
        id: String,
        #[arg(long)]
        until: String,
        #[arg(long)]
        reason: String,
    },
    /// End the hold early.
    Release { id: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(Failure {
            code,
            message,
            found: true,
        }) => {
            println!("{message}");
            ExitCode::from(code)
        }
        Err(Failure { code, message, .. }) => {
            eprintln!("pastdue: {message}");
            ExitCode::from(code)
        }
    }
}

async fn store(policy: Option<&Path>) -> Result<ops::Service, Failure> {
    Ok(store_and_bus(policy).await?.0)
}

/// The account service over the table, and the bus `EVENT_BUS` names for
/// commands that submit events.
async fn store_and_bus(policy: Option<&Path>) -> Result<(ops::Service, ops::Bus), Failure> {
    let policy = simulate::load_policy(policy)?;
    let table = TableName::from_env().map_err(|e| Failure::internal(e.to_string()))?;
    let config = runtime::aws_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table, policy);
    let bus = runtime::event_bus(store.clone(), &config);
    Ok((ops::Service::new(store.clone(), store.shared_policy()), bus))
}

/// The table's due index (accounts by due date), for commands that look
/// at overdue accounts without scanning.
async fn due_index() -> Result<pastdue_shared::adapters::dynamodb::DynamoDueIndex, Failure> {
    let table = TableName::from_env().map_err(|e| Failure::internal(e.to_string()))?;
    let client = aws_sdk_dynamodb::Client::new(&runtime::aws_config().await);
    Ok(pastdue_shared::adapters::dynamodb::DynamoDueIndex::new(
        client, table,
    ))
}

async fn run(cli: Cli) -> Result<String, Failure> {
    let (json, policy) = (cli.json, cli.policy.as_deref());
    let said = |message: String| {
        if json {
            serde_json::json!({ "ok": true, "message": message }).to_string()
        } else {
            message
        }
    };
    match cli.command {
        Command::Simulate { scenario } => simulate::run(&scenario, json, policy),
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
            Ok(said(match setup {
                SenderSetup::Created => format!("sender {sender}: verification started"),
                SenderSetup::AlreadyThere => format!("sender {sender}: already an identity"),
            }))
        }
        Command::Accounts(Accounts::Import { file }) => {
            ops::import_accounts(&store(policy).await?, &file, json).await
        }
        Command::Accounts(Accounts::Link) => {
            let (accounts, links) = store(policy)
                .await?
                .store()
                .link_every_email()
                .await
                .map_err(|e| Failure::internal(e.to_string()))?;
            Ok(said(format!(
                "{links} contact addresses of {accounts} accounts linked"
            )))
        }
        Command::Events(Events::Apply { file }) => {
            ops::apply_events(&store_and_bus(policy).await?.1, &file, json).await
        }
        Command::Account(cmd) => {
            let store = store(policy).await?;
            match cmd {
                AccountCmd::Show { id, date } => {
                    ops::show(&store, &id, date.as_deref(), json).await
                }
                AccountCmd::List { status } => ops::list(&store, status.as_deref(), json).await,
                AccountCmd::Timeline { id } => ops::timeline(&store, &id, json).await,
                AccountCmd::SetTimezone { id, timezone } => {
                    ops::set_timezone(&store, &id, &timezone).await.map(said)
                }
                AccountCmd::Exempt { id, state } => {
                    ops::exempt(&store, &id, state == "on").await.map(said)
                }
            }
        }
        Command::Contact(ContactCmd::Add {
            id,
            name,
            email,
            roles,
            phone,
        }) => ops::contact_add(
            &store(policy).await?,
            &id,
            &name,
            &email,
            &roles,
            phone.as_deref(),
        )
        .await
        .map(said),
        Command::Contact(ContactCmd::Remove { id, email }) => {
            ops::contact_remove(&store(policy).await?, &id, &email)
                .await
                .map(said)
        }
        Command::Hold(HoldCmd::Place { id, until, reason }) => {
            let (store, bus) = store_and_bus(policy).await?;
            ops::hold(&store, &bus, &id, Some(&until), &reason)
                .await
                .map(said)
        }
        Command::Hold(HoldCmd::Release { id }) => {
            let (store, bus) = store_and_bus(policy).await?;
            ops::hold(&store, &bus, &id, None, "released by operator")
                .await
                .map(said)
        }
        Command::Report(ReportCmd::Aging { html }) => {
            let store = store(policy).await?;
            aging::report(&store, &due_index().await?, html.as_deref(), json).await
        }
        Command::Today => {
            let store = store(policy).await?;
            today::today(&store, &due_index().await?, json).await
        }
        Command::Tasks => {
            let store = store(policy).await?;
            tasks::list(&store, &due_index().await?, json).await
        }
        Command::Task(TaskCmd::Done {
            id,
            task,
            outcome,
            note,
            until,
            contact,
        }) => {
            let (store, bus) = store_and_bus(policy).await?;
            let done = tasks::Done {
                id: &id,
                task: &task,
                outcome: &outcome,
                note: &note,
                until: until.as_deref(),
                contact: contact.as_deref(),
            };
            tasks::done(&store, &bus, &done).await.map(said)
        }
        Command::Export { out } => ops::export(&store(policy).await?, &out).await.map(said),
        Command::Import { input, restore } => ops::import(&store(policy).await?, &input, restore)
            .await
            .map(said),
        Command::Preview { date } => {
            let store = store(policy).await?;
            preview::preview(&store, &due_index().await?, date.as_deref(), json).await
        }
        Command::Reconcile {
            since,
            account,
            apply,
            all,
        } => {
            let scope = reconcile::Scope {
                since: since
                    .as_deref()
                    .map(|d| {
                        pastdue_shared::domain::fields::parse_date(d)
                            .map_err(|e| Failure::bad_input(format!("--since: {e}")))
                    })
                    .transpose()?,
                account: account
                    .as_deref()
                    .map(|a| {
                        pastdue_shared::domain::AccountId::parse(a)
                            .map_err(|e| Failure::bad_input(format!("--account: {e}")))
                    })
                    .transpose()?,
                apply,
                all,
            };
            let config = runtime::aws_config().await;
            let api = pastdue_shared::config::stripe_api(|k| std::env::var(k).ok(), &config)
                .await
                .map_err(|e| Failure::bad_input(e.to_string()))?
                .ok_or_else(|| {
                    Failure::bad_input(
                        "no Stripe API key: set STRIPE_API_KEY (a restricted, read-only key) \
                         or STRIPE_API_KEY_PARAM (its SSM parameter)",
                    )
                })?;
            let (accounts, bus) = store_and_bus(policy).await?;
            let table = TableName::from_env().map_err(|e| Failure::internal(e.to_string()))?;
            let due = pastdue_shared::adapters::dynamodb::DynamoDueIndex::new(
                aws_sdk_dynamodb::Client::new(&config),
                table,
            );
            let store = accounts.store().clone();
            reconcile::run(&api, &store, &accounts, &bus, &due, &scope, json).await
        }
        Command::Emails(EmailsCmd::Render { out }) => {
            preview::render(&out, &simulate::load_policy(policy)?).map(said)
        }
    }
}
