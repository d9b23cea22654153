//! What an operator sees of an account (`pastdue account show --json`).

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::account::Contact;
use super::engine::{AccountState, InvoiceStanding};
use super::money::format_amount;
use super::policy::Policy;

fn invoice_status(i: &InvoiceStanding) -> &'static str {
    if i.void {
        "void"
    } else if i.written_off {
        "written_off"
    } else if i.owed.is_sign_positive() && !i.owed.is_zero() {
        "open"
    } else {
        "paid"
    }
}

/// The account on local date `today`: amounts as decimal strings.
pub fn account_view(state: &AccountState, today: NaiveDate, policy: &Policy) -> Value {
    let a = &state.account;
    let invoices: Vec<Value> = state
        .invoices()
        .iter()
        .map(|i| {
            let c = i.currency();
            let shown = state.shown(&i.id);
            json!({
                "id": i.id,
                "number": shown.number,
                "pay_url": shown.pay_url,
                "currency": c.code(),
                "amount": format_amount(i.amount.amount(), c),
                "paid": format_amount(i.paid, c),
                "outstanding": format_amount(i.outstanding, c),
                "owed": format_amount(i.owed, c),
                "due": i.due.to_string(),
                "effective_due": i.effective_due.to_string(),
                "status": invoice_status(i),
                "in_dispute": i.in_dispute,
            })
        })
        .collect();
    let episode = state.episode.as_ref().map(|e| {
        json!({
            "started": e.started.to_string(),
            "fired": e.fired.iter().map(|(step, d)| (step.as_str().to_owned(), json!(d.to_string()))).collect::<serde_json::Map<_, _>>(),
            "skipped": e.skipped.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        })
    });
    let hold = state.hold_on(today);
    json!({
        "id": a.id,
        "name": a.name,
        "status": state.status.as_str(),
        "timezone": a.timezone.name(),
        "exempt": a.exempt,
        "dpd": state.dpd(today, policy),
        "hold_until": hold.map(|(until, _)| until.to_string()),
        "hold_reason": hold.map(|(_, reason)| reason),
        // Undeliverable contacts are skipped by recipients (spec §5.3).
        "contacts": a.contacts.iter().map(Contact::to_json).collect::<Vec<_>>(),
        "invoices": invoices,
        "card_notice_from": state.card_notice_from().map(|d| d.to_string()),
        "episode": episode,
        "last_run": state.last_run.map(|d| d.to_string()),
    })
}
