//! Saved cards (processors' payment methods) and the notice before the card
//! a customer pays with stops working: at the customer's first daily run in
//! the [`NOTICE_DAYS`] days before the end of its expiry month, once per
//! (card, expiry), for the default card, or the only card when none is
//! default. A card renewed with a later expiry, or removed, gets no notice.
//!
//! Each card and the default are the latest the processor said (by `at`,
//! then arrival), so deliveries in any order end the same.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::AccountState;
use super::vocabulary::{Action, EventAction};
use crate::domain::CardId;
use crate::domain::account::Role;
use crate::domain::policy::Policy;

/// How many days before a card stops working its notice goes out.
pub const NOTICE_DAYS: i64 = 30;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Saved {
    exp_month: u32,
    exp_year: i32,
    /// Removed (detached) as of `at`; kept so an older save cannot bring it back.
    removed: bool,
    at: DateTime<Utc>,
    seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Default {
    card: Option<CardId>,
    at: DateTime<Utc>,
    seq: u64,
}

/// An account's saved cards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, std::default::Default)]
pub struct Cards {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    saved: BTreeMap<CardId, Saved>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<Default>,
}

/// The last day a card expiring in `month`/`year` works.
pub fn stops_working(month: u32, year: i32) -> Option<NaiveDate> {
    let (y, m) = if month == 12 {
        (year.checked_add(1)?, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)?.pred_opt()
}

impl Cards {
    fn newer(old: Option<(DateTime<Utc>, u64)>, at: DateTime<Utc>, seq: u64) -> bool {
        old.is_none_or(|old| (at, seq) > old)
    }

    /// A card saved or changed (attached, updated, renewed by the network).
    pub(super) fn save(
        &mut self,
        card: &CardId,
        exp_month: u32,
        exp_year: i32,
        at: DateTime<Utc>,
        seq: u64,
    ) -> bool {
        self.put(card, exp_month, exp_year, false, at, seq)
    }

    /// A card removed (detached): no notice for it from then on.
    pub(super) fn remove(&mut self, card: &CardId, at: DateTime<Utc>, seq: u64) -> bool {
        let (m, y) = self
            .saved
            .get(card)
            .map_or((1, 1970), |s| (s.exp_month, s.exp_year));
        self.put(card, m, y, true, at, seq)
    }

    fn put(
        &mut self,
        card: &CardId,
        exp_month: u32,
        exp_year: i32,
        removed: bool,
        at: DateTime<Utc>,
        seq: u64,
    ) -> bool {
        let old = self.saved.get(card);
        if !Self::newer(old.map(|s| (s.at, s.seq)), at, seq) {
            return false;
        }
        let changed = old
            .is_none_or(|s| (s.exp_month, s.exp_year, s.removed) != (exp_month, exp_year, removed));
        self.saved.insert(
            card.clone(),
            Saved {
                exp_month,
                exp_year,
                removed,
                at,
                seq,
            },
        );
        changed
    }

    /// The customer's default card (none: `None`).
    pub(super) fn set_default(
        &mut self,
        card: Option<&CardId>,
        at: DateTime<Utc>,
        seq: u64,
    ) -> bool {
        let old = self.default.as_ref();
        if !Self::newer(old.map(|d| (d.at, d.seq)), at, seq) {
            return false;
        }
        let changed = old.is_none_or(|d| d.card.as_ref() != card);
        self.default = Some(Default {
            card: card.cloned(),
            at,
            seq,
        });
        changed
    }

    /// The card the customer pays with and its expiry: the default card if
    /// it is saved, else the only saved card.
    pub fn watched(&self) -> Option<(&CardId, u32, i32)> {
        fn live<'c>((id, s): (&'c CardId, &'c Saved)) -> Option<(&'c CardId, u32, i32)> {
            (!s.removed).then_some((id, s.exp_month, s.exp_year))
        }
        if let Some(card) = self.default.as_ref().and_then(|d| d.card.as_ref()) {
            return self.saved.get_key_value(card).and_then(live);
        }
        let mut live_cards = self.saved.iter().filter_map(live);
        match (live_cards.next(), live_cards.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }
}

impl AccountState {
    /// The first local date on which a card notice is due and not yet sent,
    /// for the store's run index; `None` when no notice is pending.
    pub fn card_notice_from(&self) -> Option<NaiveDate> {
        let (card, m, y) = self.cards.watched()?;
        if self.cards_noticed.contains(&(card.clone(), m, y)) {
            return None;
        }
        stops_working(m, y).map(|last| last - Duration::days(NOTICE_DAYS))
    }

    /// The card notice of a run on `date`, if one is due: recorded as sent
    /// for its (card, expiry).
    pub(super) fn card_notice_on(&mut self, date: NaiveDate, policy: &Policy) -> Option<Action> {
        let (card, m, y) = self.cards.watched()?;
        let last = stops_working(m, y)?;
        if date < last - Duration::days(NOTICE_DAYS) {
            return None;
        }
        // Once the card has stopped working a notice is late: none is sent,
        // and the account leaves the run index all the same.
        if !self.cards_noticed.insert((card.clone(), m, y)) || date > last {
            return None;
        }
        let recipients = self.recipients(&[Role::Billing]);
        Some(self.event_action(
            EventAction::CardExpiringNotice,
            date,
            None,
            recipients,
            policy,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::stops_working;

    #[test]
    fn a_card_works_to_the_end_of_its_expiry_month() {
        let d = |s: &str| s.parse().ok();
        assert_eq!(stops_working(2, 2028), d("2028-02-29"));
        assert_eq!(stops_working(12, 2026), d("2026-12-31"));
        assert_eq!(stops_working(13, 2026), None);
    }
}
