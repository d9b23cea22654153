//! The calls the ladder asks staff to make: a step whose policy carries a
//! task opens it when it fires; a call's outcome is recorded, a no-answer
//! leaves it open, a wrong number marks the phone; the episode's end takes
//! its tasks with it. What the step does for the customer does not change.

mod support;

use pastdue_shared::domain::{
    Account, AccountState, ApplyError, Event, Policy, StepName, TaskOutcome,
};
use serde_json::json;
use support::{event, run};

fn account() -> AccountState {
    AccountState::new(
        Account::from_json(&json!({"id": "acct_1", "name": "Whitfield Hosting", "contacts": [
            {"name": "Dana Whitfield", "email": "dana@whitfield.example", "roles": ["billing"], "phone": "+15550100199"},
            {"name": "Kevin Ortiz", "email": "kevin@whitfield.example", "roles": ["primary"]},
            {"name": "Ruth Nakamura", "email": "ruth@whitfield.example", "roles": ["escalation"], "phone": "+15550100777"}]}))
        .unwrap(),
    )
}

fn issued(id: &str, invoice: &str, due: &str) -> Event {
    event(
        json!({"id": id, "at": "2026-01-01T10:00:00Z", "account": "acct_1", "type": "invoice_issued",
        "invoice": invoice, "amount": "100.00", "currency": "USD", "due": due}),
    )
}

fn outcome(id: &str, task: &str, outcome: &str, note: &str) -> Event {
    event(
        json!({"id": id, "at": "2026-01-23T15:00:00Z", "account": "acct_1", "type": "task_outcome",
        "task": task, "outcome": outcome, "note": note}),
    )
}

fn open(state: &AccountState) -> Vec<&'static str> {
    state.open_tasks().iter().map(|t| t.id()).collect()
}

#[test]
fn the_default_ladder_asks_for_a_call_with_reminder_2_and_up_the_line_with_the_final_notice() {
    let policy = Policy::default();
    let mut state = account();
    state
        .apply(&issued("e1", "in_1", "2026-01-15"), &policy)
        .unwrap();
    let with_tasks = run(&mut state, &policy, "2026-01-16", "2026-01-21");
    assert!(open(&state).is_empty(), "reminder_1 asks for no call");
    run(&mut state, &policy, "2026-01-22", "2026-01-22");
    assert_eq!(open(&state), ["reminder_2"]);
    let task = state.open_tasks()[0];
    let call: Vec<&str> = state
        .task_contacts(task)
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(call, ["Dana Whitfield"]);
    run(&mut state, &policy, "2026-01-23", "2026-01-29");
    assert_eq!(open(&state), ["reminder_2", "final_notice"]);
    let up = state.open_tasks()[1];
    assert_eq!(state.task_contacts(up)[0].name, "Ruth Nakamura");

    // The customer's emails are the ladder's, task or not.
    let mut no_tasks = Policy::default();
    for s in &mut no_tasks.steps {
        s.task = None;
    }
    let mut plain = account();
    plain
        .apply(&issued("e1", "in_1", "2026-01-15"), &no_tasks)
        .unwrap();
    assert_eq!(
        run(&mut plain, &no_tasks, "2026-01-16", "2026-01-21"),
        with_tasks
    );

    // Paid: the episode ends, and its tasks with it.
    state
        .apply(
            &event(json!({"id": "pay", "at": "2026-01-30T12:00:00Z", "account": "acct_1",
                "type": "payment_succeeded", "invoice": "in_1", "amount": "100.00", "currency": "USD"})),
            &policy,
        )
        .unwrap();
    assert!(open(&state).is_empty());
}

#[test]
fn each_outcome_is_recorded_and_a_no_answer_leaves_the_call_to_make() {
    let policy = Policy::default();
    let mut state = account();
    state
        .apply(&issued("e1", "in_1", "2026-01-15"), &policy)
        .unwrap();
    run(&mut state, &policy, "2026-01-16", "2026-01-22");

    state
        .apply(
            &outcome("o1", "reminder_2", "no-answer", "voicemail"),
            &policy,
        )
        .unwrap();
    assert_eq!(open(&state), ["reminder_2"], "still to do");
    state
        .apply(
            &outcome("o2", "reminder_2", "wrong-number", "a bakery"),
            &policy,
        )
        .unwrap();
    assert!(open(&state).is_empty());
    let dana = &state.account.contacts[0];
    assert!(dana.phone_wrong.as_deref().unwrap().contains("a bakery"));
    assert_eq!(dana.callable_phone(), None, "not offered again");
    let task = &state.episode.as_ref().unwrap().tasks[0];
    let said: Vec<TaskOutcome> = task.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(said, [TaskOutcome::NoAnswer, TaskOutcome::WrongNumber]);

    // promised and disputes close a task; an unknown one is a clear error
    // that changes nothing.
    run(&mut state, &policy, "2026-01-23", "2026-01-29");
    state
        .apply(
            &outcome("o3", "final_notice", "disputes", "says it was cancelled"),
            &policy,
        )
        .unwrap();
    assert!(open(&state).is_empty());
    let before = state.clone();
    let err = state
        .apply(&outcome("o4", "suspend", "promised", ""), &policy)
        .unwrap_err();
    assert!(matches!(err, ApplyError::Task { .. }), "{err}");
    assert!(err.to_string().contains("no suspend task"), "{err}");
    assert_eq!(state, before);
    assert_eq!(StepName::parse("final_notice"), Some(StepName::FinalNotice));
}
