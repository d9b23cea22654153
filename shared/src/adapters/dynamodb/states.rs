//! The lifecycle states items carry in their `state` attribute, one enum per
//! kind of item, so no state is a loose string.

/// A processor delivery: claimed until its events are on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Published,
}

/// An outbox entry: pending until the bus has the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    Pending,
    Announced,
}

/// One notice to one recipient in the mail log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailState {
    /// A send is in progress (taken over after its lease).
    Claimed,
    Sent,
    Refused,
    /// Given back after a retryable failure.
    Retry,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Published => "published",
        }
    }
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Announced => "announced",
        }
    }
}

impl MailState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "claimed",
            Self::Sent => "sent",
            Self::Refused => "refused",
            Self::Retry => "retry",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Claimed, Self::Sent, Self::Refused, Self::Retry]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}
