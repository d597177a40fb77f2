"""A small OAuth2 / OpenID Connect identity provider on loopback, for the XOAUTH2 tests.

HTTPS (a throw-away CA from tests/servers/certs.py: msal refuses http:// authorities) at
https://127.0.0.1:PORT/tenant with discovery, a device-code endpoint (the code is approved at once unless
`approve` is False) and a token endpoint for device codes and refresh tokens. Every refresh rotates the
refresh token (the old one then gets invalid_grant, as Entra does for a reused one after rotation), and
`revoke()` makes the next refresh fail with AADSTS50173, as a password change does.

Beside it, plain HTTP, the introspection endpoint Dovecot's oauth2 passdb asks (`{"active": true,
"username": ...}` for a live access token). `expire_access_tokens()` makes every issued token inactive.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import LOOPBACK, free_port
from .certs import make_certs


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class IdentityProvider:
    def __init__(self, directory: Path, *, username: str = "desk", account: str = "ann@example.com",
                 expires_in: int = 3600):
        self.certs = make_certs(Path(directory))
        self.username, self.account, self.expires_in = username, account, expires_in
        self.port, self.introspect_port = free_port(), free_port()
        self.base = f"https://{LOOPBACK}:{self.port}/tenant"
        self.introspection_url = f"http://{LOOPBACK}:{self.introspect_port}/introspect"
        self.lock = threading.Lock()
        self.refresh_tokens: set[str] = set()  # valid now
        self.access_tokens: dict[str, float] = {}  # token -> expiry (time.time)
        self.revoked = False
        self.approve = True
        self.refreshes = 0  # refresh grants answered with tokens
        self.refused: list[str] = []  # refresh tokens refused
        self.introspections = 0
        self.codes: dict[str, tuple[str, str, str]] = {}  # authorization code -> (PKCE challenge, redirect_uri, scope)
        self.pkce_logins = 0
        self._servers: list[ThreadingHTTPServer] = []

    # --- what tests change ----------------------------------------------------------------------

    def revoke(self) -> None:
        with self.lock:
            self.revoked = True
            self.refresh_tokens.clear()
            self.access_tokens.clear()

    def restore(self) -> None:
        with self.lock:
            self.revoked = False

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.access_tokens.clear()

    # --- tokens -----------------------------------------------------------------------------------

    def _issue(self, client_id: str, scope: str = "https://mail.example.com/imap offline_access") -> dict:
        at, rt = "ATOK" + secrets.token_urlsafe(16), "RTOK" + secrets.token_urlsafe(16)
        self.access_tokens[at] = time.time() + self.expires_in
        self.refresh_tokens.add(rt)
        now = int(time.time())
        claims = {"iss": self.base, "aud": client_id, "sub": "ann-sub", "oid": "ann-oid", "tid": "tenant",
                  "preferred_username": self.account, "name": "Ann Example", "iat": now, "nbf": now,
                  "exp": now + 3600}
        id_token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.sig"
        return {"token_type": "Bearer", "access_token": at, "refresh_token": rt, "expires_in": self.expires_in,
                "scope": scope, "id_token": id_token}

    def authorize(self, query: dict[str, str]) -> str:
        """The consent page, approved at once: where the browser is sent back (the app's loopback listener)."""
        code = "code-" + secrets.token_hex(8)
        with self.lock:
            self.codes[code] = (query.get("code_challenge", ""), query.get("redirect_uri", ""), query.get("scope", ""))
        sep = "&" if "?" in query.get("redirect_uri", "") else "?"
        back = urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
        return f"{query.get('redirect_uri')}{sep}{back}"

    def _pkce_scope(self, form: dict[str, str]) -> str | None:
        """The scope granted when the code, its PKCE verifier, redirect and client secret all match."""
        challenge, redirect, scope = self.codes.pop(form.get("code", ""), ("", "", ""))
        verifier = form.get("code_verifier", "")
        made = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        ok = bool(challenge) and made == challenge and form.get("redirect_uri") == redirect \
            and bool(form.get("client_secret"))
        return scope if ok else None

    def token(self, form: dict[str, str]) -> tuple[int, dict]:
        grant = form.get("grant_type", "")
        with self.lock:
            if grant == "authorization_code":
                scope = self._pkce_scope(form)
                if scope is None:
                    return 400, {"error": "invalid_grant", "error_description": "bad code, verifier or client"}
                self.pkce_logins += 1
                return 200, self._issue(form.get("client_id", ""), scope)
            if grant.endswith("device_code"):
                if not self.approve:
                    return 400, {"error": "authorization_pending", "error_description": "waiting"}
                return 200, self._issue(form.get("client_id", ""))
            if grant == "refresh_token":
                rt = form.get("refresh_token", "")
                if self.revoked:
                    self.refused.append(rt)
                    return 400, {"error": "invalid_grant", "error_description":
                                 "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth "
                                 "token is needed. Trace ID: 0000 Correlation ID: 1111 Timestamp: 2026-12-06"}
                if rt not in self.refresh_tokens:
                    self.refused.append(rt)
                    return 400, {"error": "invalid_grant", "error_description":
                                 "AADSTS700082: The refresh token has expired due to inactivity."}
                self.refresh_tokens.discard(rt)  # rotation: the old one is spent
                self.refreshes += 1
                return 200, self._issue(form.get("client_id", ""))
        return 400, {"error": "unsupported_grant_type"}

    def introspect(self, token: str) -> dict:
        with self.lock:
            self.introspections += 1
            live = self.access_tokens.get(token, 0) > time.time()
        return {"active": True, "username": self.username} if live else {"active": False}

    # --- serving ----------------------------------------------------------------------------------

    def discovery(self) -> dict:
        return {"issuer": self.base, "authorization_endpoint": f"{self.base}/authorize",
                "token_endpoint": f"{self.base}/token", "device_authorization_endpoint": f"{self.base}/devicecode",
                "jwks_uri": f"{self.base}/keys", "response_types_supported": ["code"],
                "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]}

    def start(self) -> IdentityProvider:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if "/authorize?" in self.path:
                    query = {k: v[0] for k, v in urllib.parse.parse_qs(self.path.split("?", 1)[1]).items()}
                    self.send_response(302)
                    self.send_header("Location", idp.authorize(query))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path.endswith("/.well-known/openid-configuration"):
                    self._send(200, idp.discovery())
                elif self.path.endswith("/keys"):
                    self._send(200, {"keys": []})
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(n).decode()).items()}
                basic = self.headers.get("Authorization", "")
                if basic.startswith("Basic "):  # client credentials in the header (RFC 6749 2.3.1)
                    cid, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
                    form.setdefault("client_id", urllib.parse.unquote_plus(cid))
                    form.setdefault("client_secret", urllib.parse.unquote_plus(secret))
                if self.path.endswith("/devicecode"):
                    self._send(200, {"device_code": "dc-" + secrets.token_hex(4), "user_code": "ABCD-EFGH",
                                     "verification_uri": f"{idp.base}/device", "expires_in": 600, "interval": 1,
                                     "message": f"To sign in, open {idp.base}/device and enter ABCD-EFGH."})
                elif self.path.endswith("/token"):
                    self._send(*idp.token(form))
                elif self.path.endswith("/introspect"):
                    self._send(200, idp.introspect(form.get("token", "")))
                else:
                    self._send(404, {"error": "not_found"})

        tls = ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        ctx = self.certs.server_context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        plain = ThreadingHTTPServer((LOOPBACK, self.introspect_port), Handler)
        for srv in (tls, plain):
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            self._servers.append(srv)
        return self

    def stop(self) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
