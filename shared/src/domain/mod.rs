//! The pure domain: values that are valid by construction, and the dunning
//! engine. No AWS, HTTP or clock access; time comes in as an argument.

pub mod account;
pub mod account_import;
pub mod aging;
pub mod digest;
pub mod drift;
mod email;
pub mod engine;
pub mod event;
pub mod fields;
mod ids;
pub mod message;
pub mod money;
mod phone;
pub mod policy;
pub mod restored;
pub mod shown;
pub mod simulate;
pub mod timeline;
pub mod via;
pub mod view;

pub use account::{Account, Contact, Role};
pub use account_import::AccountImport;
pub use email::{EmailAddress, EmailError, tag_value};
pub use engine::{
    AccountState, Action, ActionKind, ApplyError, ApplyOutcome, Dispute, Episode, EventAction,
    Hold, Invoice, InvoiceStanding, PromiseRefusal, Settled, Status, Task, TaskAttempt,
    TaskOutcome,
};
pub use event::{Event, EventKind, Outcome};
pub use ids::{
    AccountId, CardId, DisputeId, EventId, IdError, InvoiceId, MandateId, PaymentId, RefundId,
    invoice_link_key,
};
pub use message::{ActionMessage, CUT_OFF_UNVERIFIED, Cause};
pub use money::{Currency, Money, MoneyError};
pub use phone::{Phone, PhoneError};
pub use policy::{Policy, PolicyError, Step, StepName};
pub use shown::Shown;
pub use timeline::TimelineEntry;
pub use via::Via;
