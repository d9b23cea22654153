//! The mail log: `MAIL#<account>` (outside the account's partition, so the
//! notifier's writes cannot touch billing items) holds one item per notice
//! and recipient, claimed before sending, then sent (with SES's message id)
//! or refused.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use super::codec::{Item, key, optional_text, rfc3339, s, text};
use super::keys;
use super::states::MailState;
use super::table::DynamoStore;
use crate::domain::message::step_id_prefix;
use crate::domain::{AccountId, StepName};
use crate::ports::{FinalNotices, MailClaim, MailKey, MailLog, SentNotice, StoreError};

/// One entry of an account's mail log, as `account timeline` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailRecord {
    pub message: String,
    pub recipient: String,
    /// `claimed`, `sent`, `refused` or `retry`.
    pub state: String,
    pub message_id: Option<String>,
    pub at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub detail: Value,
}

fn mail_key(key_of: &MailKey<'_>) -> Item {
    key(
        keys::mail_pk(key_of.account),
        keys::mail_sk(key_of.message, key_of.recipient),
    )
}

/// The JSON kept with a sent notice (action, episode, date, audience, ...).
fn detail(item: &Item) -> Value {
    optional_text(item, keys::DATA)
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or(Value::Null)
}

impl DynamoStore {
    /// The raw items of an account's mail log (exports keep what was sent).
    pub(super) async fn mail_items(&self, account: &AccountId) -> Result<Vec<Item>, StoreError> {
        self.query_partition(keys::mail_pk(account), None).await
    }

    /// The account's mail log: every notice claimed, sent or refused.
    pub async fn mails(&self, account: &AccountId) -> Result<Vec<MailRecord>, StoreError> {
        let mut out = Vec::new();
        for item in &self.mail_items(account).await? {
            let opt = |name: &str| optional_text(item, name);
            out.push(MailRecord {
                message: text(item, "message")?.to_owned(),
                recipient: text(item, "recipient")?.to_owned(),
                state: text(item, keys::STATE)?.to_owned(),
                message_id: opt("message_id"),
                at: opt("sent_at")
                    .or_else(|| opt("claimed_at"))
                    .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| t.with_timezone(&Utc)),
                reason: opt("reason"),
                detail: detail(item),
            });
        }
        Ok(out)
    }
}

impl MailLog for DynamoStore {
    async fn claim_mail(
        &self,
        mail: &MailKey<'_>,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<MailClaim, StoreError> {
        let mut item = mail_key(mail);
        item.insert("message".to_owned(), s(mail.message));
        item.insert("recipient".to_owned(), s(mail.recipient));
        item.insert(keys::STATE.to_owned(), s(MailState::Claimed.as_str()));
        item.insert("claimed_at".to_owned(), s(rfc3339(now)));
        let put = self
            .put_item(item)
            .condition_expression(
                "attribute_not_exists(#pk) OR #state = :retry OR (#state = :claimed AND #at < :stale)",
            )
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#state", keys::STATE)
            .expression_attribute_names("#at", "claimed_at")
            .expression_attribute_values(":retry", s(MailState::Retry.as_str()))
            .expression_attribute_values(":claimed", s(MailState::Claimed.as_str()))
            .expression_attribute_values(":stale", s(rfc3339(now - lease)));
        if self.put_if(put).await? {
            return Ok(MailClaim::Claimed);
        }
        let Some(item) = self.get(mail_key(mail), None).await? else {
            return Ok(MailClaim::Busy);
        };
        let state = optional_text(&item, keys::STATE).and_then(|raw| MailState::parse(&raw));
        Ok(match state {
            Some(MailState::Sent) => MailClaim::Sent,
            Some(MailState::Refused) => MailClaim::Refused(
                optional_text(&item, keys::REASON).unwrap_or_else(|| "refused".to_owned()),
            ),
            _ => MailClaim::Busy,
        })
    }

    async fn mail_sent(
        &self,
        mail: &MailKey<'_>,
        message_id: &str,
        now: DateTime<Utc>,
        detail: &Value,
    ) -> Result<(), StoreError> {
        self.set_attributes(
            mail_key(mail),
            &[
                (keys::STATE, s(MailState::Sent.as_str())),
                ("message_id", s(message_id)),
                ("sent_at", s(rfc3339(now))),
                (keys::DATA, s(detail.to_string())),
            ],
            false,
        )
        .await
    }

    async fn mail_refused(
        &self,
        mail: &MailKey<'_>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.set_attributes(
            mail_key(mail),
            &[
                (keys::STATE, s(MailState::Refused.as_str())),
                (keys::REASON, s(reason)),
                ("sent_at", s(rfc3339(now))),
            ],
            false,
        )
        .await
    }

    async fn mail_release(&self, mail: &MailKey<'_>) -> Result<(), StoreError> {
        self.set_attributes(
            mail_key(mail),
            &[(keys::STATE, s(MailState::Retry.as_str()))],
            false,
        )
        .await
    }
}

impl FinalNotices for DynamoStore {
    async fn final_notices_sent(
        &self,
        account: &AccountId,
        episode: NaiveDate,
    ) -> Result<Vec<SentNotice>, StoreError> {
        let prefix = step_id_prefix(account, episode, StepName::FinalNotice);
        let sent = self
            .in_state(keys::mail_pk(account), &prefix, MailState::Sent.as_str())
            .await?;
        Ok(sent
            .iter()
            .map(|item| SentNotice::from_detail(&detail(item)))
            .collect())
    }
}
