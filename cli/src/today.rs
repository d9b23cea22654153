//! `pastdue today`: the staff's morning digest in the terminal, the same
//! text the notifier emails (`--json`: the digest itself). Gathered through
//! the due index, never a table scan, for today in `STAFF_TIMEZONE`
//! (default UTC).

use chrono::Utc;
use pastdue_shared::adapters::dynamodb::DynamoDueIndex;
use pastdue_shared::domain::ActionMessage;
use pastdue_shared::domain::engine::local_date;
use pastdue_shared::domain::fields::parse_timezone;
use pastdue_shared::notify::render::{Audience, Failure as NoFailure, Links, Templates};
use pastdue_shared::services::digest;

use crate::Failure;
use crate::ops::Service;

pub async fn today(
    accounts: &Service,
    due: &DynamoDueIndex,
    json: bool,
) -> Result<String, Failure> {
    let tz = match std::env::var("STAFF_TIMEZONE") {
        Ok(name) if !name.trim().is_empty() => {
            parse_timezone(&name).map_err(|e| Failure::bad_input(format!("STAFF_TIMEZONE: {e}")))?
        }
        _ => chrono_tz::Tz::UTC,
    };
    let now = Utc::now();
    let date = local_date(now, tz);
    let digest = digest::gather(due, accounts.store(), accounts.policy(), date, now)
        .await
        .map_err(|e| Failure::internal(e.to_string()))?;
    if json {
        return serde_json::to_string(&digest).map_err(|e| Failure::internal(e.to_string()));
    }
    let message = ActionMessage::staff_digest(digest, now)
        .ok_or_else(|| Failure::internal("no digest message".to_owned()))?;
    let templates = Templates::new(
        Links {
            pay_url: String::new(),
            card_url: String::new(),
            portal: None,
        },
        accounts.policy(),
    )
    .map_err(|e| Failure::internal(e.to_string()))?;
    let email = templates
        .render(
            &message.action,
            &message,
            Audience::Staff,
            &NoFailure::default(),
        )
        .map_err(|e| Failure::internal(e.to_string()))?;
    Ok(format!("{}\n\n{}", email.subject, email.text.trim()))
}
