//! A customer's own promise to pay (the customer page), in the engine: it
//! holds the ladder to its date, within the policy's limits, and the next
//! email after a broken promise says the date passed.

mod support;

use pastdue_shared::domain::{
    Account, AccountState, Action, ActionKind, ApplyError, ApplyOutcome, Event, EventAction,
    Policy, PromiseRefusal, StepName,
};
use serde_json::json;
use support::{day, event, run};

/// Whitfield, 100.00 USD due Thursday 2026-01-15, run to `to`.
fn overdue_until(to: &str) -> (AccountState, Policy, Vec<Action>) {
    let account = Account::from_json(
        &json!({"id": "acct_1", "name": "Whitfield Hosting", "contacts": [
        {"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"]},
        {"name": "Kevin Ortiz", "email": "kevin@whitfield.example", "roles": ["primary"]}]}),
    )
    .unwrap();
    let mut state = AccountState::new(account);
    let policy = Policy::default();
    state
        .apply(
            &event(json!({"id": "e1", "at": "2026-01-01T10:00:00Z", "account": "acct_1",
                "type": "invoice_issued", "invoice": "in_1", "amount": "100.00", "currency": "USD", "due": "2026-01-15"})),
            &policy,
        )
        .unwrap();
    let actions = run(&mut state, &policy, "2026-01-16", to);
    (state, policy, actions)
}

fn promise(id: &str, at: &str, until: &str, by: &str) -> Event {
    event(
        json!({"id": id, "at": at, "account": "acct_1", "type": "hold_placed", "until": until,
        "reason": "promised via the customer page", "promised_by": by}),
    )
}

fn names(actions: &[Action]) -> Vec<(String, &'static str)> {
    actions
        .iter()
        .map(|a| (a.date.to_string(), a.kind.as_str()))
        .collect()
}

#[test]
fn a_promise_holds_the_ladder_to_its_date_and_the_next_email_says_it_passed() {
    // reminder_1 went out on Friday the 16th; on Monday the 19th Dana
    // promises to pay by Wednesday the 28th.
    let (mut state, policy, _) = overdue_until("2026-01-19");
    let outcome = state
        .apply(
            &promise(
                "p1",
                "2026-01-19T15:00:00Z",
                "2026-01-28",
                "dana@whitfield.example",
            ),
            &policy,
        )
        .unwrap();
    let ApplyOutcome::Applied(actions) = outcome else {
        panic!("{outcome:?}")
    };
    // Dana is thanked, staff are told; both name the invoice and the date.
    assert_eq!(actions.len(), 2);
    assert_eq!(
        actions[0].kind,
        ActionKind::Event(EventAction::PromiseConfirmed)
    );
    assert_eq!(actions[0].recipients.len(), 1);
    assert_eq!(actions[0].recipients[0].name, "Dana Whitfield");
    assert_eq!(
        actions[1].kind,
        ActionKind::Event(EventAction::PromiseNoted)
    );
    assert!(actions[1].recipients.is_empty());
    for a in &actions {
        assert_eq!(a.promised, Some(day("2026-01-28")));
        assert_eq!(a.invoices.len(), 1);
    }

    // reminder_2 (dpd 7, the 22nd) waits for the promise; unpaid on the
    // 28th, the ladder resumes on Thursday the 29th with the final notice
    // (reminder_2 is skipped: a later step is due), which says so.
    let after = run(&mut state, &policy, "2026-01-20", "2026-02-20");
    assert_eq!(
        names(&after)[..2],
        [
            ("2026-01-29".to_owned(), "final_notice"),
            ("2026-02-05".to_owned(), "suspend"),
        ]
    );
    assert_eq!(after[0].promise_passed, Some(day("2026-01-28")));
    assert_eq!(after[1].promise_passed, None, "said once");
}

#[test]
fn a_promise_past_the_limits_is_refused_and_changes_nothing() {
    let (mut state, policy, _) = overdue_until("2026-01-19");
    let refused = |state: &mut AccountState, e: Event| -> PromiseRefusal {
        let before = state.clone();
        match state.apply(&e, &policy) {
            Err(ApplyError::PromiseRefused { why, .. }) => {
                assert_eq!(*state, before, "a refusal changes nothing");
                why
            }
            other => panic!("{other:?}"),
        }
    };
    let at = "2026-01-19T15:00:00Z";
    // 14 days is the default limit: the 2nd of February is 14 days away.
    assert_eq!(
        refused(
            &mut state,
            promise("far", at, "2026-02-03", "dana@whitfield.example")
        ),
        PromiseRefusal::TooFar(14)
    );
    assert_eq!(
        refused(
            &mut state,
            promise("past", at, "2026-01-18", "dana@whitfield.example")
        ),
        PromiseRefusal::DateInPast
    );
    assert_eq!(
        refused(
            &mut state,
            promise("who", at, "2026-01-22", "mallory@elsewhere.example")
        ),
        PromiseRefusal::NotAContact
    );
    // A hold staff agreed is never shortened by a promise.
    let agreed = event(
        json!({"id": "agreed", "at": "2026-01-19T10:00:00Z", "account": "acct_1", "type": "hold_placed", "until": "2026-01-25", "reason": "agreed by phone"}),
    );
    let mut held = state.clone();
    held.apply(&agreed, &policy).unwrap();
    assert_eq!(
        refused(
            &mut held,
            promise("short", at, "2026-01-23", "dana@whitfield.example")
        ),
        PromiseRefusal::AlreadyHeld(day("2026-01-25"))
    );
    state
        .apply(
            &promise("ok", at, "2026-02-02", "dana@whitfield.example"),
            &policy,
        )
        .unwrap();
    // One promise per episode, whoever makes the next.
    assert_eq!(
        refused(
            &mut state,
            promise("again", at, "2026-01-25", "kevin@whitfield.example")
        ),
        PromiseRefusal::LimitReached(1)
    );
    // A staff hold is not a promise: never limited.
    let staff = event(
        json!({"id": "staff", "at": at, "account": "acct_1", "type": "hold_placed", "until": "2026-03-01", "reason": "agreed by phone"}),
    );
    assert!(matches!(
        state.apply(&staff, &policy),
        Ok(ApplyOutcome::Applied(_))
    ));
}

#[test]
fn a_promise_needs_something_overdue_and_the_next_episode_may_promise_again() {
    let (mut state, policy, _) = overdue_until("2026-01-19");
    state
        .apply(
            &promise(
                "p1",
                "2026-01-19T15:00:00Z",
                "2026-01-23",
                "dana@whitfield.example",
            ),
            &policy,
        )
        .unwrap();
    state
        .apply(
            &event(json!({"id": "pay", "at": "2026-01-23T12:00:00Z", "account": "acct_1",
                "type": "payment_succeeded", "invoice": "in_1", "amount": "100.00", "currency": "USD"})),
            &policy,
        )
        .unwrap();
    assert!(state.episode.is_none(), "paid on the promised day");
    assert!(matches!(
        state.apply(
            &promise(
                "p2",
                "2026-01-24T15:00:00Z",
                "2026-01-30",
                "dana@whitfield.example"
            ),
            &policy
        ),
        Err(ApplyError::PromiseRefused {
            why: PromiseRefusal::NothingOverdue,
            ..
        })
    ));
    // The next month's invoice, late again: a new episode, a new promise.
    state
        .apply(
            &event(json!({"id": "e2", "at": "2026-02-01T10:00:00Z", "account": "acct_1",
                "type": "invoice_issued", "invoice": "in_2", "amount": "100.00", "currency": "USD", "due": "2026-02-15"})),
            &policy,
        )
        .unwrap();
    let ran = run(&mut state, &policy, "2026-01-24", "2026-02-16");
    assert_eq!(
        names(&ran),
        [("2026-02-16".to_owned(), StepName::Reminder1.as_str())]
    );
    assert!(matches!(
        state.apply(
            &promise(
                "p3",
                "2026-02-16T15:00:00Z",
                "2026-02-20",
                "dana@whitfield.example"
            ),
            &policy
        ),
        Ok(ApplyOutcome::Applied(_))
    ));
}
