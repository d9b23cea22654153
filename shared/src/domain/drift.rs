//! Drift: where pastdue's picture of an account's invoices differs from
//! what the processor says. Pure: the caller reads both sides.

use chrono::NaiveDate;
use serde::Serialize;

use super::engine::InvoiceStanding;
use super::money::format_amount;
use super::{AccountId, InvoiceId, Money};

/// An invoice as the processor has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TheirInvoice {
    pub id: InvoiceId,
    /// `open`, `paid`, `void`, `uncollectible` (or `draft`).
    pub status: String,
    /// Still to pay.
    pub owed: Money,
    /// Its due date in the account's zone, when it has one.
    pub due: Option<NaiveDate>,
}

/// What one line of the report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// The processor has the customer with open invoices; pastdue has no
    /// account for them.
    CustomerMissing,
    /// The processor has the invoice open (or uncollectible: still owed);
    /// pastdue does not have it.
    InvoiceMissing,
    /// pastdue has the invoice open; the processor has no such invoice.
    UnknownToProcessor,
    /// Open on one side, paid, void or uncollectible on the other.
    Status,
    /// Both have it open, owing different amounts.
    Owed,
    /// Both have it, due on different dates.
    Due,
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub account: AccountId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice: Option<InvoiceId>,
    pub kind: DriftKind,
    /// What pastdue says, for a person.
    pub pastdue: String,
    /// What the processor says, for a person.
    pub processor: String,
}

impl Drift {
    /// Whether applying the processor's invoice through the webhook's path
    /// would settle it (all but an invoice the processor does not have).
    pub fn fixable(&self) -> bool {
        self.kind != DriftKind::UnknownToProcessor
    }
}

fn ours_text(i: &InvoiceStanding) -> String {
    let owed = format!(
        "{} {}",
        format_amount(i.outstanding, i.currency()),
        i.currency().code()
    );
    if i.void {
        "void".into()
    } else if i.written_off {
        format!("written off, {owed} owed")
    } else if i.outstanding > rust_decimal::Decimal::ZERO {
        format!("open, {owed} owed")
    } else {
        "paid".into()
    }
}

fn theirs_text(t: &TheirInvoice) -> String {
    if owed_there(t) {
        format!("{}, {} owed", t.status, t.owed)
    } else {
        t.status.clone()
    }
}

/// Whether the processor still expects money on it (chased or not).
fn owed_there(t: &TheirInvoice) -> bool {
    matches!(t.status.as_str(), "open" | "uncollectible")
}

/// Whether pastdue still expects money on it.
pub fn open_here(i: &InvoiceStanding) -> bool {
    !i.void && i.outstanding > rust_decimal::Decimal::ZERO
}

/// The differences between `ours` (the account's invoices in pastdue;
/// `None`: no such account) and `theirs` (the processor's invoices of the
/// account that are open, and those pastdue has open, as the processor has
/// them; an invoice pastdue has open that the processor lacks is absent).
pub fn compare(
    account: &AccountId,
    ours: Option<&[InvoiceStanding]>,
    theirs: &[TheirInvoice],
) -> Vec<Drift> {
    let line = |invoice: Option<&InvoiceId>, kind, pastdue: String, processor: String| Drift {
        account: account.clone(),
        invoice: invoice.cloned(),
        kind,
        pastdue,
        processor,
    };
    let mut out = Vec::new();
    let Some(ours) = ours else {
        let open: Vec<&TheirInvoice> = theirs.iter().filter(|t| owed_there(t)).collect();
        if !open.is_empty() {
            out.push(line(
                None,
                DriftKind::CustomerMissing,
                "no account".into(),
                format!("{} invoice(s) owed", open.len()),
            ));
            for t in open {
                out.push(line(
                    Some(&t.id),
                    DriftKind::InvoiceMissing,
                    "-".into(),
                    theirs_text(t),
                ));
            }
        }
        return out;
    };
    for t in theirs {
        let Some(i) = ours.iter().find(|i| i.id == t.id) else {
            if owed_there(t) {
                out.push(line(
                    Some(&t.id),
                    DriftKind::InvoiceMissing,
                    "-".into(),
                    theirs_text(t),
                ));
            }
            continue;
        };
        let agree_status = match t.status.as_str() {
            "open" => open_here(i) && !i.written_off,
            "uncollectible" => i.written_off || i.void || !open_here(i),
            "void" => i.void || !open_here(i),
            // Paid (or a draft): nothing owed there.
            _ => !open_here(i),
        };
        if !agree_status {
            out.push(line(
                Some(&t.id),
                DriftKind::Status,
                ours_text(i),
                theirs_text(t),
            ));
            continue;
        }
        if t.status == "open"
            && (i.outstanding != t.owed.amount() || i.currency() != t.owed.currency())
        {
            out.push(line(
                Some(&t.id),
                DriftKind::Owed,
                ours_text(i),
                theirs_text(t),
            ));
        }
        if let Some(due) = t.due
            && due != i.due
            && open_here(i)
        {
            out.push(line(
                Some(&t.id),
                DriftKind::Due,
                format!("due {}", i.due),
                format!("due {due}"),
            ));
        }
    }
    for i in ours.iter().filter(|i| open_here(i)) {
        if !theirs.iter().any(|t| t.id == i.id) {
            out.push(line(
                Some(&i.id),
                DriftKind::UnknownToProcessor,
                ours_text(i),
                "no such invoice".into(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use rust_decimal::Decimal;

    use super::*;
    use crate::domain::Currency;

    fn usd(s: &str) -> Money {
        Money::parse(s, Currency::parse("USD").unwrap()).unwrap()
    }

    fn ours(id: &str, amount: &str, paid: &str, due: &str) -> InvoiceStanding {
        let amount = usd(amount);
        let paid = Decimal::from_str(paid).unwrap();
        InvoiceStanding {
            id: InvoiceId::parse(id).unwrap(),
            amount,
            paid,
            outstanding: amount.amount() - paid,
            owed: amount.amount() - paid,
            due: due.parse().unwrap(),
            effective_due: due.parse().unwrap(),
            void: false,
            in_dispute: false,
            written_off: false,
        }
    }

    fn theirs(id: &str, status: &str, owed: &str, due: &str) -> TheirInvoice {
        TheirInvoice {
            id: InvoiceId::parse(id).unwrap(),
            status: status.into(),
            owed: usd(owed),
            due: Some(due.parse().unwrap()),
        }
    }

    fn kinds(d: &[Drift]) -> Vec<(String, DriftKind)> {
        d.iter()
            .map(|d| {
                (
                    d.invoice
                        .as_ref()
                        .map(|i| i.to_string())
                        .unwrap_or_default(),
                    d.kind,
                )
            })
            .collect()
    }

    #[test]
    fn each_kind_of_difference_is_found_and_agreement_is_quiet() {
        let acct = AccountId::parse("cus_1").unwrap();
        let here = [
            ours("in_same", "100.00", "0", "2026-01-15"),
            ours("in_paid_there", "100.00", "0", "2026-01-15"),
            ours("in_less_there", "100.00", "0", "2026-01-15"),
            ours("in_later_there", "100.00", "0", "2026-01-15"),
            ours("in_unknown", "100.00", "0", "2026-01-15"),
            ours("in_paid_both", "100.00", "100.00", "2026-01-15"),
        ];
        let there = [
            theirs("in_same", "open", "100.00", "2026-01-15"),
            theirs("in_paid_there", "paid", "0", "2026-01-15"),
            theirs("in_less_there", "open", "60.00", "2026-01-15"),
            theirs("in_later_there", "open", "100.00", "2026-02-01"),
            theirs("in_new", "open", "40.00", "2026-01-20"),
            theirs("in_paid_both", "paid", "0", "2026-01-15"),
        ];
        let found = compare(&acct, Some(&here), &there);
        assert_eq!(
            kinds(&found),
            [
                ("in_paid_there".into(), DriftKind::Status),
                ("in_less_there".into(), DriftKind::Owed),
                ("in_later_there".into(), DriftKind::Due),
                ("in_new".into(), DriftKind::InvoiceMissing),
                ("in_unknown".into(), DriftKind::UnknownToProcessor),
            ]
        );
        assert_eq!(found[1].pastdue, "open, 100.00 USD owed");
        assert_eq!(found[1].processor, "open, 60.00 USD owed");
        assert!(!found[4].fixable());
    }

    #[test]
    fn a_customer_pastdue_lacks_is_one_line_and_each_open_invoice() {
        let acct = AccountId::parse("cus_2").unwrap();
        let there = [
            theirs("in_a", "open", "10.00", "2026-01-15"),
            theirs("in_b", "paid", "0", "2026-01-15"),
        ];
        assert_eq!(
            kinds(&compare(&acct, None, &there)),
            [
                (String::new(), DriftKind::CustomerMissing),
                ("in_a".into(), DriftKind::InvoiceMissing),
            ]
        );
    }
}
