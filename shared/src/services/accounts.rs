//! The [`Accounts`] service and the operator's changes to an account's
//! details: create, update, keep its billing history.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::retry::{Attempt, retry_on_conflict};
use crate::domain::{Account, AccountId, AccountImport, AccountState, Policy, TimelineEntry};
use crate::ports::{AccountRepository, Change, StoreError};

/// Where the services read the time (the audit timeline's `recorded_at`).
pub type Clock = fn() -> DateTime<Utc>;

/// The account use cases over a repository `S`: applying events, the daily
/// run, operator changes. Built once at init; cheap to clone.
#[derive(Debug, Clone)]
pub struct Accounts<S> {
    pub(super) store: S,
    pub(super) policy: Arc<Policy>,
    pub(super) clock: Clock,
}

/// A change to an account that an operator asked for and could not be made.
#[derive(Debug, thiserror::Error)]
pub enum UpdateFailure {
    #[error("account {0} is not known")]
    UnknownAccount(AccountId),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Created,
    Updated,
    Unchanged,
}

impl<S> Accounts<S> {
    /// The service over `store`, deciding with `policy`, on the system clock.
    pub fn new(store: S, policy: impl Into<Arc<Policy>>) -> Self {
        Self {
            store,
            policy: policy.into(),
            clock: Utc::now,
        }
    }

    /// The same service reading the time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn store(&self) -> &S {
        &self.store
    }
}

impl<S: AccountRepository> Accounts<S> {
    /// Creates the account, or updates its details (name, time zone,
    /// exemption, contacts) keeping its billing history.
    pub async fn upsert_account(&self, account: &Account) -> Result<Upsert, StoreError> {
        self.upsert_with(account, |_| account.clone()).await
    }

    /// Creates the account an import entry describes, or merges the entry
    /// into the stored one: what the file carries wins, the rest is kept
    /// ([`AccountImport::merged_into`]).
    pub async fn import_account(&self, import: &AccountImport) -> Result<Upsert, StoreError> {
        self.upsert_with(&import.account, |current| import.merged_into(current))
            .await
    }

    /// Creates `new`, or replaces the stored details with `update(current)`.
    async fn upsert_with(
        &self,
        new: &Account,
        update: impl Fn(&Account) -> Account,
    ) -> Result<Upsert, StoreError> {
        retry_on_conflict(|| async {
            let loaded = self.store.load(&new.id).await?;
            let (after, upsert, account) = match &loaded {
                None => (AccountState::new(new.clone()), Upsert::Created, new.clone()),
                Some(l) => {
                    let account = update(&l.state.account);
                    if account == l.state.account {
                        return Ok(Attempt::Done(Upsert::Unchanged));
                    }
                    let mut after = l.state.clone();
                    after.set_account(account.clone());
                    (after, Upsert::Updated, account)
                }
            };
            let summary = match upsert {
                Upsert::Created => format!("account created: {}", account.name),
                _ => format!("account details updated: {}", account.name),
            };
            let note = self.note(summary, &account);
            Ok(self
                .store
                .commit(loaded.as_ref(), &after, &note)
                .await?
                .then_done(upsert))
        })
        .await
    }

    /// Changes an account's details with `change`, which returns the
    /// timeline note (or refuses with a reason). Returns the note.
    pub async fn update_account(
        &self,
        id: &AccountId,
        change: impl Fn(&mut Account) -> Result<String, String>,
    ) -> Result<String, UpdateFailure> {
        retry_on_conflict(|| async {
            let Some(loaded) = self.store.load(id).await? else {
                return Err(UpdateFailure::UnknownAccount(id.clone()));
            };
            let mut account = loaded.state.account.clone();
            let summary = change(&mut account).map_err(UpdateFailure::Invalid)?;
            let mut after = loaded.state.clone();
            after.set_account(account.clone());
            let note = self.note(summary.clone(), &account);
            Ok(self
                .store
                .commit(Some(&loaded), &after, &note)
                .await?
                .then_done(summary))
        })
        .await
    }

    /// Creates an account a processor introduced; an existing one is left
    /// as the operator keeps it. Returns whether it was created.
    pub async fn create_if_missing(&self, account: &Account) -> Result<bool, StoreError> {
        retry_on_conflict(|| async {
            if self.store.load(&account.id).await?.is_some() {
                return Ok(Attempt::Done(false));
            }
            let state = AccountState::new(account.clone());
            let note = self.note(
                format!("account created from the processor: {}", account.name),
                account,
            );
            Ok(self
                .store
                .commit(None, &state, &note)
                .await?
                .then_done(true))
        })
        .await
    }

    fn note(&self, summary: String, account: &Account) -> Change<'static> {
        Change::note(TimelineEntry::account(
            (self.clock)(),
            summary,
            account.to_json(),
        ))
    }
}

impl<S: AccountRepository> crate::ports::NewAccounts for Accounts<S> {
    async fn create_if_missing(&self, account: &Account) -> Result<bool, StoreError> {
        Accounts::create_if_missing(self, account).await
    }
}
