"""Files that hold a secret (the acknowledge-link key, the OAuth2 tokens). Reading: only a regular file,
only when no one but its owner may read it. Writing: whole or not at all, never readable by others, even
for a moment. One rule for both files, so neither can drift into trusting a file others can read (such a
file is refused with how to fix it, never silently used)."""
from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path


def read_private(path: Path, what: str, error: type[Exception], *, limit: int = 1 << 20) -> bytes | None:
    """The file's bytes (at most `limit`), or None when there is no such file. `what` names it in the
    message of `error`: "the ack key file"."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} {path} is not a regular file")
        if st.st_mode & 0o077:
            raise error(f"{what} {path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                        f"run: chmod 600 {path}")
        chunks = []
        left = limit
        while left > 0 and (chunk := os.read(fd, min(65536, left))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_private(path: Path, payload: bytes, what: str, error: type[Exception], *, replace: bool,
                  doing: str = "write", prepare: Callable[[int], None] | None = None) -> bool:
    """Put `payload` at `path`: written to a temporary file beside it (mode 0600 whatever the umask;
    `prepare(fd)` may first hand it to the account that will read it), synced, then moved into place: over
    the old file with `replace`, else only where there is none yet (link(): False when another process made
    one first, whose file then stands). The temporary file never stays. `error` says what failed, as
    "cannot {doing} {what} ..."."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise error(f"cannot {doing} {what} in {path.parent}: {exc.strerror}") from None
    try:
        try:
            os.fchmod(fd, 0o600)
            if prepare is not None:
                prepare(fd)
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
    except OSError as exc:
        raise error(f"cannot {doing} {what} {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):  # after a replace() it is already gone
            os.unlink(tmp)
    with contextlib.suppress(OSError):  # the new name survives a crash once the directory is synced
        dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return True
