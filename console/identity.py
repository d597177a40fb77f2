"""Who is acting: one answer for the CLI and the console (which gets its actor from the CLI).

Two modes, chosen by the config:

- **Logins** (any [[staff]] entry has `login`): the operating-system account of the process's real
  uid (never $USER, which anyone can set) picks the entry. `--as HANDLE` is refused unless that entry
  is a supervisor's (recorded as "ann as bob") or the account is root. An account with no entry may
  only read.
- **No logins** (a one-person desk, the demo): `--as`, else `[console] operator`, else $USER, is
  trusted as given; file permissions are the only boundary.

Roles are not decided here: console.actions checks them against the config and the staff mirror at
the moment of each action.
"""
from __future__ import annotations

import os
import pwd

from console.config import Config
from store.errors import EX_NOPERM, EX_USAGE, NotPermitted

ROOT_UID = 0


class IdentityError(NotPermitted):
    """`--as` refused (`refused`, exit 77), or nobody named to act as (a usage error, 64); the message is one
    line, safe to print."""

    def __init__(self, message: str, *, refused: bool = True):
        super().__init__(message)
        self.refused = refused
        self.exit_code = EX_NOPERM if refused else EX_USAGE


class Actor(str):
    """The handle that acts (the string itself), so it can stand wherever a handle is expected.

    `by`: who really acts when that is someone else (a supervisor's handle, or "root").
    `read_only`: an account with no [[staff]] entry; the string is then "<login> (read only)",
    which is never a handle, and every action is refused with `why`.
    """

    by: str | None
    login: str | None
    read_only: bool
    why: str | None

    def __new__(cls, handle: str, *, by: str | None = None, login: str | None = None, read_only: bool = False,
                why: str | None = None):
        self = super().__new__(cls, handle)
        self.by, self.login, self.read_only, self.why = by, login, read_only, why
        return self

    @property
    def handle(self) -> str:
        return str(self)

    @property
    def recorded(self) -> str:
        """How the audit log names this actor."""
        return f"{self.by} as {self}" if self.by else str(self)


def as_actor(actor: str) -> Actor:
    """A plain handle (tests, scripts, the demo) is an Actor with nobody behind it."""
    return actor if isinstance(actor, Actor) else Actor(actor)


def real_uid() -> int:
    return os.getuid()


def account_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (containers): it matches no login
        return f"uid {uid}"


def read_only_reason(login: str) -> str:
    return f"login {login} has no [[staff]] entry (login = \"{login}\"); it may only read"


def resolve(cfg: Config, requested: str | None, *, uid: int | None = None) -> Actor:
    """The actor for this process. `requested` is `--as` (None when not given); `uid` defaults to the
    real uid. Raises IdentityError when `--as` is refused or, without logins, nobody is named."""
    if not cfg.uses_logins:
        handle = requested or cfg.console.operator or os.environ.get("USER")
        if not handle:
            raise IdentityError("who is acting? pass --as HANDLE or set [console] operator", refused=False)
        return Actor(handle)
    uid = real_uid() if uid is None else uid
    login = account_name(uid)
    me = cfg.by_login(login)
    if requested is None or (me is not None and requested == me.handle):
        if me is None:
            return Actor(f"{login} (read only)", login=login, read_only=True, why=read_only_reason(login))
        return Actor(me.handle, login=login)
    if me is not None and me.role == "supervisor":
        by = me.handle
    elif uid == ROOT_UID:
        by = "root"  # root acts as root, whatever staff entry it has (actions check only a supervisor's `by`)
    elif me is None:
        raise IdentityError(f"--as {requested}: {read_only_reason(login)}")
    else:
        raise IdentityError(f"--as {requested}: only a supervisor or root may act for someone else "
                            f"(login {login} is {me.handle}, {me.role})")
    if cfg.person(requested) is None:
        raise IdentityError(f"--as {requested}: no [[staff]] entry has handle {requested!r}")
    return Actor(requested, by=by, login=login)
