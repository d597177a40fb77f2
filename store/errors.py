"""The two roots of the errors this project raises on purpose, each class carrying the exit status the CLI
gives it (console/cli/errors.py maps by class, nothing else):

- `NeedsFixing`: a person must change something first (the config, a permission, the command line, a ticket
  number that does not exist). Running the same command again fails the same way.
- `WillPass`: a lock, the network, a busy or briefly unavailable database. The same command a little later
  can succeed; 75 (EX_TEMPFAIL) is what an MTA retries on.

Their messages are one line, safe to print. They live in `store`, the lowest floor, because `store` raises
them too and imports nothing of `console`. Exit statuses follow sysexits.h.
"""
from __future__ import annotations

EX_FAILED = 1
EX_LOCKED = 3  # the mailbox or outbox is owned by another poller
EX_USAGE = 64
EX_DATAERR = 65
EX_SOFTWARE = 70
EX_CANTCREAT = 73
EX_TEMPFAIL = 75
EX_NOPERM = 77
EX_CONFIG = 78


class NeedsFixing(Exception):
    """What a person must fix; trying again unchanged fails again."""

    exit_code = EX_FAILED


class WillPass(Exception):
    """What will pass (a lock, the network, the disk); trying again later can succeed."""

    exit_code = EX_TEMPFAIL


# Every error whose message is written for a person: what a console shows instead of failing.
KNOWN_ERRORS: tuple[type[Exception], ...] = (NeedsFixing, WillPass)


class UsageError(NeedsFixing):
    """The command was called wrongly (a missing or malformed argument)."""

    exit_code = EX_USAGE


class BadInput(NeedsFixing):
    """The data given (a mail on stdin, a file) cannot be used as it is."""

    exit_code = EX_DATAERR


class CannotCreate(NeedsFixing):
    """An output file cannot be written (or already exists and is never overwritten)."""

    exit_code = EX_CANTCREAT


class NotPermitted(NeedsFixing):
    """This person may not do this (a role, an assignment, a read-only account)."""

    exit_code = EX_NOPERM
