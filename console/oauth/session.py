"""Access tokens for XOAUTH2: refreshed from the token file, rotated refresh tokens saved before use.

`Credential(...).access_token()` is called before every IMAP (re)connect and SMTP login. It returns the
cached access token while it has more than REFRESH_MARGIN left, else refreshes it with the provider:
msal's `acquire_token_silent_with_error` for Microsoft (and any OpenID Connect authority), a plain
refresh-token grant for Google and `token_url` providers. The refresh runs under the token file's lock,
and whatever it changed (a new access token, a rotated refresh token) is written to disk (write, fsync,
rename) before the token is handed to anyone.

Errors never carry a token. `SignInLost` (the provider said invalid_grant, interaction_required, an
AADSTS error...) needs a person: it names what to run. `TokenUnavailable` is weather (the provider
unreachable) and heals by retrying.
"""
from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.oauth.providers import Provider, resolve
from console.oauth.tokens import TokenStore
from store.errors import NeedsFixing, WillPass

log = logging.getLogger("support_console.oauth")

# Refresh when the access token has less than this left: a connection made with it, or an IDLE restarted
# on it, should not outlive it. msal uses the same five minutes for its own cache.
REFRESH_MARGIN = 300.0
# Provider errors that no retry fixes: the refresh token is gone, revoked or needs a person.
LOST_ERRORS = ("invalid_grant", "interaction_required", "invalid_client", "unauthorized_client", "consent_required")


class SignInLost(NeedsFixing):
    """The mailbox's sign-in no longer works; a supervisor has to sign in again."""

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason
        super().__init__(f"mailbox {name}: sign-in lost ({reason}); run: support-console auth login {name}")


class NotSignedIn(SignInLost):
    def __init__(self, name: str):
        self.name, self.reason = name, "not signed in"
        NeedsFixing.__init__(self, f"mailbox {name}: not signed in; run: support-console auth login {name}")


class TokenUnavailable(WillPass):
    """The provider could not be asked just now (network, 5xx); retried later."""


def provider_error(result: dict[str, Any]) -> str:
    """One safe line from a provider's error answer: its code and the first sentence of its description
    (AADSTS700082: The refresh token has expired...), without trace ids, timestamps or tokens."""
    code = str(result.get("error") or "error")
    desc = str(result.get("error_description") or "").strip().splitlines()
    first = desc[0] if desc else ""
    first = re.split(r"\s+(?:Trace ID|Correlation ID|Timestamp):", first)[0].strip()
    return f"{code}: {first[:200]}" if first else code


def _lost(result: dict[str, Any]) -> bool:
    code = str(result.get("error") or "")
    return code in LOST_ERRORS or "AADSTS" in str(result.get("error_description") or "")


@dataclass
class Token:
    access_token: str
    expires_at: float  # time.time()


class Credential:
    """The access token of one mailbox or SMTP identity (entry `name` of the token file)."""

    def __init__(self, store: TokenStore, name: str, provider: Provider, *, timeout: float = 30.0,
                 client_secret: str | None = None):
        self.store, self.name, self.provider, self.timeout = store, name, provider, timeout
        self.client_secret = client_secret
        self.last: Token | None = None

    @classmethod
    def for_server(cls, store_path: Path, name: str, server: Any) -> Credential:
        """From an ImapConfig or SmtpConfig with auth = "oauth2"."""
        provider = resolve(server.provider, server.client_id, server.authority, server.token_url, server.scopes)
        return cls(TokenStore.beside(store_path), name, provider, timeout=server.timeout_seconds,
                   client_secret=server.client_secret)

    def access_token(self) -> str:
        """A token with more than REFRESH_MARGIN left (refreshed and saved first when needed)."""
        with self.store.locked():
            entry = self.store.entry(self.name)
            if entry is None:
                raise NotSignedIn(self.name)
            if entry.get("lost"):
                raise SignInLost(self.name, str(entry["lost"]))
            token = self._msal(entry) if self.provider.kind == "msal" else self._refresh_grant(entry)
        self.last = token
        return token.access_token

    # --- msal ------------------------------------------------------------------------------------

    def _msal(self, entry: dict[str, Any]) -> Token:
        import msal  # noqa: PLC0415 - only where a mailbox signs in with OAuth2

        cache = msal.SerializableTokenCache()
        cache.deserialize(entry.get("msal_cache") or "{}")
        app = msal_app(self.provider, cache, self.timeout)
        accounts = app.get_accounts()
        if not accounts:
            raise NotSignedIn(self.name)
        try:
            result = app.acquire_token_silent_with_error(list(self.provider.scopes), account=accounts[0])
        except Exception as exc:  # noqa: BLE001 - requests' connection errors, discovery failures
            raise TokenUnavailable(f"mailbox {self.name}: cannot reach the sign-in provider "
                                   f"({type(exc).__name__})") from None
        if result and "access_token" in result:
            if cache.has_state_changed:  # a new access token, and perhaps a rotated refresh token: keep them first
                self.store.put(self.name, {**entry, "msal_cache": cache.serialize(), "refreshed_at": time.time()})
            return Token(result["access_token"], time.time() + float(result.get("expires_in") or 0))
        result = result or {"error": "interaction_required", "error_description": "no refresh token in the cache"}
        if _lost(result):
            self._mark_lost(entry, provider_error(result))
        raise TokenUnavailable(f"mailbox {self.name}: the sign-in provider failed ({provider_error(result)})")

    # --- a plain refresh-token grant (Google, token_url) ------------------------------------------

    def _refresh_grant(self, entry: dict[str, Any]) -> Token:
        now = time.time()
        if entry.get("access_token") and float(entry.get("expires_at") or 0) - now > REFRESH_MARGIN:
            return Token(entry["access_token"], float(entry["expires_at"]))
        if not entry.get("refresh_token"):
            raise NotSignedIn(self.name)
        import requests  # noqa: PLC0415 - msal's own HTTP library (honours REQUESTS_CA_BUNDLE)

        form = {"grant_type": "refresh_token", "refresh_token": entry["refresh_token"],
                "client_id": self.provider.client_id}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        try:
            resp = requests.post(self.provider.token_url or "", data=form, timeout=self.timeout)
            result = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise TokenUnavailable(f"mailbox {self.name}: cannot reach the sign-in provider "
                                   f"({type(exc).__name__})") from None
        if not isinstance(result, dict):
            raise TokenUnavailable(f"mailbox {self.name}: the sign-in provider answered nonsense")
        if "access_token" not in result:
            if _lost(result):
                self._mark_lost(entry, provider_error(result))
            raise TokenUnavailable(f"mailbox {self.name}: the sign-in provider failed ({provider_error(result)})")
        token = Token(str(result["access_token"]), now + float(result.get("expires_in") or 3600))
        self.store.put(self.name, {**entry, "access_token": token.access_token, "expires_at": token.expires_at,
                                   "refresh_token": result.get("refresh_token") or entry["refresh_token"],
                                   "refreshed_at": now})
        return token

    def _mark_lost(self, entry: dict[str, Any], reason: str) -> None:
        """Remember the loss (so status and check say it without asking again) and raise it."""
        self.store.put(self.name, {**entry, "lost": reason, "lost_at": time.time()})
        raise SignInLost(self.name, reason)


def msal_app(provider: Provider, cache: Any, timeout: float = 30.0) -> Any:
    import msal  # noqa: PLC0415

    if provider.known:
        return msal.PublicClientApplication(provider.client_id, authority=provider.authority, token_cache=cache,
                                            timeout=timeout)
    return msal.PublicClientApplication(provider.client_id, oidc_authority=provider.authority, token_cache=cache,
                                        timeout=timeout)


def describe(entry: dict[str, Any] | None) -> dict[str, Any]:
    """What `auth status` may show of an entry: who, when, whether lost; never a token."""
    if entry is None:
        return {"signed_in": False}
    out: dict[str, Any] = {"signed_in": True, "account": entry.get("account"),
                           "signed_in_at": entry.get("signed_in_at"), "lost": entry.get("lost")}
    expires = entry.get("expires_at")
    if entry.get("msal_cache"):
        try:
            ats = json.loads(entry["msal_cache"]).get("AccessToken", {})
            expires = max((float(a.get("expires_on", 0)) for a in ats.values()), default=None)
        except (ValueError, TypeError, AttributeError):
            expires = None
    out["access_token_expires_at"] = expires
    return out
