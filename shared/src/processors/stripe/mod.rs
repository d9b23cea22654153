//! Stripe: its signature scheme and its event types mapped to canonical
//! events.

pub mod mapping;
pub mod signature;
