#!/usr/bin/env python3
"""Stripe deliveries for the demo and the samples, as Stripe posts them on
2026-11-18.endive.

Stripe publishes no endive fixtures and its changelog changes none of these
objects, so every object is a complete copy of dahlia's published fixture
object (shared/tests/fixtures/stripe/dahlia.json, see its README) with only
values set. Setting a field the fixture object lacks stops the script, except
the two that Stripe's types declare and its fixtures omit: the rule of
`Family::object` and `Family::event` in tests/stripe_shapes.rs.

Writes events/demo/stripe.json and stripe_lost.json (the demo: what reached
pastdue, and what Stripe sent that never did; events/demo/story.json says
what must come of it) and events/stripe/*.json (one delivery each, for the tests).
Edit the stories below, then rerun from anywhere and check:

    python3 dev/stripe_deliveries.py
    cargo test -p pastdue-tests --test stripe_samples
"""

import copy
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = json.loads((ROOT / "shared/tests/fixtures/stripe/dahlia.json").read_text())["objects"]
API_VERSION = "2026-11-18.endive"
DECLARED_NOT_IN_FIXTURES = {
    ("invoice_payment", "payment.payment_intent"),
    ("invoice_payment", "payment.charge"),
}


def fail(message):
    sys.exit(f"stripe_deliveries.py: {message}")

def obj(kind, fields):
    """Dahlia's `kind` object with `fields` set: dotted paths, a number
    indexes a list. Stops on a field the fixture object does not have."""
    if kind not in FIXTURES:
        fail(f"Stripe sends no {kind}")
    out = copy.deepcopy(FIXTURES[kind])
    for path, value in fields.items():
        *parents, leaf = path.split(".")
        at = out
        for p in parents:
            if isinstance(at, list) and p.isdigit() and int(p) < len(at):
                at = at[int(p)]
            elif isinstance(at, dict) and isinstance(at.get(p), (dict, list)):
                at = at[p]
            else:
                fail(f"{kind} has no {p} in {path}")
        if isinstance(at, list) or (leaf not in at and (kind, path) not in DECLARED_NOT_IN_FIXTURES):
            fail(f"{kind} has no field {path}: never invent one")
        at[leaf] = copy.deepcopy(value)
    return out


def as_stripe_sends(value):
    """`value` with its keys in the order Stripe sends them: `id` and
    `object` first, then the rest as the fixture has them (its fixtures are
    sorted whole; see the Event object at docs.stripe.com/api/events/object)."""
    if isinstance(value, list):
        return [as_stripe_sends(v) for v in value]
    if not isinstance(value, dict):
        return value
    first = [k for k in ("id", "object") if k in value]
    return {k: as_stripe_sends(value[k]) for k in first + [k for k in value if k not in first]}


def event(evt, kind, created, data_object, previous=None):
    """The fixture's event around `data_object`, as `Family::event` builds it."""
    out = copy.deepcopy(FIXTURES["event"])
    for k, v in (("id", evt), ("type", kind), ("created", created), ("api_version", API_VERSION)):
        if k not in out:
            fail(f"events have no {k}")
        out[k] = v
    out["data"] = {"object": data_object}
    if previous is not None:
        out["data"]["previous_attributes"] = previous
    return as_stripe_sends(out)


def no_address(kind):
    return {k: None for k in FIXTURES[kind]["billing_details"]["address"]}


def at(text):
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())


# --- Stripe's objects, with the values a real account's objects have --------

def invoice(inv, status="open", attempts=0, paid_at=None, credited=0, **times):
    """An invoice sent for payment (`send_invoice`) on a subscription's cycle.
    `times`: voided_at, marked_uncollectible_at, next_payment_attempt."""
    amount, paid = inv["amount"], inv["amount"] if status == "paid" else 0
    line = "lines.data.0."
    return obj("invoice", {
        "account_name": "Example Hosting Co", "amount_due": amount, "amount_paid": paid,
        "amount_remaining": 0 if status in ("paid", "void") else amount,
        "attempt_count": attempts, "attempted": attempts > 0, "auto_advance": True,
        "automatic_tax.liability": None,
        "billing_reason": "subscription_cycle", "collection_method": "send_invoice",
        "created": inv["created"], "currency": inv["currency"], "customer": inv["customer"],
        "customer_email": inv["email"], "customer_name": inv["name"], "customer_shipping": None,
        "due_date": inv["due"], "effective_at": inv["finalized"], "from_invoice": None,
        "hosted_invoice_url": inv["url"], "id": inv["id"],
        "invoice_pdf": inv["url"].replace("invoice.stripe.com/i/", "pay.stripe.com/invoice/") + "/pdf?s=ap",
        "last_finalization_error": None, line + "amount": amount, line + "currency": inv["currency"],
        line + "description": "Monthly hosting plan", line + "id": "il_" + inv["id"][3:],
        line + "invoice": inv["id"], line + "metadata": {},
        line + "period.start": inv["period"][0], line + "period.end": inv["period"][1],
        line + "pretax_credit_amounts": [], line + "taxes": [],
        line + "parent.invoice_item_details": None,
        line + "parent.subscription_item_details.proration": False,
        line + "parent.subscription_item_details.proration_details.credited_items": None,
        line + "parent.subscription_item_details.subscription": inv["subscription"],
        line + "parent.subscription_item_details.subscription_item": inv["subscription_item"],
        line + "parent.type": "subscription_item_details",
        line + "pricing.unit_amount_decimal": str(amount), line + "subtotal": amount,
        line + "subscription": inv["subscription"],
        "lines.url": f"/v1/invoices/{inv['id']}/lines",
        "next_payment_attempt": times.get("next_payment_attempt"), "number": inv["number"],
        "payment_settings.payment_method_options": None, "post_payment_credit_notes_amount": credited,
        "period_end": inv["period"][1], "period_start": inv["period"][0],
        "shipping_cost": None, "shipping_details": None, "status": status,
        "status_transitions.finalized_at": inv["finalized"],
        "status_transitions.marked_uncollectible_at": times.get("marked_uncollectible_at"),
        "status_transitions.paid_at": paid_at, "status_transitions.voided_at": times.get("voided_at"),
        "subtotal": amount, "subtotal_excluding_tax": amount, "total": amount,
        "total_excluding_tax": amount, "webhooks_delivered_at": inv["created"],
        "total_pretax_credit_amounts": [], "total_taxes": [], "amount_overpaid": 0,
        "parent.quote_details": None, "parent.type": "subscription_details",
        "parent.subscription_details.metadata": {},
        "parent.subscription_details.subscription": inv["subscription"],
    })


def invoice_payment(inv, payment_intent, paid_at):
    return obj("invoice_payment", {
        "amount_paid": inv["amount"], "amount_requested": inv["amount"], "created": paid_at,
        "currency": inv["currency"], "id": "inpay_" + inv["id"][3:], "invoice": inv["id"],
        "livemode": False, "payment.type": "payment_intent",
        "payment.payment_intent": payment_intent, "status": "paid",
        "status_transitions.paid_at": paid_at,
    })


def dispute(d, status, evidence_submitted):
    return obj("dispute", {
        "amount": d["amount"], "charge": d["charge"], "created": d["created"],
        "currency": d["currency"], "evidence_details.due_by": d["due_by"],
        "evidence_details.has_evidence": evidence_submitted,
        "evidence_details.submission_count": int(evidence_submitted),
        "id": d["id"], "is_charge_refundable": False, "payment_intent": d["payment_intent"],
        "payment_method_details.card.case_type": "chargeback",
        "payment_method_details.card.network_reason_code": d["network_reason_code"],
        "reason": d["reason"], "status": status, "enhanced_eligibility_types": [],
    })


def card_payment_method(pm, customer, month, year, name, email, created):
    return obj("payment_method", {
        "billing_details.address": no_address("payment_method"),
        "billing_details.email": email, "billing_details.name": name,
        "billing_details.phone": None, "card.exp_month": month, "card.exp_year": year,
        "card.generated_from": None, "card.wallet": None, "created": created,
        "customer": customer, "id": pm, "metadata": {},
    })


def customer(cus, name, email, prefix, created, default_payment_method=None):
    return obj("customer", {
        "created": created, "discount": None, "email": email, "id": cus,
        "invoice_prefix": prefix, "invoice_settings.default_payment_method": default_payment_method,
        "name": name, "shipping": None,
    })


# --- The demo: six customers, 2026-09-01 to 2026-11-14 ---------------------

DEMO_CUSTOMERS = {  # as in customers.json: billing contact, email, company; invoices
    "Kestrel": ("Jonas Weber", "jonas@kestrel.example", "Kestrel Games", "eur", 64000, "KEST"),
    "Bluefin": ("Marta Silva", "marta@bluefin.example", "Bluefin Analytics", "gbp", 8900, "BLUE"),
    "Northwind": ("Priya Raman", "priya@northwind.example", "Northwind Hosting", "usd", 24900, "NORT"),
    "Copperline": ("Luis Ortega", "luis@copperline.example", "Copperline MSP", "usd", 125000, "COPP"),
    "Halyard": ("Amara Okafor", "amara@halyard.example", "Halyard Networks", "usd", 42000, "HALY"),
    "Wren": ("Noor Haddad", "noor@wren.example", "Wren Studio", "gbp", 18000, "WREN"),
}
MONTHS = {"SEP": ("2026-08-01", "2026-09-01"), "OCT": ("2026-09-01", "2026-10-01"),
          "NOV": ("2026-10-01", "2026-11-01")}
# When (UTC), what, who, which month's invoice. `paid` is an invoice_payment.paid
# and, 2 s later, the invoice.paid restating the invoice; `card` attaches a card
# (exp 10/2026) and, 2 s later, makes it the customer's default. `paid_lost`
# is a payment Stripe recorded whose two webhooks never reached pastdue
# (written to stripe_lost.json: the demo puts them in the loopback Stripe
# API only).
DEMO_STORY = """
2026-09-01T03:00 finalized Kestrel SEP | 2026-09-01T04:00 finalized Bluefin SEP
2026-09-01T09:00 finalized Northwind SEP | 2026-09-01T10:00 finalized Copperline SEP
2026-09-01T11:00 finalized Halyard SEP | 2026-10-02T15:30 paid_lost Halyard SEP
2026-10-01T11:00 finalized Halyard OCT | 2026-10-14T09:25 paid Halyard OCT
2026-11-01T11:30 finalized Halyard NOV | 2026-11-12T10:05 paid Halyard NOV
2026-09-01T06:00 finalized Wren SEP | 2026-09-24T10:15 paid Wren SEP
2026-10-01T06:00 finalized Wren OCT | 2026-10-13T09:40 paid Wren OCT
2026-11-01T06:00 finalized Wren NOV | 2026-11-12T09:30 paid Wren NOV
2026-09-14T05:40 paid Kestrel SEP | 2026-09-14T11:10 paid Northwind SEP
2026-09-15T12:20 failed Copperline SEP | 2026-09-24T07:05 paid Bluefin SEP
2026-09-28T04:30 disputed Kestrel SEP
2026-10-01T03:00 finalized Kestrel OCT | 2026-10-01T04:00 finalized Bluefin OCT
2026-10-01T08:30 card Northwind - | 2026-10-01T09:00 finalized Northwind OCT
2026-10-01T10:00 finalized Copperline OCT | 2026-10-08T12:45 paid Copperline SEP
2026-10-14T04:40 paid Kestrel OCT | 2026-10-14T06:15 paid Bluefin OCT
2026-10-14T10:50 paid Northwind OCT | 2026-10-14T12:05 paid Copperline OCT
2026-10-20T05:30 dispute_lost Kestrel SEP
2026-11-01T04:00 finalized Kestrel NOV | 2026-11-01T05:00 finalized Bluefin NOV
2026-11-01T10:00 finalized Northwind NOV | 2026-11-01T11:00 finalized Copperline NOV
2026-11-12T07:55 paid Bluefin NOV | 2026-11-12T11:20 paid Northwind NOV
2026-11-12T12:35 paid Copperline NOV
"""


def demo():
    steps = [s.split() for line in DEMO_STORY.strip().splitlines() for s in line.split("|")]
    finalized = {(who, month): at(when) for when, what, who, month in steps if what == "finalized"}

    def inv(who, month):
        _, email, company, currency, amount, prefix = DEMO_CUSTOMERS[who]
        start, end = MONTHS[month]
        return {
            "id": f"in_1Demo{who}{month}", "customer": f"cus_Demo{who}", "email": email,
            "name": company, "currency": currency, "amount": amount, "number": f"{prefix}-{month}",
            "url": f"https://invoice.stripe.com/i/acct_1Example/test_{who.lower()}{month.lower()}",
            "created": finalized[(who, month)], "finalized": finalized[(who, month)],
            # Noon UTC: the 15th in each customer's own time zone.
            "due": at(f"{end[:8]}15T12:00:00"), "period": (at(start + "T00:00"), at(end + "T00:00")),
            "subscription": f"sub_1Demo{who}", "subscription_item": f"si_1Demo{who}",
        }

    out, failed, missed = [], set(), set()
    for when, what, who, month in steps:
        t = at(when)
        if what == "card":
            holder, email, company, *_, prefix = DEMO_CUSTOMERS[who]
            pm, cus = f"pm_1Demo{who}", f"cus_Demo{who}"
            saved = card_payment_method(pm, cus, 10, 2026, holder, email, t)
            default = customer(cus, company, email, prefix, at("2026-08-03T15:00"), pm)
            out.append(("payment_method.attached", t, saved, None))
            out.append(("customer.updated", t + 2, default, {"invoice_settings": {"default_payment_method": None}}))
            continue
        i = inv(who, month)
        if what == "finalized":
            out.append(("invoice.finalized", t, invoice(i), None))
        elif what == "failed":
            failed.add(i["id"])
            out.append(("invoice.payment_failed", t, invoice(i, attempts=1), None))
        elif what in ("paid", "paid_lost"):
            attempts = 2 if i["id"] in failed else 1
            if what == "paid_lost":
                missed.update({t, t + 2})
            out.append(("invoice_payment.paid", t, invoice_payment(i, f"pi_3Demo{who}{month}", t), None))
            out.append(("invoice.paid", t + 2, invoice(i, "paid", attempts=attempts, paid_at=t), None))
        else:
            d = {"id": f"du_1Demo{who}{month}", "amount": i["amount"], "currency": i["currency"],
                 "charge": f"ch_3Demo{who}{month}", "payment_intent": f"pi_3Demo{who}{month}",
                 "created": at("2026-09-28T04:30"), "due_by": at("2026-10-08T21:59"),
                 "reason": "product_not_received", "network_reason_code": "13.1"}
            lost = what == "dispute_lost"
            out.append(("charge.dispute.closed" if lost else "charge.dispute.created", t,
                        dispute(d, "lost" if lost else "needs_response", lost), None))
    out.sort(key=lambda d: d[1])
    events = [(t in missed, event(f"evt_1Demo{n:04d}StoryXq", kind, t, o, prev))
              for n, (kind, t, o, prev) in enumerate(out, 1)]
    return ([e for gone, e in events if not gone], [e for gone, e in events if gone])


# --- The samples: one Whitfield Hosting invoice, one delivery each ----------

WHITFIELD = {
    "id": "in_1QhZ3lLkdIwHu7ixWhf01", "customer": "cus_Whitfield01",
    "email": "dana@whitfield.example", "name": "Whitfield Hosting", "currency": "usd",
    "amount": 12000, "number": "WHIT-0001",
    "url": "https://invoice.stripe.com/i/acct_1Example/test_YWNjdF8x",
    "created": 1767279000, "finalized": 1767279600, "due": 1768435200,
    "period": (1764547200, 1767225600),
    "subscription": "sub_1QhZ3lLkdIwHu7ixSub01", "subscription_item": "si_1QhZ3lLkdIwHu7ixItm01",
}
PI, CH, PM = "pi_3QhZ3lLkdIwHu7ix1AbCdEf", "ch_3QhZ3lLkdIwHu7ix0Pay01", "pm_1QhZ3lLkdIwHu7ixCard01"
PAID, REFUNDED = 1767538800, 1767970800
DISPUTE = {"id": "dp_1QhZ3lLkdIwHu7ixDisp01", "amount": 12000, "currency": "usd", "charge": CH,
           "payment_intent": PI, "created": 1767798000, "due_by": 1768694399, "reason": "fraudulent",
           "network_reason_code": "10.4"}


def samples():
    w, paid = WHITFIELD, {"status": "paid", "attempts": 1, "paid_at": PAID - 2}
    as_customer = ("Whitfield Hosting", w["email"], "WHIT", 1767279600)
    charge = obj("charge", {
        "amount": 12000, "amount_captured": 12000, "amount_refunded": 3000,
        "balance_transaction": "txn_3QhZ3lLkdIwHu7ix0Txn01",
        "billing_details.address": no_address("charge"),
        "billing_details.email": w["email"], "billing_details.name": "Dana Whitfield",
        "calculated_statement_descriptor": "EXAMPLE HOSTING", "captured": True, "disputed": True,
        "created": PAID - 4, "customer": w["customer"], "description": "Payment for Invoice",
        "id": CH, "outcome.network_status": "approved_by_network",
        "outcome.seller_message": "Payment complete.", "outcome.type": "authorized",
        "payment_intent": PI, "payment_method": PM,
        "payment_method_details.card.amount_authorized": 12000,
        "payment_method_details.card.exp_month": 2, "payment_method_details.card.exp_year": 2026,
        "payment_method_details.card.installments": None,
        "payment_method_details.card.overcapture.maximum_amount_capturable": 12000,
        "payment_method_details.card.wallet": None,
        "receipt_email": w["email"],
        "receipt_url": "https://pay.stripe.com/receipts/invoices/test_YWNjdF8x?s=ap",
        "refunds.url": f"/v1/charges/{CH}/refunds", "shipping": None, "source": None,
        "transfer_data": None,
    })
    refund = obj("refund", {
        "amount": 3000, "balance_transaction": "txn_3QhZ3lLkdIwHu7ix0Txn02", "charge": CH,
        "created": REFUNDED, "id": "re_3QhZ3lLkdIwHu7ix0Ref01", "payment_intent": PI,
        "reason": "requested_by_customer", "customer": w["customer"], "payment_method": PM,
    })
    card = obj("card", {"customer": w["customer"], "exp_month": 2, "exp_year": 2026,
                        "id": "card_1QhZ3lLkdIwHu7ixCard01", "name": "Dana Whitfield"})
    pm = card_payment_method(PM, w["customer"], 2, 2026, "Dana Whitfield", w["email"], 1767279700)
    sent = [  # event id, type (the file's name), when, object[, previous attributes]
        ("evt_1QhZ45adefa2c5091025", "customer.created", 1767279600, customer(w["customer"], *as_customer)),
        ("evt_1QhZ4b1e6c3a7d90f214", "payment_method.attached", 1767279700, pm),
        ("evt_1QhZ4c7d2f8e1b05a936", "customer.updated", 1767279702, customer(w["customer"], *as_customer, PM),
         {"invoice_settings": {"default_payment_method": None}}),
        ("evt_1QhZ3mLkdIwHu7ix0a1b2c3d", "invoice.finalized", w["finalized"], invoice(w)),
        ("evt_1QhZd38d2666bf254658", "invoice.voided", 1767366000, invoice(w, "void", voided_at=1767366000)),
        ("evt_1QhZ29d354ed00ba5704", "invoice.marked_uncollectible", 1767452400,
         invoice(w, "uncollectible", marked_uncollectible_at=1767452400)),
        ("evt_1QhZ0a7c3e19b2d4f5a6", "invoice_payment.paid", PAID - 2, invoice_payment(w, PI, PAID - 2)),
        ("evt_1QhZ05eb00683b004f31", "invoice.paid", PAID, invoice(w, **paid)),
        ("evt_1QhZ913a9047da0dce62", "invoice.payment_succeeded", PAID, invoice(w, **paid)),
        ("evt_1QhZ105b1c6505069d20", "invoice.payment_failed", 1767625200,
         invoice(w, attempts=2, next_payment_attempt=w["due"])),
        ("evt_1QhZ27f6b37e586163e2", "customer.source.expiring", 1767711600, card),
        ("evt_1QhZ28fec8c2dc52e34c", "charge.dispute.created", 1767798000,
         dispute(DISPUTE, "needs_response", False)),
        ("evt_1QhZ7224586f60890ef2", "charge.dispute.closed", 1767884400, dispute(DISPUTE, "lost", True)),
        # 30.00 credited after payment and refunded: Stripe sends these together.
        ("evt_1QhZu8a1c3e5f7092b4d", "invoice.updated", REFUNDED, invoice(w, credited=3000, **paid),
         {"post_payment_credit_notes_amount": 0}),
        ("evt_1QhZr3f9e2d1c0b4a697", "refund.created", REFUNDED, refund),
        ("evt_1QhZb1ce20db304ed977", "charge.refunded", REFUNDED, charge),
    ]
    return {s[1]: event(*s) for s in sent}


def write(path, value):
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    delivered, lost = demo()
    write(ROOT / "events/demo/stripe.json", delivered)
    write(ROOT / "events/demo/stripe_lost.json", lost)
    for name, delivery in samples().items():
        write(ROOT / f"events/stripe/{name}.json", delivery)
