"""Where each provider signs in and which scopes mail needs. Pure.

- microsoft: msal against Entra ID (`organizations`: any work or school tenant). One sign-in asks for
  both IMAP and SMTP, so a mailbox and the SMTP identity of the same account share it.
- google: the installed-app flow (loopback redirect with PKCE) and Google's token endpoint; the one
  scope https://mail.google.com/ covers IMAP and SMTP.
- another provider: `authority` (an OpenID Connect issuer: msal discovers its endpoints, device code
  included) or `token_url` (refresh only; sign in elsewhere is not yet supported), with `scopes`.
"""
from __future__ import annotations

from dataclasses import dataclass

MICROSOFT_AUTHORITY = "https://login.microsoftonline.com/organizations"
MICROSOFT_SCOPES = ("https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send")
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_SCOPES = ("https://mail.google.com/",)


@dataclass(frozen=True)
class Provider:
    kind: str  # "msal" (device code, msal's cache) | "google" (installed-app flow) | "refresh" (token_url only)
    client_id: str
    scopes: tuple[str, ...]
    authority: str | None = None  # msal
    known: bool = True  # Microsoft's own authority (else an OpenID Connect issuer msal discovers)
    token_url: str | None = None  # google, refresh
    auth_uri: str | None = None  # google


def resolve(provider: str | None, client_id: str | None, authority: str | None, token_url: str | None,
            scopes: tuple[str, ...]) -> Provider:
    """The provider of a mailbox or SMTP identity with auth = "oauth2" (config has checked the keys)."""
    cid = client_id or ""
    if provider == "microsoft":
        return Provider("msal", cid, scopes or MICROSOFT_SCOPES, authority=authority or MICROSOFT_AUTHORITY,
                        known=authority is None or "login.microsoftonline.com" in authority)
    if provider == "google":
        return Provider("google", cid, scopes or GOOGLE_SCOPES, token_url=token_url or GOOGLE_TOKEN_URL,
                        auth_uri=GOOGLE_AUTH_URI)
    if authority:
        return Provider("msal", cid, scopes, authority=authority, known="login.microsoftonline.com" in authority)
    return Provider("refresh", cid, scopes, token_url=token_url)
