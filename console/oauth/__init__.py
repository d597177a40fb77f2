"""OAuth2 (XOAUTH2) sign-in for mailboxes and the SMTP identity: the token file (tokens), the providers'
endpoints (providers), refreshing (session) and signing in (login)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from console.oauth.session import Credential, NotSignedIn, SignInLost, TokenUnavailable

__all__ = ["Credential", "NotSignedIn", "SignInLost", "TokenUnavailable", "credential", "smtp_token_name"]


def credential(store_path: Path, name: str, server: Any) -> Credential:
    """The access-token source of a mailbox (ImapConfig) or the SMTP identity (SmtpConfig)."""
    return Credential.for_server(store_path, name, server)


def smtp_token_name(cfg: Any) -> str:
    """Which token-file entry [smtp] uses: the mailbox of the same account (one sign-in covers IMAP and
    SMTP for Microsoft and Google), else its own entry "smtp"."""
    smtp = cfg.smtp
    for m in cfg.imaps:
        if m.auth == "oauth2" and smtp is not None and smtp.username and m.username.lower() == smtp.username.lower() \
                and m.provider == smtp.provider and m.client_id == smtp.client_id:
            return str(m.label)
    return "smtp"


def token_source(store_path: Path, name: str, server: Any) -> Callable[[], str]:
    return credential(store_path, name, server).access_token
