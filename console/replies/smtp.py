"""Sending one mail with smtplib: EHLO, STARTTLS (certificates verified, with [smtp] ca_file if set),
AUTH, then MAIL, RCPT and DATA step by step, so that each failure is told apart:

- temporary: the server could not be reached (connection refused, a timeout, TLS or login trouble) or
  answered 4xx before the mail was handed over. Nothing was delivered; retrying is safe.
- permanent: a 5xx for the sender, every recipient, or the mail. Retrying would get the same answer.
- unknown: the connection broke after the whole mail was sent but before the server's answer came. It
  may have been delivered: never resent without a person deciding.

smtplib's sendmail() cannot tell the last two apart, hence the steps. The EHLO name is this host's own
name, never looked up in DNS (smtplib's default, socket.getfqdn(), asks a resolver).
"""
from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

from console import connect_errors, passwords
from console.config import SmtpConfig
from console.replies import headers

TEMPORARY, PERMANENT, UNKNOWN = "temporary", "permanent", "unknown"
_EOL = re.compile(rb"\r\n|\r|\n")
_DOT = re.compile(rb"^\.", re.MULTILINE)


class SmtpError(Exception):
    """A failed send or login, phrased for the operator (never holds the password)."""

    def __init__(self, message: str, kind: str = TEMPORARY, code: int | None = None):
        super().__init__(message)
        self.kind, self.code = kind, code


@dataclass
class Result:
    reply: str  # the server's answer to the mail, e.g. "250 2.0.0 Ok: queued as 4F2A"
    refused: list[str] = field(default_factory=list)  # recipients refused (5xx) while the others took it


def resolve_password(cfg: SmtpConfig) -> str | None:
    """None when no login is configured."""
    if not cfg.username:
        return None
    try:
        return passwords.resolve("smtp", cfg.password_env, cfg.password_command)
    except passwords.PasswordError as exc:
        raise SmtpError(str(exc)) from None


def secret_for(desk: Any) -> str | None:
    """What [smtp] logs in with: its password, an access token (auth = "oauth2": the sign-in of the mailbox
    with the same account, else the token file's "smtp" entry, refreshed when due), or None without a login."""
    cfg = desk.smtp
    if cfg.auth != "oauth2":
        return resolve_password(cfg)
    from console import oauth  # noqa: PLC0415 - msal is loaded only where it is used

    name = oauth.smtp_token_name(desk)
    server = desk.mailbox(name) if name != "smtp" else cfg
    try:
        return oauth.credential(desk.store_path, name, server).access_token()
    except (oauth.SignInLost, oauth.TokenUnavailable) as exc:
        raise SmtpError(f"smtp: {exc}") from None


def _ehlo_name() -> str:
    name = socket.gethostname()
    return name if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}", name or "") else "localhost"


def _text(resp: bytes | str) -> str:
    s = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return " ".join(s.split())[:300]


def _answer(code: int, resp, what: str) -> SmtpError:
    kind = TEMPORARY if 400 <= code < 500 else PERMANENT
    return SmtpError(f"{what}: {code} {_text(resp)}", kind, code)


def connect(cfg: SmtpConfig, password: str | None) -> smtplib.SMTP:
    """A client after EHLO, STARTTLS and AUTH as configured. Raises SmtpError (temporary)."""
    where = f"SMTP server {cfg.host}:{cfg.port}"
    port = cfg.port or {"tls": 465, "starttls": 587}.get(cfg.security, 25)  # the loaded config sets it
    client: smtplib.SMTP
    try:
        ctx = connect_errors.tls_context(cfg.ca_file, "smtp")
    except connect_errors.CaFileError as exc:
        raise SmtpError(str(exc)) from None  # like a failed login: retried once the config is fixed
    try:
        if cfg.security == "tls":
            client = smtplib.SMTP_SSL(cfg.host, port, local_hostname=_ehlo_name(), timeout=cfg.timeout_seconds,
                                      context=ctx)
        else:
            client = smtplib.SMTP(cfg.host, port, local_hostname=_ehlo_name(), timeout=cfg.timeout_seconds)
    except smtplib.SMTPConnectError as exc:
        raise SmtpError(f"{where}: refused the connection: {exc.smtp_code} {_text(exc.smtp_error)}") from None
    except (OSError, smtplib.SMTPException) as exc:
        said = connect_errors.describe(exc, "SMTP server", cfg.host, port, cfg.timeout_seconds)
        raise SmtpError(said or f"{where}: cannot connect ({type(exc).__name__})") from None
    try:
        _hello(client, cfg, ctx, where)
        if cfg.username:
            try:
                if cfg.auth == "oauth2":
                    _xoauth2(client, cfg.username, password or "")
                else:
                    _login(client, cfg.username, password or "")
            except smtplib.SMTPAuthenticationError as exc:
                raise SmtpError(f"SMTP login failed for user {cfg.username!r} at {cfg.host}:{cfg.port}: "
                                f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
            except smtplib.SMTPNotSupportedError:
                raise SmtpError(f"{where} offers no AUTH; smtp.username cannot be used") from None
    except SmtpError:
        _close(client)
        raise
    except (OSError, smtplib.SMTPException) as exc:
        _close(client)
        raise SmtpError(f"{where}: connection lost while logging in ({type(exc).__name__})") from None
    return client


def _xoauth2(client: smtplib.SMTP, user: str, token: str) -> None:
    """AUTH XOAUTH2 (Microsoft 365, Gmail): the user and a bearer token in one initial response."""
    if not client.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("no AUTH")
    client.auth("XOAUTH2", lambda challenge=None: f"user={user}\x01auth=Bearer {token}\x01\x01",
                initial_response_ok=True)


def _login(client: smtplib.SMTP, user: str, password: str) -> None:
    """AUTH once, with PLAIN or LOGIN when offered. smtplib's login() tries every mechanism in turn, so a
    wrong password counts as several failures against the account (and some servers hang up after one)."""
    if not client.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("no AUTH")
    offered = client.esmtp_features.get("auth", "").upper().split()
    client.user, client.password = user, password  # what auth_plain and auth_login read
    if "PLAIN" in offered:
        client.auth("PLAIN", client.auth_plain)
    elif "LOGIN" in offered:
        client.auth("LOGIN", client.auth_login)
    else:
        client.login(user, password)


def _hello(client: smtplib.SMTP, cfg: SmtpConfig, ctx: ssl.SSLContext, where: str) -> None:
    code, resp = client.ehlo()
    if code != 250:
        raise _answer(code, resp, f"{where}: EHLO") if code >= 500 else SmtpError(f"{where}: EHLO: {code}")
    if cfg.security != "starttls":
        return
    if not client.has_extn("starttls"):
        raise SmtpError(f"{where} does not offer STARTTLS (smtp.security = \"starttls\")")
    try:
        code, resp = client.starttls(context=ctx)
    except ssl.SSLCertVerificationError as exc:
        raise SmtpError(f"{where}: TLS certificate not trusted ({exc.verify_message})") from None
    except ssl.SSLError as exc:
        raise SmtpError(f"{where}: STARTTLS failed ({exc.reason or exc})") from None
    client.ehlo()


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except Exception:  # noqa: BLE001 - the connection is being dropped anyway
        with contextlib.suppress(Exception):
            client.close()


def check(cfg: SmtpConfig, password: str | None = None) -> str:
    """Log in as a send would (EHLO, STARTTLS, AUTH) and log out, sending nothing. A one-line summary.
    `password`: what to log in with when not the configured password (an access token)."""
    client = connect(cfg, password if password is not None else resolve_password(cfg))
    try:
        extras = [x for x in ("starttls", "8bitmime", "smtputf8", "size") if client.has_extn(x)]
    finally:
        _close(client)
    login = (f"AUTH {'XOAUTH2 ' if cfg.auth == 'oauth2' else ''}as {cfg.username}") if cfg.username else "no login"
    return f"{cfg.host}:{cfg.port} {cfg.security}, {login}, from {cfg.from_addr}" + \
        (f" (offers {', '.join(e.upper() for e in extras)})" if extras else "")


def wire_data(raw: bytes) -> bytes:
    """The mail as DATA sends it: CRLF line ends, leading dots doubled, the final CRLF.CRLF."""
    data = _DOT.sub(b"..", _EOL.sub(b"\r\n", raw))
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def send(cfg: SmtpConfig, password: str | None, mail_from: str, rcpt_to: list[str], raw: bytes) -> Result:
    """Deliver one mail to the server. Raises SmtpError with kind temporary, permanent or unknown."""
    client = connect(cfg, password)
    try:
        return _transaction(client, cfg, mail_from, rcpt_to, raw)
    finally:
        _close(client)


def _transaction(client: smtplib.SMTP, cfg: SmtpConfig, mail_from: str, rcpt_to: list[str], raw: bytes) -> Result:
    where = f"SMTP server {cfg.host}:{cfg.port}"
    options = []
    left_off: list[str] = []
    if not all(a.isascii() for a in (mail_from, *rcpt_to)):
        if client.has_extn("smtputf8"):
            options.append("SMTPUTF8")
        else:
            raw, rcpt_to, left_off = _without_utf8(raw, mail_from, rcpt_to, where)
    if client.has_extn("size"):
        options.append(f"SIZE={len(raw)}")
    try:
        code, resp = client.mail(mail_from, options)
        if code != 250:
            raise _answer(code, resp, f"MAIL FROM {mail_from}")
        accepted, refused, later = [], [], []
        for rcpt in rcpt_to:
            code, resp = client.rcpt(rcpt)
            if code in (250, 251):
                accepted.append(rcpt)
            elif 400 <= code < 500:
                later.append(_answer(code, resp, f"RCPT TO {rcpt}"))
            else:
                refused.append((rcpt, _answer(code, resp, f"RCPT TO {rcpt}")))
        if later:
            # All or nobody: a partial send now and the rest later would make "exactly once" per person
            # a bookkeeping problem. Nothing is handed over; the whole mail is tried again.
            client.rset()
            raise later[0]
        if not accepted:
            raise refused[0][1]
        code, resp = client.docmd("DATA")
        if code != 354:
            raise _answer(code, resp, "DATA")
    except SmtpError:
        raise
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpError(f"{where}: connection lost before the mail was sent ({type(exc).__name__})") from None
    try:
        client.send(wire_data(raw))
        code, resp = client.getreply()
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpError(f"{where}: connection lost after the mail was sent, before the server answered "
                        f"({type(exc).__name__}): it may or may not have been delivered", UNKNOWN) from None
    if code != 250:
        raise _answer(code, resp, "end of DATA")
    return Result(reply=f"{code} {_text(resp)}", refused=left_off + [f"{r}: {e}" for r, e in refused])


def _without_utf8(raw: bytes, mail_from: str, rcpt_to: list[str], where: str) -> tuple[bytes, list[str], list[str]]:
    """For a server without SMTPUTF8: an address whose only non-ASCII part is its domain goes as IDNA
    (xn--...); the mail goes without the other non-ASCII recipients (taken out of RCPT TO and of the To and
    Cc headers, so that the header is ASCII again). Returns the mail, the recipients, and a note for each
    one left off. Refused (permanent) when the desk's own address or the requester's needs SMTPUTF8."""
    need = f"{where} does not offer SMTPUTF8, which a non-ASCII address needs"
    if not mail_from.isascii():
        raise SmtpError(f"{need} (the desk's own, {mail_from}); nothing was sent", PERMANENT)
    rename = {a: b for a in rcpt_to if not a.isascii() and (b := headers.ascii_form(a)) is not None}
    drop = [a for a in rcpt_to if not a.isascii() and a not in rename]
    end = raw.find(b"\r\n\r\n")
    head, rest = (raw[:end], raw[end:]) if end >= 0 else (raw, b"")
    head, to_left = headers.without_addresses(head, drop, rename)
    keep = [rename.get(a, a) for a in rcpt_to if a not in drop]
    if not to_left or not keep:
        raise SmtpError(f"{need} (the requester's, {', '.join(drop)}); nothing was sent", PERMANENT)
    return head + rest, keep, [f"{a}: left off: {need}" for a in drop]
