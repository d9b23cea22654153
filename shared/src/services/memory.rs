//! In-memory implementations of the ports, for unit tests of the services
//! and handlers only: integration tests run on DynamoDB Local and the SES
//! emulator, never on these.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::domain::message::step_id_prefix;
use crate::domain::{
    AccountId, AccountState, ActionMessage, ApplyOutcome, Event, InvoiceId, StepName, TimelineEntry,
};
use crate::ports::account_links::{AccountLinks, new_email_keys};
use crate::ports::{
    AccountRepository, Candidate, Change, Committed, ContactNames, Deliveries, DeliveryClaim,
    DueCandidates, FinalNotices, Loaded, MailClaim, MailKey, MailLog, Outbox, PaymentLinks,
    PendingAction, Publish, PublishActions, PublishError, RunCheckpoints, RunFailures, SentNotice,
    StoreError,
};

/// The mail log's key of one notice to one recipient.
fn mail_key(key: &MailKey<'_>) -> (AccountId, String, String) {
    (
        key.account.clone(),
        key.message.to_owned(),
        key.recipient.to_owned(),
    )
}

/// One notice in the mail log: its state and what was kept with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailEntry {
    pub state: &'static str,
    pub detail: Value,
}

#[derive(Debug, Default)]
struct Tables {
    accounts: BTreeMap<AccountId, Loaded>,
    claims: BTreeSet<(AccountId, String)>,
    timeline: BTreeMap<AccountId, Vec<TimelineEntry>>,
    outbox: BTreeMap<AccountId, Vec<(String, ActionMessage, bool)>>,
    links: HashMap<String, (AccountId, InvoiceId)>,
    account_links: HashMap<String, AccountId>,
    transmissions: HashMap<(String, String), String>,
    deliveries: BTreeMap<(String, String), bool>,
    checkpoints: BTreeMap<u16, DateTime<Utc>>,
    run_failures: BTreeMap<(AccountId, NaiveDate), u32>,
    mail: BTreeMap<(AccountId, String, String), MailEntry>,
}

/// The store, in memory; clones share it. `conflicts` makes that many
/// commits lose a race.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
    conflicts: Arc<Mutex<u32>>,
    commits: Arc<Mutex<u32>>,
}

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut Tables) -> T) -> T {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut tables)
    }

    /// The next `n` commits find the account changed underneath them.
    pub fn lose_races(&self, n: u32) {
        *self.conflicts.lock().unwrap_or_else(|e| e.into_inner()) = n;
    }

    /// Commits written so far.
    pub fn commits(&self) -> u32 {
        *self.commits.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn state(&self, account: &AccountId) -> Option<AccountState> {
        self.with(|t| t.accounts.get(account).map(|l| l.state.clone()))
    }

    pub fn timeline(&self, account: &AccountId) -> Vec<TimelineEntry> {
        self.with(|t| t.timeline.get(account).cloned().unwrap_or_default())
    }

    /// Records a notice as the notifier would after SES accepted it.
    pub fn record_mail(&self, account: &AccountId, message: &str, recipient: &str, detail: Value) {
        self.with(|t| {
            t.mail.insert(
                (account.clone(), message.to_owned(), recipient.to_owned()),
                MailEntry {
                    state: "sent",
                    detail,
                },
            )
        });
    }

    pub fn mail(&self, account: &AccountId) -> Vec<((String, String), MailEntry)> {
        self.with(|t| {
            t.mail
                .iter()
                .filter(|((a, _, _), _)| a == account)
                .map(|((_, m, r), e)| ((m.clone(), r.clone()), e.clone()))
                .collect()
        })
    }
}

impl AccountRepository for MemoryStore {
    async fn load(&self, account: &AccountId) -> Result<Option<Loaded>, StoreError> {
        Ok(self.with(|t| t.accounts.get(account).cloned()))
    }

    async fn event_claimed(&self, event: &Event) -> Result<bool, StoreError> {
        Ok(self.with(|t| {
            t.claims
                .contains(&(event.account.clone(), event.id.to_string()))
        }))
    }

    async fn commit(
        &self,
        before: Option<&Loaded>,
        after: &AccountState,
        change: &Change<'_>,
    ) -> Result<Committed, StoreError> {
        {
            let mut conflicts = self.conflicts.lock().unwrap_or_else(|e| e.into_inner());
            if *conflicts > 0 {
                *conflicts -= 1;
                return Ok(Committed::Conflict);
            }
        }
        let id = after.account.id.clone();
        let committed = self.with(|t| {
            if let Some(event) = change.claim
                && t.claims.contains(&(id.clone(), event.id.to_string()))
            {
                return Committed::Duplicate;
            }
            let current = t.accounts.get(&id).map(|l| l.version);
            if current != before.map(|l| l.version) {
                return Committed::Conflict;
            }
            let version = current.unwrap_or(0) + 1;
            if let Some(event) = change.claim {
                t.claims.insert((id.clone(), event.id.to_string()));
            }
            t.accounts.insert(
                id.clone(),
                Loaded {
                    state: after.clone(),
                    version,
                },
            );
            t.timeline
                .entry(id.clone())
                .or_default()
                .extend(change.timeline.iter().cloned());
            for (n, m) in change.messages.iter().enumerate() {
                t.outbox.entry(id.clone()).or_default().push((
                    format!("ACT#{version:012}#{n:03}"),
                    m.clone(),
                    false,
                ));
            }
            for (payment, invoice) in &change.links {
                t.links
                    .insert(payment.clone(), (id.clone(), invoice.clone()));
            }
            // As the table does: an address the account did not have before
            // names it from now on.
            for key in new_email_keys(before.map(|l| &l.state.account), &after.account) {
                t.account_links.insert(key, id.clone());
            }
            Committed::Done
        });
        if committed == Committed::Done {
            *self.commits.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        }
        Ok(committed)
    }
}

impl Outbox for MemoryStore {
    async fn pending_actions(&self, account: &AccountId) -> Result<Vec<PendingAction>, StoreError> {
        Ok(self.with(|t| {
            t.outbox
                .get(account)
                .into_iter()
                .flatten()
                .filter(|(_, _, announced)| !announced)
                .map(|(key, message, _)| PendingAction {
                    key: key.clone(),
                    message: message.clone(),
                })
                .collect()
        }))
    }

    async fn mark_announced(&self, account: &AccountId, key: &str) -> Result<(), StoreError> {
        self.with(|t| {
            for entry in t.outbox.get_mut(account).into_iter().flatten() {
                if entry.0 == key {
                    entry.2 = true;
                }
            }
        });
        Ok(())
    }
}

impl FinalNotices for MemoryStore {
    async fn final_notices_sent(
        &self,
        account: &AccountId,
        episode: NaiveDate,
    ) -> Result<Vec<SentNotice>, StoreError> {
        let prefix = step_id_prefix(account, episode, StepName::FinalNotice);
        Ok(self.with(|t| {
            t.mail
                .iter()
                .filter(|((a, message, _), entry)| {
                    a == account && message.starts_with(&prefix) && entry.state == "sent"
                })
                .map(|(_, entry)| SentNotice::from_detail(&entry.detail))
                .collect()
        }))
    }
}

impl MailLog for MemoryStore {
    async fn claim_mail(
        &self,
        key: &MailKey<'_>,
        _now: DateTime<Utc>,
        _lease: chrono::Duration,
    ) -> Result<MailClaim, StoreError> {
        Ok(self.with(|t| {
            let k = mail_key(key);
            match t.mail.get(&k).map(|e| (e.state, &e.detail)) {
                Some(("sent", _)) => MailClaim::Sent,
                Some(("refused", reason)) => {
                    MailClaim::Refused(reason.as_str().unwrap_or("refused").to_owned())
                }
                Some(("claimed", _)) => MailClaim::Busy,
                _ => {
                    t.mail.insert(
                        k,
                        MailEntry {
                            state: "claimed",
                            detail: Value::Null,
                        },
                    );
                    MailClaim::Claimed
                }
            }
        }))
    }

    async fn mail_sent(
        &self,
        key: &MailKey<'_>,
        _message_id: &str,
        _now: DateTime<Utc>,
        detail: &Value,
    ) -> Result<(), StoreError> {
        self.record_mail(key.account, key.message, key.recipient, detail.clone());
        Ok(())
    }

    async fn mail_refused(
        &self,
        key: &MailKey<'_>,
        reason: &str,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.with(|t| {
            t.mail.insert(
                mail_key(key),
                MailEntry {
                    state: "refused",
                    detail: Value::String(reason.to_owned()),
                },
            )
        });
        Ok(())
    }

    async fn mail_release(&self, key: &MailKey<'_>) -> Result<(), StoreError> {
        self.with(|t| t.mail.remove(&mail_key(key)));
        Ok(())
    }
}

impl ContactNames for MemoryStore {
    async fn contact_name(
        &self,
        account: &AccountId,
        email: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self.state(account).and_then(|s| {
            s.account
                .contacts
                .iter()
                .find(|c| c.email.as_str().eq_ignore_ascii_case(email))
                .map(|c| c.name.clone())
        }))
    }
}

impl Deliveries for MemoryStore {
    async fn claim_delivery(
        &self,
        processor: &str,
        delivery: &str,
    ) -> Result<DeliveryClaim, StoreError> {
        Ok(self.with(|t| {
            let published = t
                .deliveries
                .entry((processor.to_owned(), delivery.to_owned()))
                .or_insert(false);
            if *published {
                DeliveryClaim::AlreadyPublished
            } else {
                DeliveryClaim::Publish
            }
        }))
    }

    async fn mark_published(&self, processor: &str, delivery: &str) -> Result<(), StoreError> {
        self.with(|t| {
            t.deliveries
                .insert((processor.to_owned(), delivery.to_owned()), true)
        });
        Ok(())
    }
}

impl crate::ports::Transmissions for MemoryStore {
    async fn claim_transmission(
        &self,
        processor: &str,
        transmission: &str,
        digest: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|t| {
            t.transmissions
                .entry((processor.to_owned(), transmission.to_owned()))
                .or_insert_with(|| digest.to_owned())
                == digest
        }))
    }
}

impl AccountLinks for MemoryStore {
    async fn linked_account(&self, key: &str) -> Result<Option<AccountId>, StoreError> {
        Ok(self.with(|t| t.account_links.get(key).cloned()))
    }

    async fn link_account(&self, key: &str, account: &AccountId) -> Result<AccountId, StoreError> {
        Ok(self.with(|t| {
            t.account_links
                .entry(key.to_owned())
                .or_insert_with(|| account.clone())
                .clone()
        }))
    }

    async fn account_exists(&self, account: &AccountId) -> Result<bool, StoreError> {
        Ok(self.state(account).is_some())
    }
}

impl PaymentLinks for MemoryStore {
    async fn find_link(&self, payment: &str) -> Result<Option<(AccountId, InvoiceId)>, StoreError> {
        Ok(self.with(|t| t.links.get(payment).cloned()))
    }
}

/// One shard: every account with an unpaid, undisputed invoice due before
/// the cutoff, as the sparse index lists them.
impl DueCandidates for MemoryStore {
    async fn due_in_shard(
        &self,
        _shard: u16,
        cutoff: NaiveDate,
    ) -> Result<Vec<Candidate>, StoreError> {
        Ok(self.with(|t| {
            t.accounts
                .values()
                .filter(|l| {
                    l.state.invoices().iter().any(|i| {
                        !i.void
                            && !i.in_dispute
                            && !i.written_off
                            && i.owed > rust_decimal::Decimal::ZERO
                            && i.effective_due < cutoff
                    }) || l
                        .state
                        .card_notice_from()
                        .is_some_and(|from| from <= cutoff)
                })
                .map(|l| Candidate {
                    account: l.state.account.id.clone(),
                    timezone: l.state.account.timezone,
                })
                .collect()
        }))
    }

    fn shards(&self) -> u16 {
        1
    }
}

impl RunCheckpoints for MemoryStore {
    async fn checkpoint(&self, shard: u16) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.with(|t| t.checkpoints.get(&shard).copied()))
    }

    async fn advance(&self, shard: u16, to: DateTime<Utc>) -> Result<(), StoreError> {
        self.with(|t| {
            let at = t.checkpoints.entry(shard).or_insert(to);
            *at = (*at).max(to);
        });
        Ok(())
    }
}

impl RunFailures for MemoryStore {
    async fn failed_attempt(
        &self,
        account: &AccountId,
        date: NaiveDate,
    ) -> Result<u32, StoreError> {
        Ok(self.with(|t| {
            let n = t.run_failures.entry((account.clone(), date)).or_default();
            *n += 1;
            *n
        }))
    }
}

/// A bus that records what it is given; `down` makes it refuse to take it.
/// Clones share it.
#[derive(Debug, Default, Clone)]
pub struct MemoryBus {
    pub actions: Arc<Mutex<Vec<ActionMessage>>>,
    pub events: Arc<Mutex<Vec<Event>>>,
    pub down: Arc<Mutex<bool>>,
}

impl MemoryBus {
    pub fn published(&self) -> Vec<String> {
        self.actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|m| m.id.clone())
            .collect()
    }

    fn check(&self) -> Result<(), PublishError> {
        if *self.down.lock().unwrap_or_else(|e| e.into_inner()) {
            return Err(PublishError::Unavailable("the bus is down".into()));
        }
        Ok(())
    }
}

impl PublishActions for MemoryBus {
    async fn publish_actions(&self, messages: &[ActionMessage]) -> Result<(), PublishError> {
        self.check()?;
        self.actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(messages);
        Ok(())
    }
}

impl Publish for MemoryBus {
    async fn publish(
        &self,
        _source: &str,
        events: &[Event],
    ) -> Result<Vec<Option<ApplyOutcome>>, PublishError> {
        self.check()?;
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(events);
        Ok(vec![None; events.len()])
    }
}
