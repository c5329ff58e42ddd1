#!/usr/bin/env python3
"""A Docker token auth server for tests (the protocol of auth.docker.io).

The registry answers 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`;
the client asks this server for a token (GET with optional Basic credentials, or the
OAuth2 POST form) and retries with `Authorization: Bearer TOKEN`.

Tokens are JWTs signed RS256 with a test key. The header carries the signing
certificate in `x5c`; distribution verifies that chain against its `rootcertbundle`,
so the registry is configured with the same certificate. Signing shells out to
`openssl dgst` so that only the Python standard library is needed.

Access policy: the configured user gets every action it asks for on any repository;
a request without credentials is refused (--anonymous deny), granted a token with no
access (--anonymous none, as Docker Hub answers for private repositories) or granted
pull only (--anonymous pull); wrong credentials are always refused with 401.

Binds 127.0.0.1 on a free port and writes the port to --port-file once listening.
Each request is appended to --log as one JSON line (account, scopes asked, granted).
"""

import argparse
import base64
import http.server
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der_b64(pem_path):
    """Standard base64 of the DER certificate: what x5c holds (RFC 7515 4.1.6)."""
    with open(pem_path) as f:
        lines = f.read().splitlines()
    body = "".join(lines[lines.index("-----BEGIN CERTIFICATE-----") + 1 :
                         lines.index("-----END CERTIFICATE-----")])
    return base64.b64encode(base64.b64decode(body)).decode()


def parse_scope(scope):
    """`repository:NAME:pull,push` -> (type, name, [actions]). NAME may hold ':' (ports)."""
    head, _, actions = scope.rpartition(":")
    typ, _, name = head.partition(":")
    if not typ or not name:
        return None
    return typ, name, [a for a in actions.split(",") if a]


class State:
    def __init__(self, args):
        self.args = args
        self.x5c = cert_der_b64(args.cert)
        self.log_lock = threading.Lock()

    def sign(self, signing_input):
        proc = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.args.key],
            input=signing_input, capture_output=True, check=True)
        return proc.stdout

    def token(self, account, access):
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {
            "iss": self.args.issuer,
            "sub": account,
            "aud": self.args.service,
            "exp": now + self.args.ttl,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        return signing_input + "." + b64url(self.sign(signing_input.encode()))

    def log(self, entry):
        if not self.args.log:
            return
        with self.log_lock, open(self.args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set in main

    def log_message(self, fmt, *args):  # quiet: tests read --log instead
        pass

    def reply(self, code, body, extra=()):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def basic_credentials(self):
        h = self.headers.get("Authorization", "")
        if not h.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(h[6:].strip()).decode().partition(":")
        except Exception:
            return ("", "")
        return user, password

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        self.issue(url.path, self.basic_credentials(), q.get("scope", []), q.get("service", [""])[0])

    def do_POST(self):
        # OAuth2 password / refresh-token grant (what docker login and some clients use).
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        creds = self.basic_credentials()
        if form.get("grant_type", [""])[0] == "password":
            creds = (form.get("username", [""])[0], form.get("password", [""])[0])
        elif form.get("grant_type", [""])[0] == "refresh_token":
            token = form.get("refresh_token", [""])[0]
            creds = (self.state.args.username, self.state.args.password) \
                if token == self.refresh_token() else ("", "")
        scopes = []
        for s in form.get("scope", []):
            scopes.extend(s.split(" "))
        self.issue(url.path, creds, scopes, form.get("service", [""])[0], oauth=True)

    def refresh_token(self):
        return "refresh-" + self.state.args.username

    def issue(self, path, creds, scopes, service, oauth=False):
        args = self.state.args
        entry = {"method": self.command, "path": path, "service": service, "scopes": scopes,
                 "user": creds[0] if creds else None}
        if path != "/token":
            entry["result"] = "not found"
            self.state.log(entry)
            return self.reply(404, {"errors": [{"code": "NOT_FOUND"}]})
        if creds is not None and creds != (args.username, args.password):
            entry["result"] = "bad credentials"
            self.state.log(entry)
            return self.reply(401, {"details": "incorrect username or password"},
                              [("WWW-Authenticate", 'Basic realm="kiln-test"')])
        if creds is None and args.anonymous == "deny":
            entry["result"] = "anonymous denied"
            self.state.log(entry)
            return self.reply(401, {"details": "authentication required"},
                              [("WWW-Authenticate", 'Basic realm="kiln-test"')])
        access = []
        for s in scopes:
            parsed = parse_scope(s)
            if not parsed:
                continue
            typ, name, actions = parsed
            if creds is None:
                actions = [a for a in actions if a == "pull"] if args.anonymous == "pull" else []
            if actions:
                access.append({"type": typ, "name": name, "actions": actions})
        account = creds[0] if creds else ""
        token = self.state.token(account, access)
        entry["result"] = "granted"
        entry["access"] = access
        self.state.log(entry)
        body = {"token": token, "access_token": token, "expires_in": args.ttl,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if oauth and creds is not None:
            body["refresh_token"] = self.refresh_token()
        self.reply(200, body)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--key", required=True, help="RSA private key (PEM) that signs tokens")
    p.add_argument("--cert", required=True, help="certificate of --key, sent in x5c")
    p.add_argument("--issuer", default="kiln-test-issuer")
    p.add_argument("--service", default="kiln-test")
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--anonymous", choices=["deny", "none", "pull"], default="pull")
    p.add_argument("--ttl", type=int, default=300, help="token lifetime in seconds")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", help="append one JSON line per request")
    args = p.parse_args()

    Handler.state = State(args)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)  # readers never see a half-written port
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
