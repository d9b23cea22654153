//! `pastdue report aging`: receivables by age, per currency, from the due
//! and status indexes (no scan); `--json` for scripts, `--html FILE` for
//! the chart.

use std::path::Path;

use chrono::Utc;
use pastdue_shared::adapters::dynamodb::DynamoDueIndex;
use pastdue_shared::domain::aging::Aging;
use pastdue_shared::services::aging;

use crate::Failure;
use crate::ops::Service;

pub async fn report(
    accounts: &Service,
    due: &DynamoDueIndex,
    html: Option<&Path>,
    json: bool,
) -> Result<String, Failure> {
    let aging = aging::report(due, accounts.store(), accounts.policy(), Utc::now())
        .await
        .map_err(|e| Failure::internal(e.to_string()))?;
    if let Some(path) = html {
        let page = pastdue_shared::notify::aging::page(&aging).map_err(Failure::internal)?;
        std::fs::write(path, page)
            .map_err(|e| Failure::internal(format!("cannot write {}: {e}", path.display())))?;
    }
    if json {
        return serde_json::to_string(&aging).map_err(|e| Failure::internal(e.to_string()));
    }
    Ok(text(&aging))
}

/// One block per currency: its buckets, then the accounts in each.
fn text(aging: &Aging) -> String {
    if aging.currencies.is_empty() {
        return format!("{}: nothing is owed", aging.date);
    }
    let mut out = format!("Receivables aging, {}\n", aging.date);
    for c in &aging.currencies {
        let dso = c
            .dso
            .as_ref()
            .map(|d| format!(", DSO {d} days"))
            .unwrap_or_default();
        out.push_str(&format!("\n{} {}{dso}\n", c.currency, c.total));
        for b in &c.buckets {
            let who: Vec<String> = b
                .accounts
                .iter()
                .map(|a| format!("{} ({}) {}", a.name, a.account, a.owed))
                .collect();
            out.push_str(&format!(
                "  {:<8} {:>14} {:>3}%  {}\n",
                b.label,
                b.total,
                b.percent,
                who.join("; ")
            ));
        }
    }
    out
}
