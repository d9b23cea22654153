#!/usr/bin/env python3
"""A Stripe API on loopback for pastdue's tests: the few read endpoints
reconciliation calls and the customer portal's session, answered as Stripe
answers them (list objects and their cursors, errors and their bodies, 429
with Retry-After), over state that each test sets for its own API key.

    python3 dev/stripe_api.py [--port 12111]      (make stack starts it)

Stripe's endpoints (every request needs `Authorization: Bearer <key>`;
each key is its own Stripe account, so tests running at once never see
each other's data):

    GET /v1/events          created[gte], created[lte], types[], limit,
                            starting_after, ending_before; newest first
    GET /v1/events/{id}
    GET /v1/invoices        status, customer, created[gte], limit,
                            starting_after; newest first
    GET /v1/invoices/{id}   expand[]=payments: with its invoice payments,
                            as the list Stripe includes then
    GET /v1/invoice_payments/{id}
    POST /v1/billing_portal/sessions   form: customer (required), return_url,
                            configuration, locale, on_behalf_of; a
                            `billing_portal.session` as of 2026-07-29.dahlia
                            (stripe/openapi fixtures3.json; endive changed
                            nothing known in it). Idempotency-Key replays
                            the first answer, as Stripe does.

What a test sets (same key), under /_test/:

    POST /_test/events      a JSON list of events to add
    POST /_test/invoices    a JSON list of invoices to add or replace
    POST /_test/invoice_payments  a JSON list of invoice payments to add or
                            replace (each names its `invoice`)
    POST /_test/customers   a JSON list of customers to add or replace (at
                            least an `id`)
    POST /_test/portal      {"configured": false}: the customer portal's
                            settings were never saved, so sessions are refused
    POST /_test/faults      {"status": 429, "count": 2, "retry_after": 1,
                             "path": "/v1/events"}: the next `count`
                            requests whose path starts with `path` fail so
    GET  /_test/requests    what was asked, in order: method, path, query,
                            the Stripe-Version header; a POST also its
                            form and Idempotency-Key
    POST /_test/revoke      the key is refused from now on (401), as a
                            rolled or deleted key is
    POST /_test/reset       forgets the key's state

Only loopback: the server refuses to bind anything else.
"""

import json
import secrets
import threading
import time
import urllib.parse

import loopback

LOCK = threading.Lock()
ACCOUNTS = {}  # api key -> fresh_state()


def fresh_state():
    return {"events": [], "invoices": {}, "invoice_payments": {}, "customers": {},
            "portal_configured": True, "idempotent": {}, "faults": [], "requests": []}


def account(key):
    return ACCOUNTS.setdefault(key, fresh_state())


def with_payments(state, invoice):
    """The invoice with its `payments` included, as `expand[]=payments` asks."""
    wanted = invoice["id"]
    payments = sorted(
        (p for p in state["invoice_payments"].values() if p.get("invoice") == wanted),
        key=lambda p: (p.get("created", 0), p["id"]), reverse=True)
    out = dict(invoice)
    out["payments"] = {"object": "list", "data": payments, "has_more": False,
                       "url": f"/v1/invoice_payments?invoice={wanted}"}
    return out


def error(status, kind, message, code=None, param=None):
    body = {"error": {"message": message, "type": kind}}
    if code:
        body["error"]["code"] = code
        body["error"]["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        body["error"]["param"] = param
    return status, body


def page(items, query, url):
    """Stripe's cursor pagination over `items`, already newest first."""
    try:
        limit = int(query.get("limit", ["10"])[0])
    except ValueError:
        return error(400, "invalid_request_error", "Invalid integer: limit", "parameter_invalid_integer", "limit")
    if not 1 <= limit <= 100:
        return error(400, "invalid_request_error",
                     "This value must be greater than or equal to 1 and less than or equal to 100.",
                     "parameter_invalid_integer", "limit")
    ids = [i["id"] for i in items]
    after = query.get("starting_after", [None])[0]
    before = query.get("ending_before", [None])[0]
    if after:
        if after not in ids:
            return error(400, "invalid_request_error", f"No such object: '{after}'", "resource_missing", "starting_after")
        start = ids.index(after) + 1
        chosen = items[start:start + limit]
        more = start + limit < len(items)
    elif before:
        if before not in ids:
            return error(400, "invalid_request_error", f"No such object: '{before}'", "resource_missing", "ending_before")
        end = ids.index(before)
        chosen = items[max(0, end - limit):end]
        more = end - limit > 0
    else:
        chosen = items[:limit]
        more = limit < len(items)
    return 200, {"object": "list", "data": chosen, "has_more": more, "url": url}


def created_filter(query):
    def bound(name):
        raw = query.get(f"created[{name}]", [None])[0]
        return int(raw) if raw is not None else None
    gte, lte, gt, lt = bound("gte"), bound("lte"), bound("gt"), bound("lt")

    def keep(o):
        c = o.get("created", 0)
        return ((gte is None or c >= gte) and (lte is None or c <= lte)
                and (gt is None or c > gt) and (lt is None or c < lt))
    return keep


def newest_first(objects):
    # Stripe lists newest first; among equal times, the later-added first.
    indexed = list(enumerate(objects))
    indexed.sort(key=lambda p: (p[1].get("created", 0), p[0]), reverse=True)
    return [o for _, o in indexed]


ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def stripe_id(prefix, length=24):
    return prefix + "".join(secrets.choice(ALNUM) for _ in range(length))


PORTAL_PARAMS = ("customer", "return_url", "configuration", "locale", "on_behalf_of")


def portal_session(state, form, live):
    """POST /v1/billing_portal/sessions: a `billing_portal.session` as
    Stripe renders it (the keys of fixtures3.json's, dahlia), or its error."""
    for name in form:
        if name not in PORTAL_PARAMS:
            return error(400, "invalid_request_error", f"Received unknown parameter: {name}",
                         "parameter_unknown", name)
    customer = form.get("customer", [None])[0]
    if customer is None:
        return error(400, "invalid_request_error", "Missing required param: customer.",
                     "parameter_missing", "customer")
    if customer == "":
        return error(400, "invalid_request_error",
                     "You passed an empty string for 'customer'. We assume empty values are an attempt "
                     "to unset a parameter; however 'customer' cannot be unset. You should remove "
                     "'customer' from your request or supply a non-empty value.",
                     "parameter_invalid_empty", "customer")
    if customer not in state["customers"]:
        return error(400, "invalid_request_error", f"No such customer: '{customer}'",
                     "resource_missing", "customer")
    return_url = form.get("return_url", [None])[0]
    if return_url is not None:
        parsed = urllib.parse.urlsplit(return_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            return error(400, "invalid_request_error", "Not a valid URL", "url_invalid", "return_url")
    mode = "live" if live else "test"
    if not state["portal_configured"]:
        dashboard = "https://dashboard.stripe.com/" + ("" if live else "test/")
        return error(400, "invalid_request_error",
                     f"You can\u2019t create a portal session in {mode} mode until you save your customer "
                     f"portal settings in {mode} mode at {dashboard}settings/billing/portal.")
    configuration = form.get("configuration", [None])[0]
    if configuration is None:
        configuration = state.setdefault("portal_configuration", stripe_id("bpc_"))
    return 200, {
        "id": stripe_id("bps_"),
        "object": "billing_portal.session",
        "configuration": configuration,
        "created": int(time.time()),
        "customer": customer,
        "customer_account": None,
        "flow": None,
        "livemode": live,
        "locale": form.get("locale", [None])[0],
        "on_behalf_of": form.get("on_behalf_of", [None])[0],
        "return_url": return_url,
        "url": f"https://billing.stripe.com/p/session/{mode}_{stripe_id('', 88)}",
    }


def answer(state, method, path, query, form=None, live=False):
    if method == "POST" and path == "/v1/billing_portal/sessions":
        return portal_session(state, form or {}, live)
    if method != "GET":
        return error(405, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")
    if path == "/v1/events":
        types = query.get("types[]", [])
        if len(types) > 20:
            return error(400, "invalid_request_error", "types: at most 20", "parameter_invalid_array", "types")
        keep = created_filter(query)
        items = [e for e in state["events"] if keep(e) and (not types or e["type"] in types)]
        return page(newest_first(items), query, "/v1/events")
    if path.startswith("/v1/events/"):
        wanted = path.rsplit("/", 1)[1]
        for e in state["events"]:
            if e["id"] == wanted:
                return 200, e
        return error(404, "invalid_request_error", f"No such event: '{wanted}'", "resource_missing", "id")
    if path == "/v1/invoices":
        keep = created_filter(query)
        status = query.get("status", [None])[0]
        customer = query.get("customer", [None])[0]
        items = [i for i in state["invoices"].values()
                 if keep(i) and (status is None or i.get("status") == status)
                 and (customer is None or i.get("customer") == customer)]
        return page(newest_first(items), query, "/v1/invoices")
    if path.startswith("/v1/invoices/"):
        wanted = path.rsplit("/", 1)[1]
        if wanted in state["invoices"]:
            invoice = state["invoices"][wanted]
            if "payments" in query.get("expand[]", []):
                invoice = with_payments(state, invoice)
            return 200, invoice
        return error(404, "invalid_request_error", f"No such invoice: '{wanted}'", "resource_missing", "id")
    if path.startswith("/v1/invoice_payments/"):
        wanted = path.rsplit("/", 1)[1]
        if wanted in state["invoice_payments"]:
            return 200, state["invoice_payments"][wanted]
        return error(404, "invalid_request_error", f"No such invoice payment: '{wanted}'", "resource_missing", "id")
    return error(404, "invalid_request_error", f"Unrecognized request URL (GET: {path}).")


def control(state, method, path, body):
    if method == "POST" and path == "/_test/events":
        state["events"].extend(body)
        return 200, {"events": len(state["events"])}
    if method == "POST" and path == "/_test/invoices":
        for invoice in body:
            state["invoices"][invoice["id"]] = invoice
        return 200, {"invoices": len(state["invoices"])}
    if method == "POST" and path == "/_test/invoice_payments":
        for payment in body:
            state["invoice_payments"][payment["id"]] = payment
        return 200, {"invoice_payments": len(state["invoice_payments"])}
    if method == "POST" and path == "/_test/customers":
        for customer in body:
            state["customers"][customer["id"]] = customer
        return 200, {"customers": len(state["customers"])}
    if method == "POST" and path == "/_test/portal":
        state["portal_configured"] = bool(body.get("configured", True))
        return 200, {"configured": state["portal_configured"]}
    if method == "POST" and path == "/_test/faults":
        state["faults"].append(dict(body))
        return 200, {"faults": len(state["faults"])}
    if method == "GET" and path == "/_test/requests":
        return 200, state["requests"]
    if method == "POST" and path == "/_test/revoke":
        state["revoked"] = True
        return 200, {}
    if method == "POST" and path == "/_test/reset":
        state.clear()
        state.update(fresh_state())
        return 200, {}
    return 404, {"error": f"no test endpoint {method} {path}"}


class Handler(loopback.Handler):
    name = "stripe_api"
    server_version = "stripe-api-loopback"
    always = (("Request-Id", "req_loopback"),)

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        raw = self.raw_body()
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or len(auth) <= len("Bearer "):
            return self.reply(*error(401, "invalid_request_error",
                                     "You did not provide an API key. You need to provide your API key in the "
                                     "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."))
        key = auth[len("Bearer "):]
        with LOCK:
            state = account(key)
            if url.path.startswith("/_test/"):
                try:
                    body = json.loads(raw or b"null")
                except ValueError as e:
                    return self.reply(400, {"error": f"not JSON: {e}"})
                return self.reply(*control(state, method, url.path, body))
            if state.get("revoked"):
                masked = key[:8] + "*" * 8 + key[-4:]
                return self.reply(*error(401, "invalid_request_error",
                                         f"Invalid API Key provided: {masked}"))
            asked = {
                "method": method, "path": url.path, "query": query,
                "stripe_version": self.headers.get("Stripe-Version"),
            }
            form = None
            idempotency = self.headers.get("Idempotency-Key")
            if method == "POST":
                form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
                asked["form"] = form
                asked["idempotency_key"] = idempotency
            state["requests"].append(asked)
            for fault in state["faults"]:
                if fault.get("count", 0) > 0 and url.path.startswith(fault.get("path", "/")):
                    fault["count"] -= 1
                    status = int(fault.get("status", 500))
                    headers = []
                    if status == 429:
                        headers.append(("Retry-After", str(fault.get("retry_after", 1))))
                        return self.reply(*error(429, "invalid_request_error",
                                                 "Request rate limit exceeded. Learn more about rate limits here "
                                                 "https://stripe.com/docs/rate-limits.", "rate_limit"), headers)
                    headers.append(("Stripe-Should-Retry", "true"))
                    return self.reply(*error(status, "api_error",
                                             "An unknown error occurred"), headers)
            if method == "POST" and idempotency:
                # Stripe replays the first answer to a key, and refuses the
                # key with other parameters.
                seen = state["idempotent"].get(idempotency)
                if seen is not None:
                    if seen["path"] != url.path or seen["form"] != form:
                        return self.reply(*error(
                            400, "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters they "
                            f"were first used with. Try using a key other than '{idempotency}' if you meant "
                            "to execute a different request."))
                    return self.reply(seen["status"], seen["body"], [("Idempotent-Replayed", "true")])
            status, body = answer(state, method, url.path, query, form,
                                  key.startswith(("sk_live_", "rk_live_")))
            if method == "POST" and idempotency and status < 500:
                state["idempotent"][idempotency] = {"path": url.path, "form": form,
                                                    "status": status, "body": body}
        return self.reply(status, body)


def main():
    args = loopback.arguments(__doc__.splitlines()[0], "STRIPE_API_PORT", 12111).parse_args()
    loopback.serve("stripe_api", Handler, args.host, args.port)


if __name__ == "__main__":
    main()
