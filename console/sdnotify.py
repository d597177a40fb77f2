"""systemd's notification protocol: one datagram of "KEY=value" lines to the socket in $NOTIFY_SOCKET.

A few lines of our own rather than a dependency: the protocol is a single sendto() on an AF_UNIX
datagram socket, whose address is a path or, when it starts with "@", a name in the abstract
namespace. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
"""
from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("support_console.sdnotify")


class Notifier:
    def __init__(self, address: str | None, *, watchdog_seconds: float | None = None):
        self.address = address
        self.watchdog_seconds = watchdog_seconds
        self._failed = False

    @classmethod
    def from_env(cls, env=os.environ) -> Notifier:
        """NOTIFY_SOCKET, and the watchdog interval from WATCHDOG_USEC when WATCHDOG_PID is unset or ours."""
        watchdog = None
        usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog = int(usec) / 1e6
        return cls(env.get("NOTIFY_SOCKET") or None, watchdog_seconds=watchdog)

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def _target(self) -> str | None:
        a = self.address
        if not a:
            return None
        if a.startswith("@"):
            return "\0" + a[1:]
        if a.startswith("/"):
            return a
        return None  # vsock: and other kinds are not used by a local service manager

    def send(self, **fields: str | int) -> bool:
        """Send READY=1, WATCHDOG=1, STATUS=..., as keyword arguments. True when the datagram went."""
        target = self._target()
        if target is None:
            return False
        text = "\n".join(f"{k}={str(v).replace(chr(10), ' ')}" for k, v in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.sendto(text.encode("utf-8", "replace"), target)
        except OSError as exc:
            if not self._failed:  # once: a gone service manager must not fill the log
                log.warning("cannot notify the service manager (%s)", type(exc).__name__)
                self._failed = True
            return False
        self._failed = False
        return True
