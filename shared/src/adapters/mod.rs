//! Implementations of the ports against AWS services and processors' APIs.
//! Clients are built once at init by the caller and passed in.

pub mod bus;
pub mod dynamodb;
pub mod gocardless_api;
pub mod http_retry;
pub mod paypal_certs;
pub mod paypal_verify;
pub mod ses;
pub mod ssm;
pub mod stripe_api;
