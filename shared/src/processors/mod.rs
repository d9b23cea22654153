//! Processor adapters: verify a delivery, and map it to canonical events.

pub mod standard_verify;
pub mod stripe;
pub mod stripe_verify;
pub mod verify;

#[cfg(test)]
mod tests;
