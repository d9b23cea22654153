//! Which function applies which canonical event type: the bus routing. The
//! local bus follows it; `infra/template.yaml`'s rules must say the same (a
//! test checks that they do).

/// A per-kind handler function and the canonical `type`s (the bus
/// `detail-type`s) it subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub function: &'static str,
    pub types: &'static [&'static str],
}

pub const ROUTES: &[Route] = &[
    // Events that change what is owed and when, holds, and contacts found
    // unreachable (the notifier reports them here: it may not write
    // accounts itself).
    Route {
        function: "invoice-issued",
        types: &[
            "invoice_issued",
            "invoice_voided",
            "invoice_written_off",
            "hold_placed",
            "hold_released",
            "contact_undeliverable",
            "task_outcome",
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
        types: &[
            "card_expiring",
            "card_saved",
            "card_removed",
            "default_card",
            "direct_debit_stopped",
        ],
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

/// The actions the engine publishes (`source` `pastdue.engine`).
pub const ACTION_TYPES: &[&str] = &[
    "reminder_1",
    "reminder_2",
    "final_notice",
    "suspend",
    "cancel",
    "collections_notice",
    "collections",
    "reinstate",
    "payment_failed_notice",
    "card_expiring_notice",
    "direct_debit_stopped_notice",
    "dispute_alert",
    "cut_off_unverified",
    "promise_confirmed",
    "promise_noted",
    "staff_digest",
];

/// SES events (`source` `aws.ses`, through the configuration set's event
/// destination) about mail that could not be delivered.
pub const SES_FEEDBACK_TYPES: &[&str] = &["Email Bounced", "Email Complaint Received"];

/// Who receives actions and SES feedback. Downstream systems (a control
/// panel) add their own rules in AWS; locally only the notifier listens.
pub const ACTION_ROUTES: &[Route] = &[
    Route {
        function: "notifier",
        types: ACTION_TYPES,
    },
    Route {
        function: "notifier",
        types: SES_FEEDBACK_TYPES,
    },
];

pub fn route(function: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.function == function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::EVENT_TYPES;

    /// (binary, sorted detail-types) of every function with a bus rule.
    fn template_routes() -> Vec<(String, Vec<String>)> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
        let t: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut out = Vec::new();
        for (_, r) in t["Resources"].as_mapping().unwrap() {
            if r["Type"] != "AWS::Serverless::Function" {
                continue;
            }
            let binary = r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap()
                .to_owned();
            let Some(events) = r["Properties"]["Events"].as_mapping() else {
                continue;
            };
            for (_, e) in events {
                if e["Type"] == "EventBridgeRule" {
                    let mut types: Vec<String> = e["Properties"]["Pattern"]["detail-type"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_owned())
                        .collect();
                    types.sort();
                    out.push((binary.clone(), types));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn the_template_rules_are_this_routing_table() {
        let mut ours: Vec<(String, Vec<String>)> = ROUTES
            .iter()
            .chain(ACTION_ROUTES)
            .map(|r| {
                let mut types: Vec<String> = r.types.iter().map(|t| (*t).to_owned()).collect();
                types.sort();
                (r.function.to_owned(), types)
            })
            .collect();
        ours.sort();
        assert_eq!(template_routes(), ours);
    }

    #[test]
    fn every_action_the_engine_returns_is_routed_to_the_notifier() {
        use crate::domain::{ActionKind, EventAction, StepName};
        let mut names: Vec<&str> = StepName::ALL
            .iter()
            .map(|s| ActionKind::Step(*s).as_str())
            .collect();
        names.extend(
            [
                EventAction::Reinstate,
                EventAction::PaymentFailedNotice,
                EventAction::CardExpiringNotice,
                EventAction::DirectDebitStoppedNotice,
                EventAction::DisputeAlert,
                EventAction::PromiseConfirmed,
                EventAction::PromiseNoted,
            ]
            .map(|a| ActionKind::Event(a).as_str()),
        );
        // Not the engine's: the run's alert of a cut-off the processor
        // could not confirm.
        names.push(crate::domain::CUT_OFF_UNVERIFIED);
        // Nor the staff's morning digest.
        names.push(crate::domain::message::STAFF_DIGEST);
        names.sort_unstable();
        let mut routed = ACTION_TYPES.to_vec();
        routed.sort_unstable();
        assert_eq!(names, routed);
    }

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
