//! `pastdue-demo`, run by `make demo`: plays the story in `events/demo/`
//! against the real function binaries that `cargo lambda watch` serves.
//!
//! Stripe's and GoCardless's deliveries go over HTTP to the ingest
//! Function URL, signed as each signs them; the schedule is invoked once per simulated day with
//! the Scheduled Event's `time`. A customer who promises to pay uses the
//! customer page from the link in their email. It prints the timeline as it happens and a
//! final table, writes the emails the SES emulator accepted under `--out`,
//! and fails when the story did not go as `story.json` says it must.

mod digest;
mod gocardless;
mod lambda;
mod portal;
mod report;
mod story;
mod stripe;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use pastdue_shared::adapters::dynamodb::{DynamoDueIndex, DynamoStore};
use pastdue_shared::config::TableName;
use pastdue_shared::ports::StoreError;
use pastdue_shared::runtime;
use pastdue_shared::services::Accounts;

use crate::lambda::Lambda;
use crate::report::Report;
use crate::story::Story;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the story: {0}")]
    Story(String),
    #[error("{0}")]
    Config(#[from] pastdue_shared::config::ConfigError),
    #[error("{0}")]
    Lambda(String),
    #[error("the SES emulator: {0}")]
    Ses(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing {0}")]
    Output(String),
    #[error("the story did not go as written:\n{0}")]
    Plot(String),
}

/// Plays events/demo/ against the functions served by `cargo lambda watch`.
#[derive(Debug, Parser)]
#[command(name = "pastdue-demo")]
struct Args {
    /// The story directory (story.json and the files it names).
    #[arg(long, default_value = "events/demo")]
    story: PathBuf,
    /// Where the timeline and the emails are written.
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    /// Where `cargo lambda watch` serves the functions.
    #[arg(long, env = "AWS_ENDPOINT_URL_LAMBDA")]
    lambda: String,
    /// The SES emulator, to read the sent emails back.
    #[arg(long, env = "AWS_ENDPOINT_URL_SESV2")]
    ses: String,
    /// The Stripe endpoint secret the ingest function was started with.
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    stripe_secret: String,
    /// The loopback Stripe API the dunning function asks before a cut-off.
    #[arg(long, env = "STRIPE_API_BASE")]
    stripe_api: String,
    /// The restricted key the dunning function was started with.
    #[arg(long, env = "STRIPE_API_KEY", hide_env_values = true)]
    stripe_key: String,
    /// The GoCardless endpoint secret the ingest function was started with.
    #[arg(long, env = "GOCARDLESS_WEBHOOK_SECRET", hide_env_values = true)]
    gocardless_secret: String,
    /// The loopback GoCardless API ingest reads payments from.
    #[arg(long, env = "GOCARDLESS_API_BASE")]
    gocardless_api: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\ndemo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The next delivery of the story.
enum Next<'a> {
    Stripe(&'a story::Delivery),
    GoCardless(&'a gocardless::Batch),
}

/// Fails the demo on any answer but `200`: the processor would retry it.
fn accepted(
    status: u16,
    answer: &serde_json::Value,
    what: impl FnOnce() -> String,
) -> Result<(), DemoError> {
    if status == 200 {
        return Ok(());
    }
    Err(DemoError::Lambda(format!(
        "ingest answered {status} to {}: {answer}",
        what()
    )))
}

fn average_ms(total: Duration, n: usize) -> u128 {
    total.as_millis() / n.max(1) as u128
}

async fn run(args: Args) -> Result<(), DemoError> {
    let started = Instant::now();
    let story = Story::load(&args.story)?;
    let config = runtime::aws_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        TableName::from_env()?,
        runtime::policy_from_env()?,
    );
    let lambda = Lambda::new(&args.lambda, args.stripe_secret, args.gocardless_secret);
    let stripe = stripe::StripeApi::new(&args.stripe_api, args.stripe_key)?;
    let mut report = Report::new(&story, &store, std::io::stderr().is_terminal());

    // Onboarding, as `pastdue accounts import events/demo/customers.json`.
    let accounts = Accounts::new(store.clone(), store.shared_policy());
    for account in &story.customers {
        accounts.upsert_account(account).await?;
    }
    // What GoCardless's API holds: ingest reads each payment from it.
    gocardless::seed(&args.gocardless_api, &story.gocardless.api)?;
    report.header();

    let page = portal::CustomerPage::new(&store, &config, &args.ses).await?;
    let mut promises = story.promises.iter().peekable();
    let mut deliveries = story.deliveries.iter().peekable();
    let mut batches = story.gocardless.deliveries.iter().peekable();
    let mut answered = gocardless::Answered::default();
    let mut runs = 0;
    let (mut webhook_time, mut run_time) = (Duration::ZERO, Duration::ZERO);
    for n in 0..story.days {
        let run_at = story.run_time(n);
        report.progress(n, run_at.date_naive());
        // Stripe's and GoCardless's deliveries of the day, in the order sent.
        loop {
            let stripe_at = deliveries.peek().map(|d| d.created);
            let gocardless_at = batches.peek().map(|b| b.sent);
            let next = match (stripe_at, gocardless_at) {
                (Some(s), Some(g)) if g < s && g <= run_at => batches.next().map(Next::GoCardless),
                (Some(s), _) if s <= run_at => deliveries.next().map(Next::Stripe),
                (_, Some(g)) if g <= run_at => batches.next().map(Next::GoCardless),
                _ => None,
            };
            let sent = Instant::now();
            match next {
                None => break,
                Some(Next::Stripe(delivery)) => {
                    stripe.record(delivery)?;
                    if delivery.lost {
                        report.lost(delivery).await?;
                        continue;
                    }
                    let (status, answer) = lambda.deliver(delivery)?;
                    webhook_time += sent.elapsed();
                    accepted(status, &answer, || {
                        format!("{} ({})", delivery.body["id"], delivery.kind())
                    })?;
                    let outcome = answer["outcome"].as_str().unwrap_or_default();
                    report.delivered(delivery, outcome).await?;
                }
                Some(Next::GoCardless(batch)) => {
                    let (status, answer) = lambda.deliver_gocardless(batch)?;
                    webhook_time += sent.elapsed();
                    accepted(status, &answer, || {
                        format!("the GoCardless batch sent at {}", batch.sent)
                    })?;
                    let outcomes = batch.outcomes(&answer);
                    answered.check(batch, &outcomes)?;
                    report.gocardless(batch, &outcomes).await?;
                }
            }
        }
        while let Some(promise) = promises.next_if(|p| p.at <= run_at) {
            let said = page.promise(promise).await?;
            report.promised(promise, &said).await?;
        }
        let invoked = Instant::now();
        let run = lambda.run_schedule(run_at)?;
        run_time += invoked.elapsed();
        if run["complete"] != true {
            return Err(DemoError::Lambda(format!(
                "the run at {run_at} did not finish: {run}"
            )));
        }
        runs += 1;
        report.ran().await?;
    }

    let statuses = report::final_table(&story, &store, &mut report).await?;
    // The morning digest staff would read after the last day.
    let due = DynamoDueIndex::new(
        aws_sdk_dynamodb::Client::new(&config),
        TableName::from_env()?,
    );
    let last = story.run_time(story.days.saturating_sub(1));
    let digest = digest::write(&store, &due, last, &args.out).await?;
    report.line("");
    report.line(&format!(
        "The staff's digest after the last day ({}; the aging chart: {}):",
        args.out.join("digest.txt").display(),
        args.out.join("aging.html").display()
    ));
    for line in digest.lines() {
        report.line(&format!("  {line}"));
    }
    let ses = lambda::ses_messages(&args.ses)?;
    let emails_dir = args.out.join("emails");
    let written = report::write_emails(&story, &store, &ses, &emails_dir).await?;
    report.line("");
    let webhooks =
        story.deliveries.iter().filter(|d| !d.lost).count() + story.gocardless.deliveries.len();
    report.line(&format!(
        "{webhooks} webhooks ({} ms each on average, emails included) and {runs} scheduled runs ({} ms each) in {:.0?}.",
        average_ms(webhook_time, webhooks),
        average_ms(run_time, runs),
        started.elapsed(),
    ));
    report.line(&format!(
        "{written} emails read back from the SES emulator: {}",
        emails_dir.join("index.html").display()
    ));
    let timeline = args.out.join("timeline.txt");
    std::fs::write(&timeline, report.text())
        .map_err(|e| DemoError::Output(format!("{}: {e}", timeline.display())))?;

    let mut wrong = Vec::new();
    for (plot, (_, status)) in story.plot.iter().zip(&statuses) {
        let fired = report.fired(&plot.account);
        if fired != plot.actions.as_slice() {
            wrong.push(format!(
                "  {}: fired {fired:?}, the story says {:?}",
                plot.account, plot.actions
            ));
        }
        if *status != plot.status {
            wrong.push(format!(
                "  {}: ends {status}, the story says {}",
                plot.account, plot.status
            ));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(DemoError::Plot(wrong.join("\n")))
    }
}
