"""`auth login [MAILBOX]`, `auth status [--json]`, `auth logout MAILBOX`: OAuth2 sign-in for the mailboxes
and the SMTP identity. The tokens go to the token file beside the database (console/oauth/tokens.py);
nothing here prints a token."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from console.cli import common
from console.cli.errors import UsageError
from console.config import Config


def _identities(cfg: Config) -> list[tuple[str, Any]]:
    """(name, server config) of everything that signs in with OAuth2: each such mailbox, and [smtp] when it
    does not share a mailbox's sign-in."""
    from console.oauth import smtp_token_name

    out: list[tuple[str, Any]] = [(m.label, m) for m in cfg.imaps if m.auth == "oauth2"]
    if cfg.smtp is not None and cfg.smtp.auth == "oauth2" and smtp_token_name(cfg) == "smtp":
        out.append(("smtp", cfg.smtp))
    return out


def _pick(cfg: Config, name: str | None) -> tuple[str, Any]:
    found = _identities(cfg)
    if not found:
        raise UsageError("no mailbox signs in with OAuth2 (set auth = \"oauth2\" in [imap] or [[imap]])")
    if name is None:
        if len(found) > 1:
            raise UsageError("several mailboxes sign in with OAuth2; name one: " + ", ".join(n for n, _ in found))
        return found[0]
    for n, server in found:
        if n == name:
            return n, server
    raise UsageError(f"no mailbox {name!r} signs in with OAuth2 (these do: {', '.join(n for n, _ in found)})")


def _supervisor(args: argparse.Namespace, cfg: Config) -> None:
    """Signing a mailbox in or out is a supervisor's (the issue: "a supervisor's account runs it")."""
    from console import actions

    actions.sync_staff(cfg)  # the staff list as the config says it now
    person = actions.acting(common.db(cfg), cfg, common.actor(args, cfg))
    if person["role"] != "supervisor":
        raise actions.PermissionRefused(f"only a supervisor may sign a mailbox in or out ({person['handle']} is "
                                        f"{person['role']})")


def usage(args: argparse.Namespace) -> int:
    raise UsageError("auth needs a command: login [MAILBOX], status [--json] or logout MAILBOX")


def login(args: argparse.Namespace) -> int:
    from console.oauth import login as flows
    from console.oauth.providers import resolve
    from console.oauth.tokens import TokenStore

    cfg = common.setup(args)
    name, server = _pick(cfg, args.mailbox)
    _supervisor(args, cfg)
    provider = resolve(server.provider, server.client_id, server.authority, server.token_url, server.scopes)
    who = flows.login(TokenStore.beside(cfg.store_path), name, provider, server.username or name,
                      say=lambda line: print(line, flush=True), client_secret=server.client_secret,
                      timeout=server.timeout_seconds)
    print(f"{name}: signed in as {who}; the poller picks it up by itself")
    return 0


def _when(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if ts else None


def status(args: argparse.Namespace) -> int:
    from console.oauth import SignInLost, TokenUnavailable, credential
    from console.oauth.session import describe
    from console.oauth.tokens import TokenStore

    cfg = common.setup(args)
    store = TokenStore.beside(cfg.store_path)
    rows = []
    for name, server in _identities(cfg):
        try:  # whether refresh works: ask for a token (refreshed, and saved, only when due)
            credential(cfg.store_path, name, server).access_token()
            refresh = "ok"
        except SignInLost as exc:
            refresh = f"lost: {exc.reason}"
        except TokenUnavailable as exc:
            refresh = f"unavailable: {exc}"
        d = describe(store.entry(name))
        rows.append({"mailbox": name, "signed_in": d["signed_in"], "account": d.get("account"),
                     "signed_in_at": _when(d.get("signed_in_at")),
                     "access_token_expires_at": _when(d.get("access_token_expires_at")), "refresh": refresh})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            who = f"signed in as {r['account']}" if r["signed_in"] else "not signed in"
            exp = f", access token until {r['access_token_expires_at']}" if r["access_token_expires_at"] else ""
            print(f"{r['mailbox']}: {who}{exp}; refresh {r['refresh']}")
    ok = all(r["refresh"] == "ok" for r in rows)
    if not ok:
        print("sign in again with: support-console auth login MAILBOX", file=sys.stderr)
    return 0 if ok else 1


def logout(args: argparse.Namespace) -> int:
    from console.oauth import login as flows
    from console.oauth.tokens import TokenStore

    cfg = common.setup(args)
    name, _ = _pick(cfg, args.mailbox)
    _supervisor(args, cfg)
    if flows.logout(TokenStore.beside(cfg.store_path), name):
        print(f"{name}: signed out (tokens removed; revoke the app's access at the provider to end the grant)")
    else:
        print(f"{name}: was not signed in")
    return 0
