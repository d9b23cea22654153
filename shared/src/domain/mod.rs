//! The pure domain: values that are valid by construction. No AWS, HTTP or
//! clock access; time comes in as an argument.

mod email;
mod ids;

pub use email::{EmailAddress, EmailError};
pub use ids::{AccountId, IdError};
