#!/usr/bin/env python3
"""A GoCardless Pro API on loopback for pastdue's tests: the three reads a
direct-debit integration makes, answered as GoCardless answers them (the
`{"payments": {...}}` envelope, its error bodies, its RateLimit-* headers and
429), over resources that tests set through control endpoints.

    python3 dev/gocardless_api.py [--port 12112]      (make stack starts it)

GoCardless's endpoints (https://developer.gocardless.com/api-reference/).
Every request needs `Authorization: Bearer <token>` with the token in env
GOCARDLESS_TEST_TOKEN (default `sandbox_test_token`) and
`GoCardless-Version: 2015-07-06`:

    GET /payments/{id}      {"payments": {...}}
    GET /mandates/{id}      {"mandates": {...}}
    GET /customers/{id}     {"customers": {...}}

Shapes are those of gocardless/gocardless-pro-python's tests/fixtures/*.json
(payments.json, mandates.json, customers.json, and the error fixtures
unauthorized_error.json, rate_limit_exceeded.json, gocardless_error.json):

    missing/wrong token     401 invalid_api_usage, reason `unauthorized`
    no GoCardless-Version   400 invalid_api_usage, reason `missing_version_header`
    another version         400 invalid_api_usage, reason `version_not_found`
    unknown id              404 invalid_api_usage, reason `resource_not_found`
    unknown path or method  404 invalid_api_usage, reason `not_found`
    rate limit              429 invalid_api_usage, reason `rate_limit_exceeded`
    injected 500 / 503      type `gocardless`, reason `internal_server_error` /
                            `service_unavailable` (the latter reason is ours)

Every API answer carries RateLimit-Limit (1000, or --rate-limit),
RateLimit-Remaining and RateLimit-Reset, an HTTP date (RFC 1123, "Thu, 03 May
2018 16:00:00 GMT", as the client library's tests show) for the end of the
current one-minute window. Requests over the limit in a window really get
429. A 429 carries those three headers with RateLimit-Remaining: 0 and no
Retry-After: GoCardless documents the RateLimit-* headers only, so a client
must wait until RateLimit-Reset. Error bodies carry a `request_id`, also
sent as the `X-Request-Id` header.

Control endpoints (not GoCardless's; no token needed; not logged):

    POST /_test/payments    a resource, or a JSON list of them (or
    POST /_test/mandates    {"payments": {...}}): upserts by `id`, merging
    POST /_test/customers   into what is stored; what is not given gets a
                            realistic default in GoCardless's shape (id,
                            created_at, status, links, metadata, ...);
                            `links` merges key by key. Unknown statuses are
                            refused (400), to catch typos. Answers the stored
                            resources, enveloped.
    POST /_test/fail        {"status": 429|500|503, "count": n,
                             "path": "/payments/", "reset_after": 1}: the
                            next n API requests (whose path starts with
                            `path`, default all) answer so; for 429,
                            RateLimit-Reset is `reset_after` seconds ahead
                            (default 1); count 0 ends the faults on `path`
    GET  /_test/requests    the request log, in order: method, path, query,
                            `token_ok` (whether the bearer token was right;
                            never the token), `version` (the GoCardless-Version
                            header), `status` answered
    POST /_test/reset       forgets resources, faults, the log and the rate
                            window (all tests share this server: use unique
                            ids, and filter the log by path, rather than reset
                            while others run)
    GET  /_test/health      200, for dev/stack.sh status

Only loopback: the server refuses to bind anything else.
"""

import email.utils
import json
import os
import secrets
import threading
import time
import urllib.parse
from datetime import date, datetime, timedelta, timezone

import loopback

VERSION = "2015-07-06"
TOKEN = os.environ.get("GOCARDLESS_TEST_TOKEN", "sandbox_test_token")
DOCS = "https://developer.gocardless.com/api-reference"
CREDITOR = "CR00005PASTDUE"

LOCK = threading.Lock()
STATE = {}
RATE = {"limit": 1000}

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

PAYMENT_STATUSES = {"pending_customer_approval", "pending_submission", "submitted", "confirmed",
                    "paid_out", "cancelled", "customer_approval_denied", "failed", "charged_back"}
MANDATE_STATUSES = {"pending_customer_approval", "pending_submission", "submitted", "active",
                    "suspended_by_payer", "failed", "cancelled", "expired", "consumed", "blocked"}


def fresh_state():
    return {"payments": {}, "mandates": {}, "customers": {}, "faults": [], "requests": [],
            "window": None, "used": 0}


def gc_id(prefix):
    """A GoCardless id: two letters and twelve upper-case alphanumerics."""
    return prefix + "".join(secrets.choice(ALNUM) for _ in range(12))


def request_id():
    # GoCardless request ids look like 0AA4000DECCD_AC121CEB1F90_5BE18701_19AD0009.
    return "_".join(secrets.token_hex(n).upper() for n in (6, 6, 4, 4))


def timestamp(when=None):
    when = when or datetime.now(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def charge_date(days=3):
    return (date.today() + timedelta(days=days)).isoformat()


def error(status, kind, reason, message, rid):
    body = {
        "message": message,
        "documentation_url": f"{DOCS}#{reason}",
        "type": kind,
        "request_id": rid,
        "code": status,
        "errors": [{"reason": reason, "message": message}],
    }
    return status, {"error": body}


# --- defaults in GoCardless's shape -------------------------------------------

def default_payment(given):
    return {
        "id": gc_id("PM"),
        "created_at": timestamp(),
        "charge_date": charge_date(),
        "amount": 1000,
        "description": None,
        "currency": "GBP",
        "status": "pending_submission",
        "amount_refunded": 0,
        "reference": None,
        "metadata": {},
        "fx": {"fx_currency": None, "fx_amount": None, "exchange_rate": None,
               "estimated_exchange_rate": None},
        "links": {"mandate": gc_id("MD"), "creditor": CREDITOR},
        "app_fee": None,
        "retry_if_possible": True,
        "scheme": "bacs",
        "faster_ach": False,
    }


def default_mandate(given):
    return {
        "id": gc_id("MD"),
        "created_at": timestamp(),
        "reference": "PASTDUE-" + "".join(secrets.choice(ALNUM) for _ in range(6)),
        "status": "active",
        "scheme": "bacs",
        "next_possible_charge_date": charge_date(),
        "next_possible_standard_ach_charge_date": None,
        "payments_require_approval": False,
        "metadata": {},
        "links": {"customer_bank_account": gc_id("BA"), "creditor": CREDITOR,
                  "customer": gc_id("CU")},
        "consent_parameters": None,
        "consent_type": None,
        "authorisation_source": "web",
        "funds_settlement": "managed",
        "mandate_type": "bank_debit",
        "verified_at": None,
    }


def default_customer(given):
    return {
        "id": gc_id("CU"),
        "created_at": timestamp(),
        "email": "payer@example.com",
        "given_name": "Frank",
        "family_name": "Osborne",
        "company_name": None,
        "address_line1": "221B Baker Street",
        "address_line2": None,
        "address_line3": None,
        "city": "London",
        "region": None,
        "postal_code": "NW1 6XE",
        "country_code": "GB",
        "language": "en",
        "phone_number": None,
        "swedish_identity_number": None,
        "danish_identity_number": None,
        "metadata": {},
    }


KINDS = {
    "payments": (default_payment, PAYMENT_STATUSES),
    "mandates": (default_mandate, MANDATE_STATUSES),
    "customers": (default_customer, None),
}


def upsert(kind, body):
    make, statuses = KINDS[kind]
    if isinstance(body, dict) and set(body) == {kind}:
        body = body[kind]
    items = body if isinstance(body, list) else [body]
    if not all(isinstance(i, dict) for i in items):
        return 400, {"error": f"/_test/{kind}: a JSON object or a list of objects"}
    for item in items:
        if statuses is not None and "status" in item and item["status"] not in statuses:
            return 400, {"error": f"/_test/{kind}: unknown status {item['status']!r}; "
                                  f"GoCardless's are {sorted(statuses)}"}
    stored = []
    for item in items:
        current = STATE[kind].get(item.get("id")) if item.get("id") else None
        resource = dict(current) if current else make(item)
        for key, value in item.items():
            if key == "links" and isinstance(value, dict):
                resource["links"] = {**resource.get("links", {}), **value}
            else:
                resource[key] = value
        STATE[kind][resource["id"]] = resource
        stored.append(resource)
    return 200, {kind: stored if isinstance(body, list) else stored[0]}


def control(method, path, body):
    kind = path[len("/_test/"):]
    if method == "POST" and kind in KINDS:
        return upsert(kind, body)
    if method == "POST" and path == "/_test/fail":
        if not isinstance(body, dict):
            return 400, {"error": "/_test/fail: a JSON object"}
        status = int(body.get("status", 500))
        if status not in (429, 500, 503):
            return 400, {"error": "/_test/fail: status is 429, 500 or 503"}
        STATE["faults"] = [f for f in STATE["faults"] if f["count"] > 0]
        if int(body.get("count", 1)) == 0:
            # Count 0: the faults on that path end now.
            STATE["faults"] = [f for f in STATE["faults"] if f["path"] != body.get("path", "/")]
            return 200, {"faults": STATE["faults"]}
        STATE["faults"].append({"status": status, "count": int(body.get("count", 1)),
                                "path": body.get("path", "/"),
                                "reset_after": int(body.get("reset_after", 1))})
        return 200, {"faults": STATE["faults"]}
    if method == "GET" and path == "/_test/requests":
        return 200, STATE["requests"]
    if method == "POST" and path == "/_test/reset":
        STATE.clear()
        STATE.update(fresh_state())
        return 200, {}
    if method == "GET" and path == "/_test/health":
        return 200, {"service": "gocardless_api", "version": VERSION}
    return 404, {"error": f"no test endpoint {method} {path}"}


# --- the rate limit -------------------------------------------------------------

def http_date(epoch):
    return email.utils.formatdate(epoch, usegmt=True)


def rate_window(now):
    """Counts this request in the current one-minute window; its headers, and
    whether the request is over the limit."""
    window = int(now // 60) * 60
    if STATE["window"] != window:
        STATE["window"], STATE["used"] = window, 0
    STATE["used"] += 1
    limit = RATE["limit"]
    remaining = max(0, limit - STATE["used"])
    headers = [("RateLimit-Limit", str(limit)), ("RateLimit-Remaining", str(remaining)),
               ("RateLimit-Reset", http_date(window + 60))]
    return headers, STATE["used"] > limit


def answer(method, path, rid):
    parts = path.strip("/").split("/")
    if method == "GET" and len(parts) == 2 and parts[0] in KINDS and parts[1]:
        kind, wanted = parts
        if wanted in STATE[kind]:
            return 200, {kind: STATE[kind][wanted]}
        return error(404, "invalid_api_usage", "resource_not_found", "Resource not found", rid)
    return error(404, "invalid_api_usage", "not_found", "not found", rid)


class Handler(loopback.Handler):
    name = "gocardless_api"
    server_version = "gocardless-api-loopback"

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        raw = self.raw_body()
        with LOCK:
            if url.path.startswith("/_test/"):
                try:
                    body = json.loads(raw or b"null")
                except ValueError as e:
                    return self.reply(400, {"error": f"not JSON: {e}"})
                return self.reply(*control(method, url.path, body))
            rid = request_id()
            auth = self.headers.get("Authorization", "")
            token_ok = secrets.compare_digest(auth.encode(), f"Bearer {TOKEN}".encode())
            version = self.headers.get("GoCardless-Version")
            asked = {"method": method, "path": url.path, "query": query,
                     "token_ok": token_ok, "version": version}
            STATE["requests"].append(asked)
            now = time.time()
            headers, over = rate_window(now)
            headers.append(("X-Request-Id", rid))
            status, body = self.decide(method, url.path, token_ok, version, over, now, headers, rid)
            asked["status"] = status
        return self.reply(status, body, headers)

    def decide(self, method, path, token_ok, version, over, now, headers, rid):
        if not token_ok:
            return error(401, "invalid_api_usage", "unauthorized", "Unauthorized", rid)
        if version is None:
            return error(400, "invalid_api_usage", "missing_version_header",
                         "GoCardless-Version header must be specified", rid)
        if version != VERSION:
            return error(400, "invalid_api_usage", "version_not_found",
                         f"GoCardless-Version {version} is not a valid version", rid)
        for fault in STATE["faults"]:
            if fault["count"] > 0 and path.startswith(fault["path"]):
                fault["count"] -= 1
                if fault["status"] == 429:
                    headers[1] = ("RateLimit-Remaining", "0")
                    headers[2] = ("RateLimit-Reset", http_date(int(now) + fault["reset_after"]))
                    return error(429, "invalid_api_usage", "rate_limit_exceeded",
                                 "Rate limit exceeded", rid)
                if fault["status"] == 503:
                    return error(503, "gocardless", "service_unavailable",
                                 "The service is temporarily unavailable. Please try again.", rid)
                return error(500, "gocardless", "internal_server_error",
                             "Uh-oh! We've hit an internal error. Please try again.", rid)
        if over:
            return error(429, "invalid_api_usage", "rate_limit_exceeded", "Rate limit exceeded", rid)
        return answer(method, path, rid)


def main():
    parser = loopback.arguments(__doc__.splitlines()[0], "GOCARDLESS_API_PORT", 12112)
    parser.add_argument("--rate-limit", type=int, default=1000, help="requests a minute (GoCardless: 1000)")
    args = parser.parse_args()
    RATE["limit"] = args.rate_limit
    STATE.update(fresh_state())
    loopback.serve("gocardless_api", Handler, args.host, args.port)


if __name__ == "__main__":
    main()
