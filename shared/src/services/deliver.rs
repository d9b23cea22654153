//! Taking one processor delivery, once it is known to be authentic: find
//! the payment it links to, map it, claim its id, create its customer if
//! new, publish. The webhook (`ingest`) and reconciliation take deliveries
//! through this one path, so a delivery one of them took is a duplicate
//! for the other.

use tracing::Instrument;

use crate::domain::{Account, AccountId, ActionMessage, Event, Via};
use crate::ports::account_links::{AccountLinks, email_key};
use crate::ports::objects::{FetchError, FetchObjects, NoObjects};
use crate::ports::{
    ApplyOutcome, Deliveries, DeliveryClaim, NewAccounts, PaymentLinks, Publish, PublishActions,
    PublishError, StoreError,
};
use crate::processors::{AccountHints, Delivery, Link, Mapped, Objects};

/// What the path needs.
pub struct DeliveryPath<'a, S, A, B> {
    /// Delivery claims and payment links.
    pub store: &'a S,
    /// Creates the customers a processor introduces.
    pub accounts: &'a A,
    pub bus: &'a B,
    /// How its deliveries came, when not by webhook: stamped on every
    /// event it publishes, so the timeline says so.
    pub via: Option<Via>,
}

/// What taking a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Its events were published: `outcome` is `applied`, `accepted`
    /// (published, applied elsewhere) or `duplicate` (nothing new).
    Events {
        outcome: &'static str,
        ids: Vec<String>,
    },
    /// A type pastdue does not act on.
    Ignored { reason: String },
    /// A staff alert was published (a dispute inquiry); `duplicate` when it
    /// had been before.
    Alerted {
        reason: String,
        action: String,
        duplicate: bool,
    },
    /// It names a payment not applied yet: take it again later.
    Waiting,
    /// It cannot be taken, now or later: why.
    Refused(String),
    /// The store or the bus is down: nothing was applied; take it again.
    Unavailable(&'static str),
}

const STORE_DOWN: &str = "storage is unavailable; nothing was applied, please retry";

fn unavailable(e: &StoreError) -> Taken {
    tracing::error!(error = %e, retryable = e.is_retryable(), "store unavailable");
    Taken::Unavailable(STORE_DOWN)
}

impl<S, A, B> DeliveryPath<'_, S, A, B>
where
    S: Deliveries + PaymentLinks + AccountLinks,
    A: NewAccounts,
    B: Publish + PublishActions,
{
    /// Takes `delivery` from `processor` at `now` (Unix seconds), for a
    /// processor whose deliveries carry what they mean.
    pub async fn take(&self, processor: &str, delivery: &dyn Delivery, now: i64) -> Taken {
        self.take_with(processor, delivery, now, &NoObjects).await
    }

    /// Takes `delivery`, first reading from `api` the objects it names
    /// without carrying (GoCardless's payments).
    pub async fn take_with<O: FetchObjects>(
        &self,
        processor: &str,
        delivery: &dyn Delivery,
        now: i64,
        api: &O,
    ) -> Taken {
        let kind = delivery.kind();
        let id = delivery.id();
        let mut objects = Objects::default();
        for object in delivery.objects_needed() {
            match api.fetch(processor, &object).await {
                Ok(body) => objects.insert(object, body),
                Err(e @ FetchError::Unavailable(_)) => {
                    tracing::error!(processor, delivery = id, kind, error = %e, "the processor's API could not be read; the processor will retry");
                    return Taken::Unavailable(
                        "the processor's API could not be read; nothing was applied, please retry",
                    );
                }
                Err(FetchError::Refused(why)) => return Taken::Refused(why),
            }
        }
        let link = match self.find_link(delivery.links_needed_with(&objects)).await {
            Ok(link) => link,
            Err(e) => return unavailable(&e),
        };
        match delivery.map_with(link, &objects) {
            Err(e) => Taken::Refused(e.to_string()),
            Ok(Mapped::Ignored { reason }) => {
                tracing::info!(processor, delivery = id, kind, reason = %reason, "delivery ignored");
                Taken::Ignored { reason }
            }
            Ok(Mapped::WaitingForLink { ids }) => {
                tracing::info!(
                    processor,
                    delivery = id,
                    kind,
                    ?ids,
                    "waiting for the payment that links this charge"
                );
                Taken::Waiting
            }
            Ok(Mapped::Events { events, account }) => {
                self.publish_mapped(processor, id, events, account, now)
                    .await
            }
            Ok(Mapped::Linked {
                mut events,
                account,
                hints,
            }) => {
                let resolved = match self.resolve(&account, &hints).await {
                    Ok(resolved) => resolved,
                    Err(e) => return unavailable(&e),
                };
                if resolved != account.id {
                    tracing::info!(processor, delivery = id, customer = %hints.customer, account = %resolved, "the processor's customer is an existing account");
                }
                for event in &mut events {
                    event.account = resolved.clone();
                }
                let new = (resolved == account.id).then_some(account);
                self.publish_mapped(processor, id, events, new, now).await
            }
            Ok(Mapped::Alert(message)) => {
                Box::pin(self.publish_alert(processor, id, &message)).await
            }
        }
    }

    /// Publishes mapped events, stamped with how they came.
    async fn publish_mapped(
        &self,
        processor: &str,
        delivery: &str,
        mut events: Vec<Event>,
        account: Option<Account>,
        now: i64,
    ) -> Taken {
        for event in &mut events {
            event.via = self.via;
        }
        // How long the oldest event waited to be taken: a processor
        // retrying what failed here before shows as a growing lag
        // (the template alarms on it).
        let lag_seconds = events
            .iter()
            .map(|e| now - e.at.timestamp())
            .max()
            .unwrap_or(0)
            .max(0);
        // Boxed: publishing nests several futures, and unoptimized
        // builds would otherwise hold them all on the caller's stack.
        Box::pin(self.publish_events(processor, delivery, &events, account.as_ref(), lag_seconds))
            .await
    }

    /// The account a processor's customer is ([`AccountHints`]): linked
    /// before; else the account its metadata names, if pastdue has it;
    /// else the account with a contact at one of its addresses; else its
    /// own new account. The answer is linked to the customer, so every
    /// later delivery agrees (the first link wins a race).
    async fn resolve(
        &self,
        account: &Account,
        hints: &AccountHints,
    ) -> Result<AccountId, StoreError> {
        if let Some(linked) = self.store.linked_account(&hints.customer).await? {
            return Ok(linked);
        }
        let mut chosen = None;
        if let Some(named) = &hints.named
            && self.store.account_exists(named).await?
        {
            chosen = Some(named.clone());
        }
        for email in &hints.emails {
            if chosen.is_some() {
                break;
            }
            if let Some(found) = self
                .store
                .linked_account(&email_key(email.as_str()))
                .await?
                && self.store.account_exists(&found).await?
            {
                chosen = Some(found);
            }
        }
        let chosen = chosen.unwrap_or_else(|| account.id.clone());
        self.store.link_account(&hints.customer, &chosen).await
    }

    /// The first of `ids` that links to an invoice, if any.
    async fn find_link(&self, ids: Vec<String>) -> Result<Option<Link>, StoreError> {
        for id in ids {
            if let Some(link) = self.store.find_link(&id).await? {
                return Ok(Some(link));
            }
        }
        Ok(None)
    }

    /// Runs `publish` once per delivery: claims the delivery id (`None`
    /// when it was published before), publishes, then marks it published.
    /// A failed publish leaves the claim pending, so a retry publishes
    /// again.
    async fn publish_once<T>(
        &self,
        processor: &str,
        delivery: &str,
        publish: impl Future<Output = Result<T, Taken>>,
    ) -> Result<Option<T>, Taken> {
        match self.store.claim_delivery(processor, delivery).await {
            Ok(DeliveryClaim::AlreadyPublished) => {
                tracing::info!(outcome = "duplicate", "delivery seen before");
                return Ok(None);
            }
            Ok(DeliveryClaim::Publish) => {}
            Err(e) => return Err(unavailable(&e)),
        }
        let published = publish.await?;
        if let Err(e) = self.store.mark_published(processor, delivery).await {
            // Published already; a retry re-publishes and consumers dedupe by id.
            tracing::warn!(error = %e, "delivery published but not marked");
        }
        Ok(Some(published))
    }

    /// Publishes a staff alert, once per delivery.
    async fn publish_alert(
        &self,
        processor: &str,
        delivery: &str,
        message: &ActionMessage,
    ) -> Taken {
        let span = tracing::info_span!("alert", processor, delivery, account = %message.account, message_id = message.id);
        let publish = async {
            self.bus
                .publish_actions(std::slice::from_ref(message))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "alert not published; the processor will retry");
                    Taken::Unavailable("could not publish; please retry")
                })
        };
        async {
            match self.publish_once(processor, delivery, publish).await {
                Ok(published) => {
                    if published.is_some() {
                        tracing::info!(
                            outcome = "ignored",
                            action = %message.action,
                            "dispute inquiry: staff alerted"
                        );
                    }
                    Taken::Alerted {
                        reason: message.reason.clone(),
                        action: message.action.clone(),
                        duplicate: published.is_none(),
                    }
                }
                Err(taken) => taken,
            }
        }
        .instrument(span)
        .await
    }

    /// Publishes canonical events (creating their customer's account first,
    /// if new), once per delivery, and says whether anything took effect.
    async fn publish_events(
        &self,
        processor: &str,
        delivery: &str,
        events: &[Event],
        account: Option<&Account>,
        lag_seconds: i64,
    ) -> Taken {
        let ids: Vec<String> = events.iter().map(|e| e.id.as_str().to_owned()).collect();
        let span = tracing::info_span!("deliver", processor, delivery, ?ids);
        let publish = async {
            if let Some(account) = account
                && let Err(e) = self.accounts.create_if_missing(account).await
            {
                return Err(unavailable(&e));
            }
            match self
                .bus
                .publish(&format!("pastdue.{processor}"), events)
                .await
            {
                Ok(outcomes) => Ok(outcomes),
                Err(PublishError::Unavailable(e)) => {
                    tracing::error!(error = %e, "publish failed; the processor will retry");
                    Err(Taken::Unavailable(
                        "could not publish; nothing was applied, please retry",
                    ))
                }
                Err(PublishError::Refused(e)) => {
                    tracing::error!(error = %e, "event refused");
                    Err(Taken::Refused(e))
                }
            }
        };
        async {
            let outcomes = match self.publish_once(processor, delivery, publish).await {
                Ok(Some(outcomes)) => outcomes,
                Ok(None) => {
                    return Taken::Events {
                        outcome: "duplicate",
                        ids,
                    };
                }
                Err(taken) => return taken,
            };
            // Nothing new took effect (e.g. Stripe's second event for one payment).
            let outcome = if outcomes
                .iter()
                .all(|o| matches!(o, Some(ApplyOutcome::Duplicate | ApplyOutcome::NoEffect)))
            {
                "duplicate"
            } else if outcomes.iter().any(Option::is_none) {
                "accepted"
            } else {
                "applied"
            };
            tracing::info!(outcome, lag_seconds, "delivery handled");
            Taken::Events { outcome, ids }
        }
        .instrument(span)
        .await
    }
}

/// How a processor reads a body, as its webhook's would be read.
pub type ReadBody =
    for<'b> fn(&'b [u8]) -> Result<Box<dyn Delivery + 'b>, crate::processors::MapError>;

/// Reconciliation's way into the path: a body from the processor's API,
/// read as its webhook's would be, taken at `now`.
pub struct FromApi<'a, S, A, B> {
    pub path: DeliveryPath<'a, S, A, B>,
    pub read: ReadBody,
    pub name: &'static str,
    pub now: i64,
}

impl<S, A, B> crate::ports::reconcile::TakeDelivery for FromApi<'_, S, A, B>
where
    S: Deliveries + PaymentLinks + AccountLinks,
    A: NewAccounts,
    B: Publish + PublishActions,
{
    async fn take(
        &self,
        body: &[u8],
    ) -> Result<crate::ports::reconcile::Delivered, crate::ports::reconcile::DeliverError> {
        use crate::ports::reconcile::{DeliverError, Delivered};
        let delivery = match (self.read)(body) {
            Ok(delivery) => delivery,
            Err(e) => {
                tracing::error!(processor = self.name, error = %e, "reconcile: an event from the API does not read");
                return Ok(Delivered::Settled);
            }
        };
        Ok(
            match self.path.take(self.name, delivery.as_ref(), self.now).await {
                Taken::Events { .. } | Taken::Alerted { .. } => Delivered::Done,
                Taken::Ignored { .. } | Taken::Refused(_) => Delivered::Settled,
                Taken::Waiting => Delivered::Waiting,
                Taken::Unavailable(why) => return Err(DeliverError(why.to_owned())),
            },
        )
    }
}
