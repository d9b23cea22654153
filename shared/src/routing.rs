//! Which function applies which canonical event type: the one definition of
//! the bus routing. `infra/template.yaml`'s rules must say the same (a test
//! will check it when the template gains its bus).

/// A per-kind handler function and the canonical `type`s (the bus
/// `detail-type`s) it subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub function: &'static str,
    pub types: &'static [&'static str],
}

pub const ROUTES: &[Route] = &[
    // Events that change what is owed and when, including holds.
    Route {
        function: "invoice-issued",
        types: &[
            "invoice_issued",
            "invoice_voided",
            "hold_placed",
            "hold_released",
        ],
    },
    Route {
        function: "payment-succeeded",
        types: &["payment_succeeded", "payment_refunded"],
    },
    Route {
        function: "payment-failed",
        types: &["payment_failed"],
    },
    Route {
        function: "card-expiring",
        types: &["card_expiring"],
    },
    Route {
        function: "dispute-opened",
        types: &["dispute_opened"],
    },
    Route {
        function: "dispute-closed",
        types: &["dispute_closed"],
    },
];

pub fn route(function: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.function == function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::EVENT_TYPES;

    #[test]
    fn every_canonical_type_has_exactly_one_handler() {
        for t in EVENT_TYPES {
            let handlers: Vec<&str> = ROUTES
                .iter()
                .filter(|r| r.types.contains(&t))
                .map(|r| r.function)
                .collect();
            assert_eq!(handlers.len(), 1, "{t}: {handlers:?}");
        }
        assert!(
            ROUTES
                .iter()
                .flat_map(|r| r.types)
                .all(|t| EVENT_TYPES.contains(t))
        );
    }
}
