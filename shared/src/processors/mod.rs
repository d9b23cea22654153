//! Processor adapters: verify a delivery, and map it to canonical events.

pub mod standard;
pub mod stripe;
pub mod verify;

#[cfg(test)]
mod tests;
