//! `pastdue reconcile`: pastdue's open invoices against Stripe's. Prints
//! every difference (a table, or `--json`), and with `--apply` takes each
//! differing invoice from Stripe's API through the webhook's own path.
//! Exits 1 when it found drift, so a cron job notices.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use pastdue_shared::adapters::dynamodb::{DynamoDueIndex, DynamoStore};
use pastdue_shared::adapters::stripe_api::{InvoicesQuery, STRIPE_VERSION, StripeApi};
use pastdue_shared::domain::drift::{Drift, DriftKind, TheirInvoice, compare, open_here};
use pastdue_shared::domain::engine::local_date;
use pastdue_shared::domain::{AccountId, InvoiceId, Via};
use pastdue_shared::ports::DueCandidates;
use pastdue_shared::processors::stripe::current::{InvoiceFacts, invoice_event, invoice_facts};
use pastdue_shared::processors::stripe::mapping::read_delivery;
use pastdue_shared::services::deliver::{DeliveryPath, Taken};
use serde_json::json;

use crate::Failure;
use crate::ops::{Bus, Service};

/// What to compare.
pub struct Scope {
    /// Only Stripe invoices created on or after this date (UTC).
    pub since: Option<NaiveDate>,
    /// Only this customer.
    pub account: Option<AccountId>,
    pub apply: bool,
    /// Onboarding: Stripe's uncollectible invoices too, not only the open
    /// ones, and a progress line while applying.
    pub all: bool,
}

fn api_failure(e: impl std::fmt::Display) -> Failure {
    Failure::internal(format!("Stripe's API: {e}"))
}

/// Stripe's open invoices in `scope` (and uncollectible ones with
/// `--all`), by customer, every page.
async fn stripe_open(
    api: &StripeApi,
    scope: &Scope,
) -> Result<BTreeMap<String, Vec<InvoiceFacts>>, Failure> {
    let mut by_customer: BTreeMap<String, Vec<InvoiceFacts>> = BTreeMap::new();
    let statuses: &[&str] = if scope.all {
        &["open", "uncollectible"]
    } else {
        &["open"]
    };
    for status in statuses {
        let mut query = InvoicesQuery {
            status: (*status).into(),
            customer: scope.account.as_ref().map(ToString::to_string),
            created_gte: scope
                .since
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp()),
            starting_after: None,
        };
        loop {
            let page = api.invoices(&query).await.map_err(api_failure)?;
            for raw in &page.items {
                let facts = invoice_facts(raw.get().as_bytes()).map_err(api_failure)?;
                if let Some(customer) = facts.customer.clone() {
                    by_customer.entry(customer).or_default().push(facts);
                }
            }
            match (page.has_more, page.last_id()) {
                (true, Some(last)) => query.starting_after = Some(last),
                _ => break,
            }
        }
    }
    Ok(by_customer)
}

fn theirs(facts: &InvoiceFacts, tz: Tz) -> Result<TheirInvoice, Failure> {
    Ok(TheirInvoice {
        id: InvoiceId::parse(&facts.id).map_err(|e| api_failure(e.to_string()))?,
        status: facts.status.clone(),
        owed: facts.owed,
        due: facts.due_at.map(|t| local_date(t, tz)),
    })
}

/// Every difference in `scope`, account by account, and the invoices read
/// from Stripe one by one on the way (payments expanded), so `--apply`
/// does not read them again.
struct Found {
    drift: Vec<Drift>,
    read: BTreeMap<InvoiceId, Vec<u8>>,
}

/// Every difference in `scope`, account by account.
async fn find(
    api: &StripeApi,
    accounts: &Service,
    due: &DynamoDueIndex,
    scope: &Scope,
) -> Result<Found, Failure> {
    let open = stripe_open(api, scope).await?;
    let mut ids: BTreeSet<AccountId> = BTreeSet::new();
    match &scope.account {
        Some(one) => {
            ids.insert(one.clone());
        }
        None => {
            // Accounts with an invoice pastdue expects money on: the due
            // index holds exactly those (never a scan).
            let far = Utc::now().date_naive() + chrono::Duration::days(3_650);
            let listed = due
                .accounts_due_before(far)
                .await
                .map_err(|e| Failure::internal(e.to_string()))?;
            ids.extend(listed);
            for customer in open.keys() {
                if let Ok(id) = AccountId::parse(customer) {
                    ids.insert(id);
                }
            }
        }
    }
    let mut drift = Vec::new();
    let mut read = BTreeMap::new();
    for id in ids {
        let loaded = accounts
            .store()
            .load(&id)
            .await
            .map_err(|e| Failure::internal(e.to_string()))?;
        let tz = loaded
            .as_ref()
            .map_or(Tz::UTC, |l| l.state.account.timezone);
        let mut known: Vec<TheirInvoice> = open
            .get(id.as_str())
            .into_iter()
            .flatten()
            .map(|f| theirs(f, tz))
            .collect::<Result<_, _>>()?;
        // pastdue's open invoices that Stripe did not list as open: ask
        // for each (paid, void, uncollectible, or none at all).
        if let Some(loaded) = &loaded {
            for inv in loaded.state.invoices() {
                if !open_here(inv) || known.iter().any(|t| t.id == inv.id) {
                    continue;
                }
                if let Some(body) = api.invoice(inv.id.as_str()).await.map_err(api_failure)? {
                    known.push(theirs(&invoice_facts(&body).map_err(api_failure)?, tz)?);
                    read.insert(inv.id.clone(), body);
                }
            }
        }
        drift.extend(compare(
            &id,
            loaded.as_ref().map(|l| l.state.invoices()),
            &known,
        ));
    }
    Ok(Found { drift, read })
}

/// What `--apply` did.
#[derive(Debug, Default)]
struct Applied {
    /// Invoices taken from Stripe that changed something.
    invoices: usize,
    /// Accounts created for Stripe customers pastdue did not have.
    customers: usize,
}

/// Takes each fixable drifted invoice from Stripe through the webhook's
/// path. Each is applied exactly once whatever happens, so a run stopped
/// half-way is simply run again: what it applied is no longer drift.
async fn apply(
    api: &StripeApi,
    store: &DynamoStore,
    accounts: &Service,
    bus: &Bus,
    found: &Found,
    progress: bool,
) -> Result<Applied, Failure> {
    let drift = &found.drift;
    let path = DeliveryPath {
        store,
        accounts,
        bus,
        via: Some(Via::Reconciliation),
    };
    let invoices: BTreeSet<&InvoiceId> = drift
        .iter()
        .filter(|d| d.fixable())
        .filter_map(|d| d.invoice.as_ref())
        .collect();
    let now = Utc::now().timestamp();
    let total = invoices.len();
    let mut applied = Applied {
        customers: drift
            .iter()
            .filter(|d| d.kind == DriftKind::CustomerMissing)
            .count(),
        ..Applied::default()
    };
    for (n, invoice) in invoices.into_iter().enumerate() {
        if progress && (n % 100 == 0 || n + 1 == total) {
            eprintln!(
                "pastdue reconcile: taking invoice {} of {total} from Stripe",
                n + 1
            );
        }
        let fetched;
        let body = match found.read.get(invoice) {
            Some(body) => body,
            None => match api.invoice(invoice.as_str()).await.map_err(api_failure)? {
                Some(body) => {
                    fetched = body;
                    &fetched
                }
                None => continue,
            },
        };
        let event = invoice_event(body, STRIPE_VERSION, now).map_err(api_failure)?;
        let delivery = read_delivery(&event).map_err(api_failure)?;
        match path.take("stripe", delivery.as_ref(), now).await {
            Taken::Events {
                outcome: "applied" | "accepted",
                ..
            } => applied.invoices += 1,
            Taken::Refused(why) => {
                return Err(Failure::internal(format!("{invoice}: refused: {why}")));
            }
            Taken::Unavailable(why) => {
                return Err(Failure::internal(format!("{invoice}: {why}")));
            }
            _ => {}
        }
    }
    Ok(applied)
}

/// `pastdue reconcile [--since D] [--account ID] [--apply]`.
pub async fn run(
    api: &StripeApi,
    store: &DynamoStore,
    accounts: &Service,
    bus: &Bus,
    due: &DynamoDueIndex,
    scope: &Scope,
    json_out: bool,
) -> Result<String, Failure> {
    let found = find(api, accounts, due, scope).await?;
    let drift = &found.drift;
    let applied = if scope.apply && !drift.is_empty() {
        Some(apply(api, store, accounts, bus, &found, scope.all).await?)
    } else {
        None
    };
    let out = if json_out {
        let applied = applied
            .as_ref()
            .map(|a| json!({"invoices": a.invoices, "customers": a.customers}));
        serde_json::to_string_pretty(&json!({"drift": drift, "applied": applied}))
            .map_err(|e| Failure::internal(e.to_string()))?
    } else {
        let mut out = String::new();
        if !drift.is_empty() {
            let _ = writeln!(
                out,
                "{:<24} {:<28} {:<22} {:<30} stripe",
                "account", "invoice", "drift", "pastdue"
            );
        }
        for d in drift {
            let kind = serde_json::to_value(d.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let invoice = d
                .invoice
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<24} {:<28} {:<22} {:<30} {}",
                d.account, invoice, kind, d.pastdue, d.processor
            );
        }
        let _ = write!(out, "{} difference(s)", drift.len());
        if let Some(a) = &applied {
            let _ = write!(
                out,
                "; {} invoice(s) applied from Stripe, {} new customer(s)",
                a.invoices, a.customers
            );
        }
        out
    };
    if drift.is_empty() {
        Ok(out)
    } else {
        Err(Failure::found(out))
    }
}
