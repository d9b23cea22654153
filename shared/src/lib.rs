//! pastdue's library. Dependencies run one way: `domain` ← `services` ←
//! `handlers` ← `functions/*`; `adapters` implement `ports` and import
//! neither handlers nor services.
//!
//! - [`domain`]: pure types and rules (no AWS, HTTP or clock access): the
//!   engine (`domain/engine/`), events, money, policy, action messages, the
//!   audit timeline.
//! - [`ports`]: the small traits the use cases and handlers depend on, split
//!   by operation (so each function's IAM policy allows only what it uses).
//! - [`services`]: the use cases over those ports: apply an event exactly
//!   once, run one account with the suspension safety rule, operator
//!   changes, announce the outbox, report an unreachable contact; in-memory
//!   ports for unit tests.
//! - [`adapters`]: DynamoDB (one file per concern), SES v2, the bus, SSM.
//! - [`processors`]: one folder per payment processor (its signature scheme
//!   and mapping to canonical events) behind one trait, and the registry by
//!   path that `ingest` uses.
//! - [`handlers`]: each Lambda's boundary (parse, call the services, answer),
//!   generic over ports, so the binaries under `functions/` only wire
//!   clients and call in here.
//! - [`config`]: every environment setting, read once at init;
//!   [`telemetry`]: JSON logs; [`runtime`]: wiring shared by the mains;
//!   [`notify`]: email templates; [`routing`]: which function handles which
//!   event.

pub mod adapters;
pub mod config;
pub mod domain;
pub mod handlers;
pub mod notify;
pub mod portal;
pub mod ports;
pub mod processors;
pub mod routing;
pub mod runtime;
pub mod services;
pub mod telemetry;
