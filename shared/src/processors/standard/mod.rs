//! Standard Webhooks: its signature scheme; the body is a canonical event.

pub mod signature;
