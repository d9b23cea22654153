//! The customer's own page (issue 17): from a signed link in a reminder,
//! a late customer sees what is overdue, pays, updates their card, or
//! promises to pay by a date within the policy's limits.
//!
//! - [`link`]: the signed links the emails carry;
//! - [`service`]: opening a link, promising, going to the card page;
//! - [`page`]: the HTML.

pub mod link;
pub mod page;
pub mod service;
