//! How pastdue came by an event when it was not the processor's webhook:
//! kept with the event on the bus and in the account's timeline, so a
//! person reading it knows the webhook missed it.

use std::fmt;

/// Where an event came from, besides the webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Reconciliation read it from the processor's event log.
    Reconciliation,
    /// The check before a cut-off read the invoice from the processor.
    CutOffCheck,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reconciliation => "reconciliation",
            Self::CutOffCheck => "check_before_cut_off",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "reconciliation" => Ok(Self::Reconciliation),
            "check_before_cut_off" => Ok(Self::CutOffCheck),
            other => Err(format!(
                "expected reconciliation or check_before_cut_off, got {other:?}"
            )),
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
