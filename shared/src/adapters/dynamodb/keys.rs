//! The single-table key layout. The attribute and index names must match the
//! `Table` resource in `infra/template.yaml` (a test checks they do).

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::domain::{AccountId, Currency};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1_PK: &str = "GSI1PK";
pub const GSI1_SK: &str = "GSI1SK";
pub const GSI2_PK: &str = "GSI2PK";
pub const GSI2_SK: &str = "GSI2SK";
/// The account's IANA time zone on indexed invoice items (projected into
/// `ByDue`).
pub const TZ_ATTRIBUTE: &str = "tz";
/// Epoch seconds after which DynamoDB may expire an item (claims and
/// announced outbox entries: delivery bookkeeping, never billing history).
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// Sparse index of invoices that can need dunning, by effective due date.
pub const DUE_INDEX: &str = "ByDue";
/// Accounts by status, so listing needs no scan.
pub const STATUS_INDEX: &str = "ByStatus";

/// Write shards of the due index: candidates spread over this many
/// partitions, so neither the daily run nor invoice writes make a hot key.
pub const DUE_SHARDS: u16 = 16;

pub const ACCOUNT_PREFIX: &str = "ACCT#";

/// Sort key of an account's state item.
pub const STATE_SK: &str = "STATE";
/// Sort-key prefixes inside an account partition. In key order:
/// `ACT#` < `EVT#` < `INV#` < `STATE` < `TL#`.
pub const CLAIM_PREFIX: &str = "EVT#";
/// The action outbox: every action, written with the change that caused
/// it, `pending` until the bus has it.
pub const ACTION_PREFIX: &str = "ACT#";
pub const INVOICE_PREFIX: &str = "INV#";
pub const TIMELINE_PREFIX: &str = "TL#";
/// Sort key of an account's card-notice item: in the due index while a
/// card notice is pending, so the daily run finds the account; outside
/// what loading an account reads.
pub const CARD_SK: &str = "CARD";
/// Sort key of a payment link item.
pub const LINK_SK: &str = "LINK";
/// Sort key of a processor delivery claim.
pub const DELIVERY_SK: &str = "DLV";
/// Sort key prefix of an account's failed-run counter (`FAIL#<date>`); it
/// sorts before `INV#`, outside what loading an account reads.
pub const RUN_FAILURE_PREFIX: &str = "FAIL#";
/// A failed-run counter's attempts so far.
pub const ATTEMPTS: &str = "attempts";
/// Sort key of a due-index shard's run checkpoint.
pub const CHECKPOINT_SK: &str = "RUN";
/// Event-id claims expire after this many days (processors retry for 3).
pub const CLAIM_TTL_DAYS: i64 = 35;

// Attributes beside the keys.
/// The item's JSON document (state, invoice, timeline entry, message).
pub const DATA: &str = "data";
/// The account state's version: every commit is conditional on it.
pub const VERSION: &str = "version";
/// Lifecycle of claims, outbox entries and mail (see [`super::states`]).
pub const STATE: &str = "state";
/// The account's name and status on its state item (projected for lists).
pub const NAME: &str = "name";
pub const STATUS: &str = "status";
/// Why a mail log entry was refused.
pub const REASON: &str = "reason";
/// A checkpoint's instant (RFC 3339, UTC, seconds).
pub const UNTIL: &str = "until";

pub fn invoice_sk(invoice: &crate::domain::InvoiceId) -> String {
    format!("{INVOICE_PREFIX}{invoice}")
}

pub fn claim_sk(event: &crate::domain::EventId) -> String {
    format!("{CLAIM_PREFIX}{event}")
}

/// `TL#<version>#<n>`: the timeline sorts by the state version that wrote it.
pub fn timeline_sk(version: u64, n: usize) -> String {
    format!("{TIMELINE_PREFIX}{version:012}#{n:03}")
}

/// `ACT#<version>#<n>`: an outbox entry, ordered like the timeline.
pub fn action_sk(version: u64, n: usize) -> String {
    format!("{ACTION_PREFIX}{version:012}#{n:03}")
}

/// The account version a timeline or outbox sort key was written at.
pub fn version_in_sk(sk: &str) -> Option<u64> {
    let rest = sk
        .strip_prefix(TIMELINE_PREFIX)
        .or_else(|| sk.strip_prefix(ACTION_PREFIX))?;
    rest.split('#').next()?.parse().ok()
}

/// `MAIL#<account>`: the mail log of one account, outside its partition so
/// the notifier's writes cannot touch billing items.
pub fn mail_pk(account: &AccountId) -> String {
    format!("MAIL#{account}")
}

/// `<action message id>#<recipient email>`: one notice to one person.
pub fn mail_sk(message: &str, recipient: &str) -> String {
    format!("{message}#{recipient}")
}

/// `DLV#<processor>#<delivery id>`: one processor delivery, claimed once.
pub fn delivery_pk(processor: &str, delivery: &str) -> String {
    format!("DLV#{processor}#{delivery}")
}

/// `FAIL#<date>`: the failed attempts of one account's run of `date`.
pub fn run_failure_sk(date: chrono::NaiveDate) -> String {
    format!("{RUN_FAILURE_PREFIX}{date}")
}

/// `RUN#<shard>`: the daily run's checkpoint for one due-index shard.
/// `RECONCILE#<processor>`: where reconciliation stands with a processor.
pub fn reconcile_pk(processor: &str) -> String {
    format!("RECONCILE#{processor}")
}

/// Sort key of a reconciliation checkpoint.
pub const RECONCILE_SK: &str = "RECONCILE";

pub fn checkpoint_pk(shard: u16) -> String {
    format!("RUN#{shard:02}")
}

/// `LINK#<payment or charge id>`: finds the invoice a processor id paid.
pub fn link_pk(payment: &str) -> String {
    format!("LINK#{payment}")
}

/// `STATUS#<status>`: the status index partition.
pub fn status_pk(status: &str) -> String {
    format!("STATUS#{status}")
}

/// `ACCT#<account>`: the partition holding everything about one account.
pub fn account_pk(account: &AccountId) -> String {
    format!("{ACCOUNT_PREFIX}{account}")
}

/// The account id back from an `ACCT#<account>` partition key.
pub fn account_from_pk(pk: &str) -> Option<AccountId> {
    pk.strip_prefix(ACCOUNT_PREFIX)
        .and_then(|raw| AccountId::parse(raw).ok())
}

/// The due-index shard of an account: a stable hash (FNV-1a), so every
/// invoice of one account lands in the same shard.
pub fn due_shard(account: &AccountId) -> u16 {
    let hash = account
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    // The remainder is below DUE_SHARDS, so it fits.
    (hash % u64::from(DUE_SHARDS)) as u16
}

/// `DUE#07`: the due index partition key of a shard.
pub fn due_shard_pk(shard: u16) -> String {
    format!("DUE#{shard:02}")
}

/// `<effective due>#<account>#<invoice>`: sorts by date, so "due before X"
/// is a key condition `GSI1SK < X`.
pub fn due_sort_key(effective_due: NaiveDate, account: &AccountId, invoice: &str) -> String {
    format!("{effective_due}#{account}#{invoice}")
}

/// An invoice's due-index sort key with what is owed on it:
/// `<effective due>#<account>#<invoice>#<owed>#<currency>`, so the aging
/// report reads receivables from the index alone. Ids never hold `#`.
pub fn owed_sort_key(
    effective_due: NaiveDate,
    account: &AccountId,
    invoice: &str,
    owed: &str,
    currency: Currency,
) -> String {
    format!("{effective_due}#{account}#{invoice}#{owed}#{currency}")
}

/// A due-index sort key read back: the due date, the account, the item
/// (an invoice id, or [`CARD_SK`]) and, for invoices indexed with it, what
/// is owed.
pub type DueKey<'a> = (NaiveDate, AccountId, &'a str, Option<(Decimal, Currency)>);

/// Reads a due-index sort key back ([`DueKey`]).
pub fn parse_due_sort_key(sk: &str) -> Option<DueKey<'_>> {
    let mut parts = sk.split('#');
    let due = parts.next()?.parse().ok()?;
    let account = AccountId::parse(parts.next()?).ok()?;
    let item = parts.next()?;
    let owed = match (parts.next(), parts.next()) {
        (Some(amount), Some(currency)) => {
            Some((amount.parse().ok()?, Currency::parse(currency).ok()?))
        }
        _ => None,
    };
    Some((due, account, item, owed))
}

/// `ATTN#issued#<date>#<shard>`: a status-index partition listing the
/// invoices first issued on `date` (the aging report's sales), one per
/// due shard so a billing day's burst spreads over [`DUE_SHARDS`] keys.
pub fn issued_pk(date: NaiveDate, shard: u16) -> String {
    format!("ATTN#issued#{date}#{shard:02}")
}

/// `ATTN#day#<date>#<shard>`: a status-index partition listing the
/// payments and reinstatements of `date` (the digest), sharded likewise.
pub fn day_pk(date: NaiveDate, shard: u16) -> String {
    format!("ATTN#day#{date}#{shard:02}")
}

/// `<currency>#<amount>#<account>#<invoice>`: an issued invoice's listing.
pub fn issued_sort_key(
    currency: Currency,
    amount: &str,
    account: &AccountId,
    invoice: &str,
) -> String {
    format!("{currency}#{amount}#{account}#{invoice}")
}

/// The exclusive upper bound for [`due_sort_key`] values due before `cutoff`.
pub fn due_before(cutoff: NaiveDate) -> String {
    cutoff.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_read_back_with_what_is_owed() {
        let a = AccountId::parse("cus_1").unwrap();
        let d: NaiveDate = "2026-01-15".parse().unwrap();
        let usd = Currency::parse("USD").unwrap();
        let sk = owed_sort_key(d, &a, "in_1", "120.50", usd);
        assert_eq!(sk, "2026-01-15#cus_1#in_1#120.50#USD");
        assert_eq!(
            parse_due_sort_key(&sk),
            Some((d, a.clone(), "in_1", Some(("120.50".parse().unwrap(), usd))))
        );
        assert_eq!(
            parse_due_sort_key(&due_sort_key(d, &a, CARD_SK)),
            Some((d, a, CARD_SK, None))
        );
        assert_eq!(parse_due_sort_key("nonsense"), None);
    }

    fn acct(s: &str) -> AccountId {
        AccountId::parse(s).unwrap()
    }

    #[test]
    fn shards_are_stable_and_spread() {
        let a = acct("cus_123");
        assert_eq!(due_shard(&a), due_shard(&a));
        let used: std::collections::BTreeSet<u16> = (0..1000)
            .map(|i| due_shard(&acct(&format!("cus_{i}"))))
            .collect();
        assert_eq!(
            used.len(),
            usize::from(DUE_SHARDS),
            "1000 accounts use every shard"
        );
        assert!(used.iter().all(|s| *s < DUE_SHARDS));
    }

    #[test]
    fn due_sort_keys_order_by_date_and_compare_with_the_cutoff() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let a = acct("cus_1");
        let jan15 = due_sort_key(d("2026-01-15"), &a, "in_1");
        let jan16 = due_sort_key(d("2026-01-16"), &a, "in_1");
        assert!(jan15 < due_before(d("2026-01-16")));
        assert!(
            jan16 >= due_before(d("2026-01-16")),
            "due on the cutoff date is not before it"
        );
        assert_eq!(account_from_pk(&account_pk(&a)), Some(a));
        assert_eq!(account_from_pk("EVT#x"), None);
    }
}
