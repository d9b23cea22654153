//! Stripe customers and their saved cards (PaymentMethods) → pastdue's own
//! canonical card events: which cards a customer has, their expiry, and
//! which one pays by default. The daily run sends the card notice from
//! these (see `domain::engine::cards`); `customer.source.expiring`, for
//! legacy Cards and Sources, maps in [`super::charges`].

use super::event::StripeEvent;
use super::mapping::Built;
use super::objects::{Customer, PaymentMethod, PreviousOwner};
use crate::domain::fields::FieldError;
use crate::domain::{Account, AccountId, CardId, Contact, EmailAddress, EventKind, Role};
use crate::processors::Mapped;

fn card_id(raw: &str) -> Result<CardId, FieldError> {
    CardId::parse(raw).map_err(|e| FieldError::new("data.object.id", e))
}

fn account_id(raw: &str, field: &str) -> Result<AccountId, FieldError> {
    AccountId::parse(raw).map_err(|e| FieldError::new(field, e))
}

fn one(
    stripe: &StripeEvent<'_>,
    account: &AccountId,
    kind: EventKind,
    new: Option<Account>,
) -> Result<Mapped, FieldError> {
    Ok(Mapped::Events {
        events: vec![Built::per_delivery(stripe, 0).event(stripe, account, kind)?],
        account: new,
    })
}

/// `payment_method.attached`, `.updated`, `.automatically_updated` (the
/// card network renewed it) and `.detached`.
pub fn map_payment_method(
    stripe: &StripeEvent<'_>,
    pm: &PaymentMethod<'_>,
) -> Result<Mapped, FieldError> {
    let card = card_id(&pm.id)?;
    if stripe.kind == "payment_method.detached" {
        // Detached, it belongs to no customer: Stripe names the one it left.
        let owner = stripe
            .previous::<PreviousOwner<'_>>()?
            .and_then(|p| p.customer);
        let Some(owner) = owner.or_else(|| pm.customer.clone()) else {
            return Ok(Mapped::Ignored {
                reason: "a detached payment method that names no customer".into(),
            });
        };
        let account = account_id(owner.as_str(), "data.previous_attributes.customer")?;
        return one(stripe, &account, EventKind::CardRemoved { card }, None);
    }
    let (Some(expiry), "card") = (&pm.card, pm.kind.as_ref()) else {
        return Ok(Mapped::Ignored {
            reason: format!("a {} payment method does not expire", pm.kind),
        });
    };
    let Some(customer) = &pm.customer else {
        return Ok(Mapped::Ignored {
            reason: "a card saved to no customer".into(),
        });
    };
    let exp_month = u32::try_from(expiry.exp_month)
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| FieldError::new("data.object.card.exp_month", "expected 1 to 12"))?;
    let exp_year = i32::try_from(expiry.exp_year)
        .ok()
        .filter(|y| (2000..=2200).contains(y))
        .ok_or_else(|| {
            FieldError::new("data.object.card.exp_year", "expected a four-digit year")
        })?;
    let account = account_id(customer.as_str(), "data.object.customer")?;
    one(
        stripe,
        &account,
        EventKind::CardSaved {
            card,
            exp_month,
            exp_year,
        },
        None,
    )
}

/// `customer.created` / `customer.updated`: the customer as an account (if
/// new), greeted by its name at its email, and its default payment method.
pub fn map_customer(stripe: &StripeEvent<'_>, c: &Customer<'_>) -> Result<Mapped, FieldError> {
    let id = account_id(&c.id, "data.object.id")?;
    let name = c
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(id.as_str())
        .to_owned();
    let mut contacts = Vec::new();
    if let Some(email) = c.email.as_deref()
        && let Ok(email) = EmailAddress::parse(email)
    {
        contacts.push(
            Contact::new(&name, email, [Role::Billing, Role::Primary].into())
                .map_err(|e| FieldError::new("data.object.name", e))?,
        );
    }
    let account = Account {
        id: id.clone(),
        name,
        timezone: chrono_tz::Tz::UTC,
        exempt: false,
        contacts,
    };
    let Some(settings) = &c.invoice_settings else {
        return Ok(Mapped::Ignored {
            reason: "a customer without invoice settings names no default card".into(),
        });
    };
    let card = settings
        .default_payment_method
        .as_ref()
        .map(|pm| card_id(pm.as_str()))
        .transpose()?;
    one(stripe, &id, EventKind::DefaultCard { card }, Some(account))
}
