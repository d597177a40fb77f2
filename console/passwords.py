"""Where a server password comes from: an environment variable or a command (`pass show ...`), never
the config file. Shared by IMAP and SMTP; the messages name the config key, never the value."""
from __future__ import annotations

import os
import shlex
import subprocess

from store.errors import NeedsFixing


class PasswordError(NeedsFixing):
    """The password could not be had; the message names the key."""


def resolve(section: str, password_env: str | None, password_command: str | None) -> str:
    if password_env:
        value = os.environ.get(password_env)
        if value is None:
            raise PasswordError(f"{section}.password_env: environment variable {password_env} is not set")
        return value
    try:
        proc = subprocess.run(shlex.split(password_command or ""), capture_output=True, timeout=30, text=True)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise PasswordError(f"{section}.password_command: could not run it ({type(exc).__name__})") from None
    if proc.returncode != 0:
        raise PasswordError(f"{section}.password_command: exited with status {proc.returncode}")
    return proc.stdout.rstrip("\r\n")
