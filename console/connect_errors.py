"""What went wrong when connecting to a mail server (IMAP or SMTP), in the operator's words: one line
that names the server and never holds a credential."""
from __future__ import annotations

import socket
import ssl
from pathlib import Path

from store.errors import NeedsFixing


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


class CaFileError(NeedsFixing):
    """The configured CA file cannot be used; the message names the key."""


def tls_context(ca_file: Path | None, section: str) -> ssl.SSLContext:
    """Verified TLS: the system's CAs, or only `[section] ca_file` (a private CA, a self-signed server)."""
    if ca_file is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        why = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise CaFileError(f"{section}.ca_file: cannot read CA certificates from {ca_file} ({why})") from None
