"""Reading a file that holds a secret (the acknowledge-link key, the OAuth2 tokens): only a regular file,
only when no one but its owner may read it. One rule for both, so neither can drift into trusting a file
others can read (such a file is refused with how to fix it, never silently used)."""
from __future__ import annotations

import os
import stat
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
