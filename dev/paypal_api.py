#!/usr/bin/env python3
"""PayPal on loopback for pastdue's tests: where PayPal serves its webhook
signing certificates, and its verify-webhook-signature API (the fallback
when a certificate cannot be checked locally), answered as PayPal answers.

    python3 dev/paypal_api.py [--port 12113]      (make stack starts it)

Needs `cryptography` (installed with moto in .tools/venv; dev/stack.sh runs
this with that Python).

At start it makes an RSA 2048 key and a self-signed X.509 certificate for
CN=messageverificationcerts.paypal.com (valid from an hour ago for a year),
the name PayPal's signing certificates carry. A test signs a delivery with
the key (GET /_test/key) as PayPal does: SHA256withRSA over

    <transmission_id>|<transmission_time>|<webhook_id>|<crc32 of the body>

(the CRC32 in decimal, unsigned), base64 in PAYPAL-TRANSMISSION-SIG, and
puts `<base>/v1/notifications/certs/CERT-...` in PAYPAL-CERT-URL.

PayPal's endpoints:

    GET  /v1/notifications/certs/{cert-id}
         the current certificate, PEM, `text/plain;charset=UTF-8` (any id;
         PayPal serves its chain there, this serves the one self-signed cert)
    POST /v1/oauth2/token
         HTTP Basic client id/secret (env PAYPAL_TEST_CLIENT_ID /
         PAYPAL_TEST_SECRET, defaults test_client / test_secret), form
         grant_type=client_credentials; PayPal's token JSON (scope,
         access_token, token_type Bearer, app_id, expires_in 32400, nonce).
         Wrong client: 401 {"error": "invalid_client", ...}; other grant:
         400 {"error": "unsupported_grant_type", ...}
    POST /v1/notifications/verify-webhook-signature
         Bearer token from /v1/oauth2/token; JSON body {auth_algo, cert_url,
         transmission_id, transmission_sig, transmission_time, webhook_id,
         webhook_event}. Really verifies the signature with the server's
         current key: {"verification_status": "SUCCESS"} or "FAILURE" (also
         FAILURE for an auth_algo other than SHA256withRSA). The CRC32 is taken
         over webhook_event exactly as its bytes appear in the request body
         (PayPal's own advice is to pass the body as received), or else over
         webhook_event re-serialized compactly (json.dumps, separators "," and
         ":", keys in the order received, UTF-8, not ASCII-escaped): a match of
         either is SUCCESS.
         No Authorization: 401 AUTHENTICATION_FAILURE; an unknown or revoked
         token: 401 {"error": "invalid_token", ...}; a body that is not JSON or
         lacks a field: 400 INVALID_REQUEST with `details` (field, location,
         issue), as PayPal's openapi notifications_webhooks_v1.json has them.

Control endpoints (not PayPal's; not logged):

    GET  /_test/key         the current private key, PKCS#8 PEM (text/plain)
    GET  /_test/cert        the current certificate, PEM, and its validity in
                            headers X-Not-Before / X-Not-After
    POST /_test/rotate      a new key and a new valid certificate
    POST /_test/expired     the current key with a certificate whose validity
                            ended yesterday (until rotate or reset)
    POST /_test/revoke_tokens  every access token issued so far is refused
    GET  /_test/requests    the request log, in order: method, path,
                            `auth` (none | basic_ok | basic_wrong |
                            bearer_ok | bearer_wrong; never the secret), the
                            cert id asked for, a verification's result, status
    POST /_test/reset       back to the key made at start with a valid
                            certificate; clears the log (tokens stay valid)
    GET  /_test/health      200, for dev/stack.sh status

The key and certificate are the server's, shared by every test: a test that
rotates or expires them should restore them (POST /_test/reset) and not run
alongside tests that sign.

Only loopback: the server refuses to bind anything else.
"""

import base64
import binascii
import json
import os
import re
import secrets
import threading
import urllib.parse
import zlib
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

import loopback

CLIENT_ID = os.environ.get("PAYPAL_TEST_CLIENT_ID", "test_client")
SECRET = os.environ.get("PAYPAL_TEST_SECRET", "test_secret")
CN = "messageverificationcerts.paypal.com"
APP_ID = "APP-80W284485P519543T"
SCOPE = ("https://uri.paypal.com/services/applications/webhooks "
         "https://uri.paypal.com/services/applications/verify-webhook-signature "
         "https://uri.paypal.com/services/payments/payment/authcapture openid")
REQUIRED = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time",
            "webhook_id", "webhook_event")

LOCK = threading.Lock()
STATE = {"requests": [], "tokens": set()}


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(key, not_before, not_after):
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "California"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "San Jose"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PayPal, Inc."),
        x509.NameAttribute(NameOID.COMMON_NAME, CN),
    ])
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(CN)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


def valid_cert(key):
    now = datetime.now(timezone.utc)
    return certificate(key, now - timedelta(hours=1), now + timedelta(days=365))


def expired_cert(key):
    now = datetime.now(timezone.utc)
    return certificate(key, now - timedelta(days=366), now - timedelta(days=1))


def install(key, cert):
    STATE["key"], STATE["cert"] = key, cert
    STATE["key_pem"] = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode()
    STATE["cert_pem"] = cert.public_bytes(serialization.Encoding.PEM).decode()


def debug_id():
    return secrets.token_hex(7)


def auth_failure():
    return 401, {"name": "AUTHENTICATION_FAILURE",
                 "message": "Authentication failed due to invalid authentication credentials or a "
                            "missing Authorization header.",
                 "debug_id": debug_id(),
                 "links": [{"href": "https://developer.paypal.com/docs/api/overview/#error",
                            "rel": "information_link"}]}


def invalid_request(details):
    return 400, {"name": "INVALID_REQUEST",
                 "message": "Request is not well-formed, syntactically incorrect, or violates schema.",
                 "debug_id": debug_id(),
                 "details": details,
                 "links": [{"href": "https://developer.paypal.com/docs/api/webhooks/v1/#error-INVALID_REQUEST",
                            "rel": "information_link", "encType": "application/json"}]}


_WS = re.compile(r"[ \t\n\r]*")


def raw_members(text):
    """The top-level members of a JSON object, each as the exact text it
    has in `text`."""
    decoder = json.JSONDecoder()
    i = _WS.match(text, 0).end()
    if text[i:i + 1] != "{":
        raise ValueError("not an object")
    i = _WS.match(text, i + 1).end()
    out = {}
    if text[i:i + 1] == "}":
        return out
    while True:
        if text[i:i + 1] != '"':
            raise ValueError("expected a key")
        key, i = json.decoder.scanstring(text, i + 1)
        i = _WS.match(text, i).end()
        if text[i:i + 1] != ":":
            raise ValueError("expected ':'")
        i = _WS.match(text, i + 1).end()
        _, end = decoder.raw_decode(text, i)
        out[key] = text[i:end]
        i = _WS.match(text, end).end()
        if text[i:i + 1] == ",":
            i = _WS.match(text, i + 1).end()
            continue
        if text[i:i + 1] == "}":
            return out
        raise ValueError("expected ',' or '}'")


def verify(raw, asked):
    try:
        text = raw.decode("utf-8")
        body = json.loads(text)
    except ValueError:
        return invalid_request([{"field": "/", "location": "body", "issue": "MALFORMED_REQUEST_JSON",
                                 "description": "The request JSON is not well formed."}])
    if not isinstance(body, dict):
        return invalid_request([{"field": "/", "location": "body", "issue": "INVALID_PARAMETER_SYNTAX",
                                 "description": "The request body must be a JSON object."}])
    missing = [f for f in REQUIRED if body.get(f) in (None, "")]
    if missing:
        return invalid_request([{"field": f"/{f}", "location": "body", "issue": "MISSING_REQUIRED_PARAMETER",
                                 "description": "A required field / parameter is missing."}
                                for f in missing])
    wrong = [f for f in REQUIRED[:-1] if not isinstance(body[f], str)]
    if not isinstance(body["webhook_event"], dict):
        wrong.append("webhook_event")
    if wrong:
        return invalid_request([{"field": f"/{f}", "location": "body", "issue": "INVALID_PARAMETER_SYNTAX",
                                 "description": "The value of a field does not conform to the expected format."}
                                for f in wrong])
    asked["transmission_id"] = body["transmission_id"]
    event = body["webhook_event"]
    bodies = [raw_members(text)["webhook_event"].encode(),
              json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()]
    ok = False
    if body["auth_algo"] == "SHA256withRSA":
        try:
            signature = base64.b64decode(body["transmission_sig"], validate=True)
        except (binascii.Error, ValueError):
            signature = None
        if signature is not None:
            public = STATE["key"].public_key()
            for candidate in bodies:
                message = "|".join((body["transmission_id"], body["transmission_time"], body["webhook_id"],
                                    str(zlib.crc32(candidate) & 0xFFFFFFFF))).encode()
                try:
                    public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
                    ok = True
                    break
                except InvalidSignature:
                    pass
    result = "SUCCESS" if ok else "FAILURE"
    asked["verification_status"] = result
    return 200, {"verification_status": result}


def token(form, auth, asked):
    expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    if not auth.startswith("Basic "):
        asked["auth"] = "none" if not auth else "bearer_wrong"
        return 401, {"error": "invalid_client", "error_description": "Client Authentication failed"}
    if not secrets.compare_digest(auth.encode(), expected.encode()):
        asked["auth"] = "basic_wrong"
        return 401, {"error": "invalid_client", "error_description": "Client Authentication failed"}
    asked["auth"] = "basic_ok"
    grant = form.get("grant_type", [None])[0]
    if grant is None:
        return 400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"}
    if grant != "client_credentials":
        return 400, {"error": "unsupported_grant_type", "error_description": "unsupported grant_type"}
    access = "A21AA" + base64.urlsafe_b64encode(secrets.token_bytes(64)).decode().rstrip("=")
    STATE["tokens"].add(access)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return 200, {"scope": SCOPE, "access_token": access, "token_type": "Bearer", "app_id": APP_ID,
                 "expires_in": 32400, "nonce": now + secrets.token_urlsafe(32)}


def control(method, path):
    """(status, content type, body bytes, extra headers)"""
    def js(status, body):
        return status, "application/json", json.dumps(body).encode(), []
    if method == "GET" and path == "/_test/key":
        return 200, "text/plain;charset=UTF-8", STATE["key_pem"].encode(), []
    if method == "GET" and path == "/_test/cert":
        cert = STATE["cert"]
        return 200, "text/plain;charset=UTF-8", STATE["cert_pem"].encode(), [
            ("X-Not-Before", cert.not_valid_before_utc.isoformat()),
            ("X-Not-After", cert.not_valid_after_utc.isoformat())]
    if method == "POST" and path == "/_test/rotate":
        key = new_key()
        install(key, valid_cert(key))
        return js(200, {"not_after": STATE["cert"].not_valid_after_utc.isoformat()})
    if method == "POST" and path == "/_test/expired":
        install(STATE["key"], expired_cert(STATE["key"]))
        return js(200, {"not_after": STATE["cert"].not_valid_after_utc.isoformat()})
    if method == "POST" and path == "/_test/revoke_tokens":
        STATE["tokens"].clear()
        return js(200, {})
    if method == "GET" and path == "/_test/requests":
        return js(200, STATE["requests"])
    if method == "POST" and path == "/_test/reset":
        install(STATE["first_key"], valid_cert(STATE["first_key"]))
        STATE["requests"] = []
        return js(200, {})
    if method == "GET" and path == "/_test/health":
        return js(200, {"service": "paypal_api"})
    return js(404, {"error": f"no test endpoint {method} {path}"})


CERT_PATH = "/v1/notifications/certs/"


class Handler(loopback.Handler):
    name = "paypal_api"
    server_version = "paypal-api-loopback"

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        raw = self.raw_body()
        auth = self.headers.get("Authorization", "")
        with LOCK:
            if url.path.startswith("/_test/"):
                return self.send(*control(method, url.path))
            asked = {"method": method, "path": url.path}
            STATE["requests"].append(asked)
            headers = [("Paypal-Debug-Id", debug_id())]
            if method == "GET" and url.path.startswith(CERT_PATH) and len(url.path) > len(CERT_PATH):
                asked["cert_id"] = url.path[len(CERT_PATH):]
                asked["status"] = 200
                return self.send(200, "text/plain;charset=UTF-8", STATE["cert_pem"].encode(), headers)
            if method == "POST" and url.path == "/v1/oauth2/token":
                form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
                status, body = token(form, auth, asked)
            elif method == "POST" and url.path == "/v1/notifications/verify-webhook-signature":
                if not auth:
                    asked["auth"] = "none"
                    status, body = auth_failure()
                elif not (auth.startswith("Bearer ") and auth[len("Bearer "):] in STATE["tokens"]):
                    asked["auth"] = "bearer_wrong"
                    status, body = 401, {"error": "invalid_token",
                                         "error_description": "Access Token not found in cache"}
                else:
                    asked["auth"] = "bearer_ok"
                    status, body = verify(raw, asked)
            else:
                status, body = 404, {"name": "RESOURCE_NOT_FOUND",
                                     "message": "The specified resource does not exist.",
                                     "debug_id": headers[0][1],
                                     "details": [],
                                     "links": []}
            asked["status"] = status
        return self.send(status, "application/json", json.dumps(body).encode(), headers)


def main():
    args = loopback.arguments(__doc__.splitlines()[0], "PAYPAL_API_PORT", 12113).parse_args()
    key = new_key()
    STATE["first_key"] = key
    install(key, valid_cert(key))
    loopback.serve("paypal_api", Handler, args.host, args.port)


if __name__ == "__main__":
    main()
