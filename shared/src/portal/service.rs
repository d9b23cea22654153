//! The customer page's use cases: open a signed link, promise to pay by a
//! date, go to update the card. Over three ports: the account as stored
//! (read only), the bus a `hold_placed` goes out on (the same event path
//! as `pastdue hold place`), and the processor's card page.
//!
//! A link opens only its own account's page, only while its episode is the
//! account's current one and its contact is still a contact; anything else
//! is [`Reply::Expired`], which reveals nothing.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::link::PortalLink;
use crate::domain::engine::local_date;
use crate::domain::{
    AccountState, Contact, Event, EventId, EventKind, Policy, PromiseRefusal, money::format_amount,
};
use crate::ports::card::{CardSessionError, CardSessions};
use crate::ports::{AccountRepository, Publish, PublishError};
use crate::processors::verify::Secret;

/// The bus `source` of the page's events.
pub const SOURCE: &str = "pastdue.portal";

/// Where the page's processor-less buttons go (`{account}` becomes the
/// account id).
#[derive(Debug, Clone)]
pub struct PageLinks {
    pub pay_url: String,
    pub card_url: String,
}

/// Everything the page needs, built once at init.
pub struct Portal<R, B, C> {
    /// Read only: the account and its invoices.
    pub accounts: R,
    /// `hold_placed` goes out here.
    pub bus: B,
    /// The processor's card page (Stripe's customer portal), when set up.
    pub cards: C,
    /// Every secret that opens a link (several during a rotation).
    pub secrets: Vec<Secret>,
    pub policy: Policy,
    pub links: PageLinks,
}

/// One overdue invoice as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Line {
    /// Its number, else pastdue's id.
    pub number: String,
    /// `1,250.00 USD`.
    pub owed: String,
    pub days_overdue: i64,
    /// Its hosted page, when the processor gave one.
    pub pay_url: Option<String>,
}

/// What the page shows a contact.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct View {
    pub account_name: String,
    /// Who the link was sent to: greeted by their own name.
    pub name: String,
    pub lines: Vec<Line>,
    /// One total per currency: `120.00 USD and 5,000 JPY`.
    pub total: String,
    /// The one invoice's hosted page, else `PAY_URL`.
    pub pay_url: String,
    /// `CARD_URL`, shown when no processor card page can be made.
    pub card_url: String,
    /// The promise in force, if any.
    pub promised: Option<NaiveDate>,
    /// The last day of a hold staff agreed, in force.
    pub held: Option<NaiveDate>,
    /// The dates a promise may name, soonest first; empty when none may be
    /// made (then `refusal` says why).
    pub dates: Vec<NaiveDate>,
    pub refusal: Option<String>,
}

/// What a request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Page(View),
    /// The promise is recorded (or was already): thanks, with the date.
    Promised(View, NaiveDate),
    /// The promise is not allowed: the page again, saying why.
    Refused(View, String),
    /// Go to the processor's card page, or `CARD_URL`.
    Redirect(String),
    /// Forged, tampered, expired, for an ended episode or a former contact.
    Expired,
    /// Bad input: what was wrong. Nothing changed.
    BadInput(String),
    /// The store, the bus or the processor is down: nothing changed; try
    /// again.
    Unavailable,
}

/// An opened link: the account as it is, and who is looking.
struct Opened {
    link: PortalLink,
    state: AccountState,
    contact: Contact,
    today: NaiveDate,
}

impl<R, B, C> Portal<R, B, C>
where
    R: AccountRepository,
    B: Publish,
    C: CardSessions,
{
    /// GET: the page for `token`.
    pub async fn open(&self, token: &str, now: DateTime<Utc>) -> Reply {
        match self.opened(token, now).await {
            Ok(o) => Reply::Page(self.view(&o)),
            Err(reply) => reply,
        }
    }

    /// POST: the contact promises to pay by `until` (`YYYY-MM-DD`).
    pub async fn promise(&self, token: &str, until: &str, now: DateTime<Utc>) -> Reply {
        let o = match self.opened(token, now).await {
            Ok(o) => o,
            Err(reply) => return reply,
        };
        let Ok(until) = until.parse::<NaiveDate>() else {
            return Reply::BadInput("Please pick a date from the list.".into());
        };
        let view = self.view(&o);
        // Submitting the same promise again (a double click, a reload)
        // finds it already in force.
        let again = o
            .state
            .promises()
            .last()
            .is_some_and(|p| p.until == until && p.by == o.contact.email)
            && o.state.hold_on(o.today).map(|(held, _)| held) == Some(until);
        if again {
            return Reply::Promised(view, until);
        }
        if let Some(why) = o
            .state
            .promise_refusal(until, &o.contact.email, o.today, &self.policy)
        {
            return Reply::Refused(view, refusal_text(why, &o.state));
        }
        let event = match promise_event(&o, until, now) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(account = %o.link.account, error = %e, "promise event id");
                return Reply::Unavailable;
            }
        };
        match self.bus.publish(SOURCE, std::slice::from_ref(&event)).await {
            Ok(_) => {
                tracing::info!(account = %o.link.account, event = %event.id, %until, "promise to pay placed");
                let mut view = view;
                view.promised = Some(until);
                view.dates.clear();
                Reply::Promised(view, until)
            }
            // The engine refused it (another promise got in first).
            Err(PublishError::Refused(e)) => {
                tracing::info!(account = %o.link.account, event = %event.id, error = %e, "promise refused");
                let state = self.load_fresh(&o).await.unwrap_or(o.state);
                let why = state
                    .promise_refusal(until, &o.contact.email, o.today, &self.policy)
                    .map_or_else(
                        || {
                            "We could not take this promise. Please reply to our last email."
                                .to_owned()
                        },
                        |why| refusal_text(why, &state),
                    );
                Reply::Refused(view, why)
            }
            Err(PublishError::Unavailable(e)) => {
                tracing::error!(account = %o.link.account, event = %event.id, error = %e, retryable = true, "promise not published");
                Reply::Unavailable
            }
        }
    }

    /// POST: the contact wants to update their card. `return_url` is this
    /// page's own address, for the processor's "back" link.
    pub async fn card(&self, token: &str, return_url: &str, now: DateTime<Utc>) -> Reply {
        let o = match self.opened(token, now).await {
            Ok(o) => o,
            Err(reply) => return reply,
        };
        let account = o.link.account.as_str();
        let fallback = || Reply::Redirect(self.links.card_url.replace("{account}", account));
        if !account.starts_with("cus_") {
            return fallback();
        }
        match self.cards.card_session(account, return_url).await {
            // Only ever to Stripe's own hosted portal: never an open redirect.
            Ok(url) if url.starts_with(STRIPE_PORTAL) => Reply::Redirect(url),
            Ok(_) => {
                tracing::error!(account, "card session URL is not Stripe's portal");
                fallback()
            }
            Err(CardSessionError::Refused(e)) => {
                tracing::warn!(account, error = %e, "no card session; sending to CARD_URL");
                fallback()
            }
            Err(e @ CardSessionError::Unavailable(_)) => {
                tracing::error!(account, error = %e, retryable = true, "card session");
                Reply::Unavailable
            }
        }
    }

    async fn opened(&self, token: &str, now: DateTime<Utc>) -> Result<Opened, Reply> {
        // The signature first; the expiry is a day checked in UTC.
        let link = PortalLink::verify(token, &self.secrets, now.date_naive()).map_err(|e| {
            tracing::info!(reason = %e, "portal link refused");
            Reply::Expired
        })?;
        let state = match self.accounts.load(&link.account).await {
            Ok(Some(loaded)) => loaded.state,
            Ok(None) => return Err(Reply::Expired),
            Err(e) => {
                tracing::error!(account = %link.account, error = %e, "portal could not read the account");
                return Err(Reply::Unavailable);
            }
        };
        let current = state.episode.as_ref().map(|e| e.started);
        let contact = state
            .account
            .contacts
            .iter()
            .find(|c| c.email == link.contact)
            .cloned();
        let (Some(contact), true) = (contact, current == Some(link.episode)) else {
            tracing::info!(account = %link.account, "portal link for an ended episode or a former contact");
            return Err(Reply::Expired);
        };
        let today = local_date(now, state.account.timezone);
        Ok(Opened {
            link,
            state,
            contact,
            today,
        })
    }

    async fn load_fresh(&self, o: &Opened) -> Option<AccountState> {
        self.accounts
            .load(&o.link.account)
            .await
            .ok()
            .flatten()
            .map(|l| l.state)
    }

    fn view(&self, o: &Opened) -> View {
        let state = &o.state;
        let overdue = state.overdue(o.today, &self.policy);
        let lines: Vec<Line> = overdue
            .iter()
            .map(|i| {
                let shown = state.shown(&i.id);
                Line {
                    number: shown.number.unwrap_or_else(|| i.id.to_string()),
                    owed: crate::notify::render::money(
                        &format_amount(i.owed, i.currency()),
                        i.currency(),
                    ),
                    days_overdue: i.dpd(o.today).max(0),
                    pay_url: shown.pay_url,
                }
            })
            .collect();
        let total = crate::notify::render::total_of(overdue.iter().map(|i| (i.owed, i.currency())));
        let account = state.account.id.as_str();
        let pay_url = match lines.as_slice() {
            [one] => one.pay_url.clone(),
            _ => None,
        }
        .unwrap_or_else(|| self.links.pay_url.replace("{account}", account));
        // A hold in force is the customer's promise, or one staff agreed.
        let hold = state.hold_on(o.today).map(|(until, _)| until);
        let promised = hold.filter(|until| state.promises().iter().any(|p| p.until == *until));
        let held = hold.filter(|_| promised.is_none());
        let last = o.today + Duration::days(i64::from(self.policy.promise_max_days));
        let refusal = state.promise_refusal(last, &o.contact.email, o.today, &self.policy);
        let dates = if refusal.is_none() && hold.is_none() {
            o.today.iter_days().take_while(|d| *d <= last).collect()
        } else {
            Vec::new()
        };
        View {
            account_name: state.account.name.clone(),
            name: o.contact.name.clone(),
            lines,
            total,
            pay_url,
            card_url: self.links.card_url.replace("{account}", account),
            promised,
            held,
            dates,
            refusal: refusal
                .filter(|_| hold.is_none())
                .map(|why| refusal_text(why, state)),
        }
    }
}

/// Stripe's hosted customer portal: the one place "Update card" redirects
/// to besides `CARD_URL`.
pub const STRIPE_PORTAL: &str = "https://billing.stripe.com/";

/// The `hold_placed` of a promise: its id names the account's episode and
/// the date, so a second submit of the same promise is a duplicate.
fn promise_event(o: &Opened, until: NaiveDate, now: DateTime<Utc>) -> Result<Event, String> {
    let id =
        EventId::parse(&format!("portal_{}_{until}", o.link.episode)).map_err(|e| e.to_string())?;
    Ok(Event {
        id,
        at: now,
        account: o.link.account.clone(),
        kind: EventKind::HoldPlaced {
            until,
            reason: format!(
                "{} <{}> promised to pay by {until} via the customer page",
                o.contact.name, o.contact.email
            ),
            promised_by: Some(o.contact.email.clone()),
        },
        via: None,
    })
}

/// The refusal as the customer reads it.
fn refusal_text(why: PromiseRefusal, state: &AccountState) -> String {
    match why {
        PromiseRefusal::LimitReached(0) => {
            "We cannot take a promise to pay on this page. Please pay, or reply to our last email to talk to us.".to_owned()
        }
        PromiseRefusal::LimitReached(allowed) => {
            let when = state
                .promises()
                .last()
                .map(|p| format!(" to pay by {}", crate::notify::render::long_date(p.until)))
                .unwrap_or_default();
            let how_many = match allowed {
                1 => "only one promise".to_owned(),
                n => format!("only {n} promises"),
            };
            format!(
                "You have already promised{when} for these invoices, and we can accept {how_many} each time an invoice is late. Please pay, or reply to our last email to talk to us."
            )
        }
        PromiseRefusal::TooFar(days) => format!(
            "Please pick a date within {days} days from today. For a longer arrangement, reply to our last email."
        ),
        PromiseRefusal::DateInPast => "Please pick a date from today on.".into(),
        PromiseRefusal::AlreadyHeld(until) => format!(
            "We have already agreed to hold off until {}: nothing is needed from you before then.",
            crate::notify::render::long_date(until)
        ),
        PromiseRefusal::NothingOverdue => "Nothing on your account is overdue.".into(),
        PromiseRefusal::NotAContact => "This link is not for a contact of the account.".into(),
    }
}
