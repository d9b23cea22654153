//! pastdue's library.
//!
//! - [`domain`]: pure types and rules (no AWS, HTTP or clock access).
//! - [`ports`]: the small traits each function depends on, split by operation.
//! - [`adapters`]: DynamoDB and SES v2 implementations of the ports, and the
//!   table schema read from `infra/template.yaml`.
//! - [`processors`]: one folder per payment processor (its signature scheme
//!   and mapping to canonical events) behind one trait, and the registry by
//!   path that `ingest` uses.
//! - [`handlers`]: the code each Lambda runs, generic over ports, so the
//!   binaries under `functions/` only wire clients and call in here.
//! - [`config`], [`telemetry`], [`runtime`]: settings read once at init, JSON
//!   logs, and Lambda runtime glue.

pub mod adapters;
pub mod config;
pub mod domain;
pub mod handlers;
pub mod notify;
pub mod ports;
pub mod processors;
pub mod routing;
pub mod runtime;
pub mod services;
pub mod telemetry;
