//! The receivables aging report (`pastdue report aging`, and the chart in
//! the staff digest): read from the due index (what is owed and since
//! when), the status index's day listings of issued invoices (the last 30
//! days' sales) and the accounts' names; no table scan.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use futures::future::try_join_all;

use crate::domain::aging::{Aging, DSO_DAYS, Receivable};
use crate::domain::{AccountId, Policy};
use crate::ports::receivables::{Receivables, SalesLedger};
use crate::ports::{AccountRepository, StoreError};

/// The aging at `now`.
pub async fn report<I, S>(
    index: &I,
    store: &S,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Aging, StoreError>
where
    I: Receivables,
    S: SalesLedger + AccountRepository,
{
    let mut receivables = Vec::new();
    let mut unpriced: BTreeSet<AccountId> = BTreeSet::new();
    for listed in index.receivables().await? {
        match listed.owed {
            Some((owed, currency)) => receivables.push(Receivable {
                account: listed.account,
                timezone: listed.timezone,
                due: listed.due,
                owed,
                currency,
            }),
            None => {
                unpriced.insert(listed.account);
            }
        }
    }
    // Entries indexed before they carried what is owed: read those
    // accounts whole (and count none of their entries twice).
    receivables.retain(|r| !unpriced.contains(&r.account));
    for id in unpriced {
        let Some(loaded) = store.load(&id).await? else {
            continue;
        };
        let state = loaded.state;
        receivables.extend(
            state
                .invoices()
                .iter()
                .filter(|i| {
                    !i.void && !i.in_dispute && !i.written_off && i.owed >= policy.min_balance
                })
                .map(|i| Receivable {
                    account: id.clone(),
                    timezone: state.account.timezone,
                    due: i.effective_due,
                    owed: i.owed,
                    currency: i.currency(),
                }),
        );
    }
    let today = now.date_naive();
    let days = (0..DSO_DAYS).map(|n| store.issued_on(today - Duration::days(n)));
    let sales: Vec<_> = try_join_all(days).await?.into_iter().flatten().collect();
    let names = store.account_names().await?;
    Ok(Aging::of(now, &receivables, &names, &sales))
}
