//! The staff's morning digest of the story's last day, as the notifier
//! would email it, written to `demo-out/digest.txt` and `digest.html`, and
//! the receivables aging chart to `demo-out/aging.html`.

use std::path::Path;

use chrono::{DateTime, Utc};
use pastdue_shared::adapters::dynamodb::{DynamoDueIndex, DynamoStore};
use pastdue_shared::domain::ActionMessage;
use pastdue_shared::notify::render::{Audience, Failure, Links, Templates};
use pastdue_shared::services::digest;

use crate::DemoError;

/// Writes the digest of `now`'s UTC date; returns its text.
pub async fn write(
    store: &DynamoStore,
    due: &DynamoDueIndex,
    now: DateTime<Utc>,
    out: &Path,
) -> Result<String, DemoError> {
    let digest = digest::gather(due, store, store.policy(), now.date_naive(), now).await?;
    let message = ActionMessage::staff_digest(digest, now)
        .ok_or_else(|| DemoError::Output("the digest message".into()))?;
    let links = Links {
        pay_url: String::new(),
        card_url: String::new(),
        portal: None,
    };
    let email = Templates::new(links, store.policy())
        .and_then(|t| {
            t.render(
                &message.action,
                &message,
                Audience::Staff,
                &Failure::default(),
            )
        })
        .map_err(|e| DemoError::Output(format!("the digest: {e}")))?;
    let aging = pastdue_shared::services::aging::report(due, store, store.policy(), now).await?;
    let chart = pastdue_shared::notify::aging::page(&aging).map_err(DemoError::Output)?;
    for (name, body) in [
        ("digest.txt", &email.text),
        ("digest.html", &email.html),
        ("aging.html", &chart),
    ] {
        let path = out.join(name);
        std::fs::write(&path, body)
            .map_err(|e| DemoError::Output(format!("{}: {e}", path.display())))?;
    }
    Ok(format!("{}\n\n{}", email.subject, email.text.trim()))
}
