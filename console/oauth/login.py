"""`auth login`: run a provider's sign-in in the terminal and keep the result in the token file.

- msal (Microsoft, or another OpenID Connect authority): the device-code flow. It prints a code and a
  short address; the supervisor signs in on any device with a browser. It suits a terminal on a server.
- Google: its device flow refuses Gmail's scope and the copy-paste flow is gone (2022), so the
  installed-app flow: a browser opened at Google's page, which redirects to a one-shot listener on
  127.0.0.1 (PKCE protects the code). On a server without a browser, forward the printed port with ssh -L.
"""
from __future__ import annotations

import time
from datetime import UTC
from collections.abc import Callable
from typing import Any

from console.oauth.providers import Provider
from console.oauth.session import SignInLost, msal_app, provider_error
from console.oauth.tokens import TokenStore


def login(store: TokenStore, name: str, provider: Provider, username: str, *, say: Callable[[str], None],
          client_secret: str | None = None, timeout: float = 30.0) -> str:
    """Sign in and save; returns the account that signed in (a delegate's, for a shared mailbox)."""
    if provider.kind == "msal":
        entry = _msal_device_code(name, provider, username, say, timeout)
    elif provider.kind == "google":
        entry = _google(name, provider, say, client_secret)
    else:
        raise SignInLost(name, "signing in to a token_url-only provider is not yet supported; set authority")
    entry.update(mailbox_user=username, signed_in_at=time.time())
    with store.locked():
        store.put(name, entry)
    return str(entry.get("account") or username)


def _msal_device_code(name: str, provider: Provider, username: str, say: Callable[[str], None],
                      timeout: float) -> dict[str, Any]:
    import msal  # noqa: PLC0415

    cache = msal.SerializableTokenCache()
    app = msal_app(provider, cache, timeout)
    flow = app.initiate_device_flow(scopes=list(provider.scopes))
    if "user_code" not in flow:
        raise SignInLost(name, provider_error(flow))
    say(str(flow.get("message") or f"Open {flow.get('verification_uri')} and enter {flow['user_code']}"))
    result = app.acquire_token_by_device_flow(flow)  # polls until signed in, refused or the code expires
    if "access_token" not in result:
        raise SignInLost(name, provider_error(result))
    claims = result.get("id_token_claims") or {}
    account = claims.get("preferred_username") or claims.get("email") or username
    return {"kind": "msal", "msal_cache": cache.serialize(), "account": account}


def _google(name: str, provider: Provider, say: Callable[[str], None], client_secret: str | None) -> dict[str, Any]:
    from google_auth_oauthlib.flow import InstalledAppFlow  # noqa: PLC0415

    config = {"installed": {"client_id": provider.client_id, "client_secret": client_secret or "",
                            "auth_uri": provider.auth_uri, "token_uri": provider.token_url,
                            "redirect_uris": ["http://127.0.0.1"]}}
    flow = InstalledAppFlow.from_client_config(config, scopes=list(provider.scopes), autogenerate_code_verifier=True)
    say("A browser opens at Google's sign-in page; without one, open the address below on this machine "
        "(or forward its port with ssh -L).")
    creds = flow.run_local_server(host="127.0.0.1", port=0, open_browser=True,
                                  authorization_prompt_message="Sign in at: {url}", success_message=
                                  "Signed in: support-console has the mailbox's tokens. You can close this tab.")
    if not creds.refresh_token:
        raise SignInLost(name, "Google returned no refresh token (remove the app's access at "
                               "myaccount.google.com/permissions and sign in again)")
    # google-auth keeps expiry as a naive UTC datetime
    expiry = creds.expiry.replace(tzinfo=UTC).timestamp() if creds.expiry else time.time() + 3000
    return {"kind": "google", "refresh_token": creds.refresh_token, "access_token": creds.token, "expires_at": expiry,
            "account": None}


def logout(store: TokenStore, name: str) -> bool:
    """Forget the mailbox's tokens; returns whether there were any. (The provider's grant stays until
    revoked there: Entra's "Revoke sessions", Google's account permissions.)"""
    with store.locked():
        if store.entry(name) is None:
            return False
        store.put(name, None)
        return True
