"""What went wrong when connecting to a mail server (IMAP or SMTP), in the operator's words: one line
that names the server and never holds a credential."""
from __future__ import annotations

import socket
import ssl


def describe(exc: BaseException, server: str, host: str, port: int, timeout: float) -> str | None:
    """`server` is "IMAP server" or "SMTP server". None: not a failure this knows how to word."""
    where = f"{server} {host}:{port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"{where}: TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"{where}: TLS failed ({exc.reason or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return f"{where}: connection refused"
    if isinstance(exc, socket.gaierror):
        return f"{server} {host}: host name not found"
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        return f"{where}: timed out after {timeout:g}s"
    return None
