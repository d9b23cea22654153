//! Emails: templates and rendering (pure). The `notifier` function's
//! handler is `crate::handlers::notifier`.

pub mod aging;
pub mod render;
