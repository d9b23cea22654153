//! The account store against DynamoDB Local: exactly-once application under
//! concurrency, order independence, the due index, export/import, runs.

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use chrono::NaiveDate;
use pastdue_shared::adapters::dynamodb::{DynamoDueIndex, DynamoStore};
use pastdue_shared::config::TableName;
use pastdue_shared::domain::ActionMessage;
use pastdue_shared::domain::view::account_view;
use pastdue_shared::domain::{Account, AccountId, Event, Policy};
use pastdue_shared::ports::{
    ApplyFailure, ApplyOutcome, DueCandidates, MailClaim, MailKey, MailLog, Outbox, PublishActions,
    PublishError, StoreError,
};
use pastdue_shared::services::announce;
use pastdue_shared::services::{Accounts, Upsert};
use serde_json::{Value, json};
use support::apply_and_announce;

/// Records the DynamoDB operation of every request the client sends.
#[derive(Debug, Clone, Default)]
struct Operations(Arc<Mutex<Vec<String>>>);

impl Intercept for Operations {
    fn name(&self) -> &'static str {
        "record-operations"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let Some(target) = context.request().headers().get("x-amz-target") {
            let op = target.rsplit('.').next().unwrap_or(target).to_owned();
            self.0.lock().unwrap().push(op);
        }
        Ok(())
    }
}

impl Operations {
    fn seen(&self) -> BTreeSet<String> {
        self.0.lock().unwrap().iter().cloned().collect()
    }
}

/// The table and the use cases over it: `store.apply(..)` is the service,
/// everything else the adapter's own reads.
struct Store {
    table: DynamoStore,
    accounts: Accounts<DynamoStore>,
}

impl std::ops::Deref for Store {
    type Target = DynamoStore;
    fn deref(&self) -> &DynamoStore {
        &self.table
    }
}

impl Store {
    async fn apply(&self, event: &Event) -> Result<ApplyOutcome, ApplyFailure> {
        self.accounts.apply(event).await
    }
    async fn upsert_account(&self, account: &Account) -> Result<Upsert, StoreError> {
        self.accounts.upsert_account(account).await
    }
    async fn run_account(
        &self,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<Vec<pastdue_shared::domain::Action>, StoreError> {
        self.accounts.run_account(account, date).await
    }
}

async fn store(label: &str) -> (Store, TableName, Operations) {
    let (_, table) = support::fresh_table(label).await;
    let ops = Operations::default();
    let config = aws_sdk_dynamodb::config::Builder::from(&support::sdk_config().await)
        .interceptor(ops.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let store = DynamoStore::new(client, table.clone(), Policy::default());
    (
        Store {
            accounts: support::accounts(&store),
            table: store,
        },
        table,
        ops,
    )
}

fn account(id: &str) -> Account {
    Account::from_json(
        &json!({"id": id, "name": format!("Customer {id}"), "timezone": "UTC", "contacts": [
        {"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]},
        {"name": "Kevin Ortiz", "email": "kevin@whitfield.example", "roles": ["primary"]}]}),
    )
    .unwrap()
}

fn event(v: Value) -> Event {
    Event::from_json(&v).unwrap()
}

fn invoice(id: &str, acct: &str, inv: &str, amount: &str, due: &str, at: &str) -> Event {
    event(
        json!({"id": id, "at": at, "account": acct, "type": "invoice_issued", "invoice": inv, "amount": amount, "currency": "USD", "due": due}),
    )
}

fn payment(id: &str, acct: &str, inv: &str, amount: &str, pi: &str, at: &str) -> Event {
    event(
        json!({"id": id, "at": at, "account": acct, "type": "payment_succeeded", "invoice": inv, "amount": amount, "currency": "USD", "payment": pi}),
    )
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn view(store: &DynamoStore, id: &str, on: &str) -> Value {
    let loaded = store
        .load(&AccountId::parse(id).unwrap())
        .await
        .unwrap()
        .expect("account exists");
    account_view(&loaded.state, date(on), store.policy())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_distinct_events_to_one_account_all_land() {
    let (store, _, _) = store("conc-distinct").await;
    store.upsert_account(&account("acct_1")).await.unwrap();
    let events: Vec<Event> = (0..50)
        .map(|i| {
            invoice(
                &format!("e{i}"),
                "acct_1",
                &format!("in_{i:02}"),
                "10.00",
                "2026-01-15",
                "2026-01-01T10:00:00Z",
            )
        })
        .collect();
    let results = futures::future::join_all(events.iter().map(|e| store.apply(e))).await;
    for (e, r) in events.iter().zip(&results) {
        assert!(matches!(r, Ok(ApplyOutcome::Applied(_))), "{}: {r:?}", e.id);
    }
    let v = view(&store, "acct_1", "2026-01-20").await;
    assert_eq!(
        v["invoices"].as_array().unwrap().len(),
        50,
        "no lost update"
    );
    let timeline = store
        .timeline(&AccountId::parse("acct_1").unwrap())
        .await
        .unwrap();
    assert_eq!(timeline.iter().filter(|t| t.kind == "event").count(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_deliveries_of_one_event_apply_it_once() {
    let (store, _, _) = store("conc-same").await;
    store.upsert_account(&account("acct_1")).await.unwrap();
    store
        .apply(&invoice(
            "e0",
            "acct_1",
            "in_1",
            "100.00",
            "2026-01-15",
            "2026-01-01T10:00:00Z",
        ))
        .await
        .unwrap();
    let failed = event(
        json!({"id": "evt_failed", "at": "2026-01-16T10:00:00Z", "account": "acct_1", "type": "payment_failed", "invoice": "in_1", "amount": "100.00", "currency": "USD", "reason": "card_declined"}),
    );
    let results = futures::future::join_all((0..50).map(|_| store.apply(&failed))).await;
    let applied = results
        .iter()
        .filter(|r| matches!(r, Ok(ApplyOutcome::Applied(_))))
        .count();
    let duplicate = results
        .iter()
        .filter(|r| matches!(r, Ok(ApplyOutcome::Duplicate)))
        .count();
    assert_eq!((applied, duplicate), (1, 49), "{results:?}");
    let timeline = store
        .timeline(&AccountId::parse("acct_1").unwrap())
        .await
        .unwrap();
    let notices = timeline
        .iter()
        .filter(|t| t.summary.starts_with("payment_failed_notice"))
        .count();
    assert_eq!(notices, 1, "one notice, however many deliveries");
}

/// 40 events for one account: invoices (one re-issued), payments (one id
/// delivered twice), a refund, a void, disputes (one closed before it
/// opened), a hold, failures and card expiries, plus repeated deliveries.
fn forty_events() -> Vec<Event> {
    let a = "acct_1";
    let mut v = vec![
        invoice(
            "i1",
            a,
            "in_1",
            "100.00",
            "2026-01-15",
            "2026-01-01T10:00:00Z",
        ),
        invoice(
            "i2",
            a,
            "in_2",
            "250.00",
            "2026-02-15",
            "2026-02-01T10:00:00Z",
        ),
        invoice(
            "i3",
            a,
            "in_3",
            "80.00",
            "2026-03-15",
            "2026-03-01T10:00:00Z",
        ),
        invoice(
            "i3b",
            a,
            "in_3",
            "90.00",
            "2026-03-20",
            "2026-03-02T10:00:00Z",
        ),
        invoice(
            "i4",
            a,
            "in_4",
            "60.00",
            "2026-04-15",
            "2026-04-01T10:00:00Z",
        ),
        invoice(
            "i5",
            a,
            "in_5",
            "40.00",
            "2026-05-15",
            "2026-05-01T10:00:00Z",
        ),
        payment("p1", a, "in_1", "100.00", "pi_1", "2026-01-14T10:00:00Z"),
        payment("p1b", a, "in_1", "100.00", "pi_1", "2026-01-14T10:00:01Z"),
        payment("p2", a, "in_2", "100.00", "pi_2", "2026-02-20T10:00:00Z"),
        payment("p3", a, "in_3", "200.00", "pi_3", "2026-03-10T10:00:00Z"),
        payment("p9", a, "in_9", "30.00", "pi_9", "2026-03-11T10:00:00Z"),
        event(
            json!({"id": "r1", "at": "2026-03-12T10:00:00Z", "account": a, "type": "payment_refunded", "invoice": "in_3", "amount": "20.00", "currency": "USD", "refund": "re_1"}),
        ),
        event(
            json!({"id": "v1", "at": "2026-05-02T10:00:00Z", "account": a, "type": "invoice_voided", "invoice": "in_5"}),
        ),
        event(
            json!({"id": "d1", "at": "2026-02-01T10:00:00Z", "account": a, "type": "dispute_opened", "invoice": "in_1", "dispute": "dp_1", "amount": "100.00", "currency": "USD"}),
        ),
        event(
            json!({"id": "d1c", "at": "2026-02-10T10:00:00Z", "account": a, "type": "dispute_closed", "dispute": "dp_1", "outcome": "lost"}),
        ),
        event(
            json!({"id": "d2", "at": "2026-04-20T10:00:00Z", "account": a, "type": "dispute_opened", "invoice": "in_4", "dispute": "dp_2", "amount": "60.00", "currency": "USD"}),
        ),
        event(
            json!({"id": "h1", "at": "2026-02-21T10:00:00Z", "account": a, "type": "hold_placed", "until": "2026-03-06", "reason": "will pay"}),
        ),
        event(
            json!({"id": "c1", "at": "2026-02-22T10:00:00Z", "account": a, "type": "card_expiring", "card": "card_1", "exp_month": 4, "exp_year": 2026}),
        ),
    ];
    for i in 0..10 {
        v.push(event(json!({"id": format!("f{i}"), "at": format!("2026-02-{:02}T09:00:00Z", 2 + i), "account": a, "type": "payment_failed", "invoice": "in_2", "amount": "250.00", "currency": "USD", "reason": "declined"})));
    }
    let repeats: Vec<Event> = v.iter().take(12).cloned().collect();
    v.extend(repeats);
    assert_eq!(v.len(), 40);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_forty_events_in_five_orders_give_the_same_account() {
    let mut shown = Vec::new();
    for round in 0..5u64 {
        let (store, _, _) = store(&format!("order{round}")).await;
        store.upsert_account(&account("acct_1")).await.unwrap();
        let mut events = forty_events();
        fastrand::Rng::with_seed(round).shuffle(&mut events);
        for e in &events {
            store
                .apply(e)
                .await
                .unwrap_or_else(|err| panic!("{}: {err}", e.id));
        }
        shown.push(view(&store, "acct_1", "2026-06-01").await);
    }
    for other in &shown[1..] {
        assert_eq!(&shown[0], other);
    }
    let first = &shown[0];
    // Dispute lost: in_1's 100.00 is owed again, less the 90.00 credit that
    // in_3's over-payment gives its oldest effective due invoice.
    assert_eq!(first["invoices"][0]["outstanding"], "100.00");
    assert_eq!(first["invoices"][0]["owed"], "10.00");
    assert_eq!(
        first["invoices"][2]["amount"], "90.00",
        "the later invoice_issued wins"
    );
    assert_eq!(first["invoices"][3]["in_dispute"], true);
}

#[tokio::test]
async fn the_due_index_holds_exactly_what_the_engine_considers_and_nothing_scans() {
    let (store, table, ops) = store("gsi").await;
    let at = "2026-01-01T10:00:00Z";
    for id in [
        "a_paid",
        "a_late",
        "a_dust",
        "a_future",
        "a_disputed",
        "a_void",
        "a_credit",
        "a_two",
    ] {
        store.upsert_account(&account(id)).await.unwrap();
    }
    let events = vec![
        invoice("1", "a_paid", "in", "100.00", "2026-01-15", at),
        payment("2", "a_paid", "in", "100.00", "pi_a", at),
        invoice("3", "a_late", "in", "100.00", "2026-01-15", at),
        invoice("4", "a_dust", "in", "100.00", "2026-01-15", at),
        payment("5", "a_dust", "in", "99.50", "pi_b", at),
        invoice("6", "a_future", "in", "100.00", "2026-02-15", at),
        invoice("7", "a_disputed", "in", "100.00", "2026-01-15", at),
        event(
            json!({"id": "8", "at": at, "account": "a_disputed", "type": "dispute_opened", "invoice": "in", "dispute": "dp", "amount": "50.00", "currency": "USD"}),
        ),
        invoice("9", "a_void", "in", "100.00", "2026-01-15", at),
        event(
            json!({"id": "10", "at": at, "account": "a_void", "type": "invoice_voided", "invoice": "in"}),
        ),
        invoice("11", "a_credit", "old", "10.00", "2026-01-01", at),
        payment("12", "a_credit", "old", "200.00", "pi_c", at),
        invoice("13", "a_credit", "new", "100.00", "2026-01-10", at),
        invoice("14", "a_two", "x", "100.00", "2026-01-05", at),
        invoice("15", "a_two", "y", "100.00", "2026-01-12", at),
    ];
    for e in &events {
        store.apply(e).await.unwrap();
    }
    let due = DynamoDueIndex::new(
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&support::sdk_config().await)
                .interceptor(ops.clone())
                .build(),
        ),
        table,
    );
    for on in ["2026-01-06", "2026-01-16", "2026-03-01"] {
        let d = date(on);
        let from_index: BTreeSet<String> = due
            .accounts_due_before(d)
            .await
            .unwrap()
            .iter()
            .map(|a| a.to_string())
            .collect();
        let mut by_engine = BTreeSet::new();
        for summary in store.list(None).await.unwrap() {
            let loaded = store.load(&summary.id).await.unwrap().unwrap();
            if !loaded.state.overdue(d, store.policy()).is_empty() {
                by_engine.insert(summary.id.to_string());
            }
        }
        assert_eq!(from_index, by_engine, "on {on}");
    }
    store.export_items().await.unwrap();
    let seen = ops.seen();
    assert!(
        seen.contains("Query") && seen.contains("TransactWriteItems"),
        "{seen:?}"
    );
    assert!(!seen.contains("Scan"), "a Scan was issued: {seen:?}");
}

#[tokio::test]
async fn export_then_import_into_an_empty_table_reproduces_every_account() {
    let (source, _, _) = store("export").await;
    for id in ["acct_1", "acct_2"] {
        source.upsert_account(&account(id)).await.unwrap();
    }
    for e in forty_events() {
        source.apply(&e).await.unwrap();
    }
    source
        .apply(&invoice(
            "x1",
            "acct_2",
            "in_1",
            "75.00",
            "2026-01-15",
            "2026-01-01T10:00:00Z",
        ))
        .await
        .unwrap();
    source
        .run_account(&AccountId::parse("acct_2").unwrap(), date("2026-01-16"))
        .await
        .unwrap();
    let items = source.export_items().await.unwrap();

    let (target, _, _) = store("import").await;
    let (written, skipped) = target.import_items(items.clone()).await.unwrap();
    assert_eq!((written, skipped), (items.len(), 0));
    for id in ["acct_1", "acct_2"] {
        assert_eq!(
            view(&source, id, "2026-06-01").await,
            view(&target, id, "2026-06-01").await,
            "{id}"
        );
        let aid = AccountId::parse(id).unwrap();
        assert_eq!(
            source.timeline(&aid).await.unwrap(),
            target.timeline(&aid).await.unwrap()
        );
    }
    assert_eq!(
        target
            .find_link("pi_2")
            .await
            .unwrap()
            .map(|(a, i)| (a.to_string(), i.to_string())),
        Some(("acct_1".into(), "in_2".into()))
    );
    // Already-applied events stay applied after a migration.
    assert_eq!(
        target.apply(&forty_events()[0]).await.unwrap(),
        ApplyOutcome::Duplicate
    );
    assert_eq!(
        target.import_items(items).await.unwrap(),
        (0, written),
        "nothing overwritten"
    );
}

#[tokio::test]
async fn a_run_is_stored_once_per_local_date() {
    let (store, _, _) = store("run").await;
    let id = AccountId::parse("acct_1").unwrap();
    store.upsert_account(&account("acct_1")).await.unwrap();
    store
        .apply(&invoice(
            "e1",
            "acct_1",
            "in_1",
            "100.00",
            "2026-01-15",
            "2026-01-01T10:00:00Z",
        ))
        .await
        .unwrap();
    let first = store.run_account(&id, date("2026-01-16")).await.unwrap();
    assert_eq!(
        first.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(),
        ["reminder_1"]
    );
    assert!(
        store
            .run_account(&id, date("2026-01-16"))
            .await
            .unwrap()
            .is_empty()
    );
    let v = view(&store, "acct_1", "2026-01-16").await;
    assert_eq!(v["episode"]["fired"]["reminder_1"], "2026-01-16");
    for d in ["2026-01-22", "2026-01-29"] {
        store.run_account(&id, date(d)).await.unwrap();
    }
    // No final notice is recorded as sent: suspension waits, the warning
    // goes out again.
    let unwarned = store.run_account(&id, date("2026-02-05")).await.unwrap();
    assert_eq!(
        unwarned.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(),
        ["final_notice"]
    );
    assert_eq!(unwarned[0].suspend_on, Some(date("2026-02-12")));
    assert_eq!(
        view(&store, "acct_1", "2026-02-05").await["status"],
        "active"
    );
    // The notifier records that warning as delivered to Dana.
    let key = MailKey {
        account: &id,
        message: "acct_1:2026-01-16:final_notice:2026-02-05",
        recipient: "dana@whitfield.example",
    };
    let at = "2026-02-05T09:00:05Z".parse().unwrap();
    assert_eq!(
        store
            .claim_mail(&key, at, chrono::Duration::minutes(10))
            .await
            .unwrap(),
        MailClaim::Claimed
    );
    store
        .mail_sent(
            &key,
            "ses-1",
            at,
            &json!({"date": "2026-02-05", "audience": "contact", "action": "final_notice"}),
        )
        .await
        .unwrap();
    store.run_account(&id, date("2026-02-12")).await.unwrap();
    assert_eq!(
        view(&store, "acct_1", "2026-02-12").await["status"],
        "suspended"
    );
    // A payment that ends the episode after a suspension reinstates.
    let paid = store
        .apply(&payment(
            "e2",
            "acct_1",
            "in_1",
            "100.00",
            "pi_1",
            "2026-02-13T10:00:00Z",
        ))
        .await
        .unwrap();
    let ApplyOutcome::Applied(actions) = paid else {
        panic!("{paid:?}")
    };
    assert_eq!(
        actions.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(),
        ["reinstate"]
    );
    assert_eq!(
        view(&store, "acct_1", "2026-02-13").await["status"],
        "active"
    );
}

#[tokio::test]
async fn refused_events_change_nothing_and_can_be_corrected() {
    let (store, _, _) = store("refuse").await;
    let id = AccountId::parse("acct_1").unwrap();
    let unknown = store
        .apply(&invoice(
            "e1",
            "acct_1",
            "in_1",
            "100.00",
            "2026-01-15",
            "2026-01-01T10:00:00Z",
        ))
        .await;
    assert!(
        matches!(unknown, Err(ApplyFailure::UnknownAccount(_))),
        "{unknown:?}"
    );
    store.upsert_account(&account("acct_1")).await.unwrap();
    store
        .apply(&invoice(
            "e1",
            "acct_1",
            "in_1",
            "100.00",
            "2026-01-15",
            "2026-01-01T10:00:00Z",
        ))
        .await
        .unwrap();
    let before = store.load(&id).await.unwrap();
    let eur = event(
        json!({"id": "e2", "at": "2026-01-10T10:00:00Z", "account": "acct_1", "type": "payment_succeeded", "invoice": "in_1", "amount": "100.00", "currency": "EUR"}),
    );
    let refused = store.apply(&eur).await;
    assert!(
        matches!(refused, Err(ApplyFailure::Rejected(_)))
            && !refused.as_ref().unwrap_err().is_retryable()
    );
    assert_eq!(store.load(&id).await.unwrap(), before, "nothing written");
    let fixed = payment(
        "e2",
        "acct_1",
        "in_1",
        "100.00",
        "pi_1",
        "2026-01-10T10:00:00Z",
    );
    assert!(
        matches!(store.apply(&fixed).await.unwrap(), ApplyOutcome::Applied(_)),
        "the id was not burnt by the refusal"
    );
}

async fn applied_as(store: &Store, event: Event, outcome: &str) {
    assert_eq!(
        store.apply(&event).await.unwrap().as_str(),
        outcome,
        "{}",
        event.id
    );
}

/// (RCU, WCU as DynamoDB Local reports them, items written) per call of `step`.
async fn measure<F, Fut>(store: &DynamoStore, n: u32, step: F) -> (f64, f64, f64)
where
    F: Fn(u32) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let c = store.capacity();
    let (r, w, items) = (c.reads(), c.writes(), c.items_written());
    for i in 0..n {
        step(i).await;
    }
    let per = |x: f64| x / f64::from(n);
    (
        per(c.reads() - r),
        per(c.writes() - w),
        per((c.items_written() - items) as f64),
    )
}

#[tokio::test]
async fn cost_per_event_and_per_evaluated_account() {
    let (store, _, _) = store("cost").await;
    let n = 20;
    for i in 0..n {
        store
            .upsert_account(&account(&format!("acct_{i}")))
            .await
            .unwrap();
    }
    let acct = |i: u32| format!("acct_{i}");
    let at = ("2026-01-01T10:00:00Z", "2026-01-10T10:00:00Z");
    let issued = measure(&store, n, |i| {
        applied_as(
            &store,
            invoice(
                &format!("i{i}"),
                &acct(i),
                "in_1",
                "100.00",
                "2026-01-15",
                at.0,
            ),
            "applied",
        )
    })
    .await;
    let pay = |i: u32| {
        payment(
            &format!("p{i}"),
            &acct(i),
            "in_1",
            "40.00",
            &format!("pi_{i}"),
            at.1,
        )
    };
    let paid = measure(&store, n, |i| applied_as(&store, pay(i), "applied")).await;
    let duplicate = measure(&store, n, |i| applied_as(&store, pay(i), "duplicate")).await;
    let quiet_run = measure(&store, n, |i| {
        let store = &store;
        async move {
            assert!(
                store
                    .run_account(&AccountId::parse(&acct(i)).unwrap(), date("2026-01-15"))
                    .await
                    .unwrap()
                    .is_empty()
            )
        }
    })
    .await;
    // A step that fires is stored with its outbox entry, then published
    // and marked announced.
    let bus = RecordingBus::default();
    let firing_run = measure(&store, n, |i| {
        let (store, bus) = (&store, &bus);
        async move {
            let id = AccountId::parse(&acct(i)).unwrap();
            assert_eq!(
                store
                    .run_account(&id, date("2026-01-16"))
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert_eq!(announce(&store.table, bus, &id).await.unwrap(), 1);
        }
    })
    .await;
    for (what, (r, w, items)) in [
        ("invoice_issued", issued),
        ("payment_succeeded", paid),
        ("duplicate delivery", duplicate),
        ("run, nothing fires", quiet_run),
        ("run, a step fires", firing_run),
    ] {
        println!("{what}: {r:.2} RCU, {w:.2} WCU reported, {items:.1} items written");
    }
    assert!(
        issued.1 > 0.0 && firing_run.1 > 0.0,
        "DynamoDB Local reports consumed capacity"
    );
    // The cost figures of docs/performance.md rest on these.
    assert_eq!(
        (issued.2, paid.2, duplicate.2, quiet_run.2, firing_run.2),
        (6.0, 6.0, 0.0, 1.0, 3.0)
    );
    assert!(
        duplicate.0 <= 1.0 && duplicate.1 == 0.0,
        "a duplicate costs one read: {duplicate:?}"
    );
}

/// A bus that records what it is given, or refuses everything while down.
#[derive(Debug, Clone, Default)]
struct RecordingBus {
    sent: Arc<Mutex<Vec<ActionMessage>>>,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl RecordingBus {
    fn sent(&self) -> Vec<ActionMessage> {
        self.sent.lock().unwrap().clone()
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }
}

impl PublishActions for RecordingBus {
    async fn publish_actions(&self, messages: &[ActionMessage]) -> Result<(), PublishError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(PublishError::Unavailable("bus down".into()));
        }
        self.sent.lock().unwrap().extend_from_slice(messages);
        Ok(())
    }
}

#[tokio::test]
async fn actions_are_published_once_even_when_the_bus_fails_between_apply_and_publish() {
    let (store, _, _) = store("outbox").await;
    let id = AccountId::parse("acct_1").unwrap();
    store.upsert_account(&account("acct_1")).await.unwrap();
    let bus = RecordingBus::default();
    apply_and_announce(
        &store,
        &bus,
        &invoice(
            "e1",
            "acct_1",
            "in_1",
            "120.00",
            "2026-01-15",
            "2026-01-01T10:00:00Z",
        ),
    )
    .await
    .unwrap();
    assert!(bus.sent().is_empty(), "an invoice causes no action");

    let failed = event(
        json!({"id": "e2", "at": "2026-01-20T10:00:00Z", "account": "acct_1", "type": "payment_failed", "invoice": "in_1", "amount": "120.00", "currency": "USD", "reason": "card_declined"}),
    );
    // The bus is down: the event is applied (its claim and the pending
    // action are one transaction) but the caller is told to retry.
    bus.set_down(true);
    let err = apply_and_announce(&store, &bus, &failed)
        .await
        .expect_err("a bus failure is reported");
    assert!(err.is_retryable(), "{err}");
    assert_eq!(store.pending_actions(&id).await.unwrap().len(), 1);

    // The processor retries: a duplicate now, and the pending action goes out.
    bus.set_down(false);
    let again = apply_and_announce(&store, &bus, &failed).await.unwrap();
    assert_eq!(again, ApplyOutcome::Duplicate);
    let sent = bus.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let m = &sent[0];
    assert_eq!(m.action, "payment_failed_notice");
    assert_eq!(m.id, "acct_1:e2:payment_failed_notice");
    assert_eq!(m.account_name, "Customer acct_1");
    assert_eq!(m.recipients.len(), 1);
    assert_eq!(m.recipients[0].name, "Dana Whitfield");
    assert_eq!(m.amounts[0].owed, "120.00");
    assert_eq!(m.amounts[0].days_overdue, 5);
    assert_eq!(m.cause, "event e2");

    // A third delivery publishes nothing more.
    apply_and_announce(&store, &bus, &failed).await.unwrap();
    assert_eq!(announce(&store.table, &bus, &id).await.unwrap(), 0);
    assert_eq!(bus.sent().len(), 1);
    assert!(store.pending_actions(&id).await.unwrap().is_empty());

    // Run actions wait in the outbox the same way, with their episode.
    store.run_account(&id, date("2026-01-16")).await.unwrap();
    assert_eq!(announce(&store.table, &bus, &id).await.unwrap(), 1);
    let reminder = bus.sent().pop().unwrap();
    assert_eq!(reminder.action, "reminder_1");
    assert_eq!(reminder.id, "acct_1:2026-01-16:reminder_1:2026-01-16");
    assert_eq!(reminder.episode, Some(date("2026-01-16")));
    assert_eq!(reminder.cause, "run 2026-01-16");
    // The timeline keeps every action for good.
    let timeline = store.timeline(&id).await.unwrap();
    assert_eq!(
        timeline.iter().filter(|t| t.kind == "action").count(),
        2,
        "{timeline:?}"
    );
}
