"""Composing in $VISUAL or $EDITOR on a private temporary file (as aerc and mutt do). Headless: the
console calls it inside App.suspend(); the `reply` and `note` commands call it on a terminal."""
from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path


class EditorError(Exception):
    """No editor, or it could not run; the message says which."""


def editor_command(env: Mapping[str, str] | None = None) -> list[str]:
    environ = os.environ if env is None else env
    cmd = (environ.get("VISUAL") or environ.get("EDITOR") or "").strip()
    if not cmd:
        raise EditorError("no editor: set $VISUAL or $EDITOR, or give the text with --body-file PATH (or - for stdin)")
    try:
        return shlex.split(cmd)
    except ValueError:
        raise EditorError(f"cannot read the editor command {cmd!r}") from None


def run(text: str, *, env: dict | None = None, name: str = "reply.txt") -> str | None:
    """The file's text after the editor exited, or None when it failed (a non-zero exit). The file is
    readable by its owner only and removed afterwards. What counts as "nothing to send" is the caller's."""
    cmd = editor_command(env)
    with tempfile.TemporaryDirectory(prefix="support-console-") as tmp:
        path = Path(tmp) / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            rc = subprocess.run([*cmd, str(path)], env=env).returncode
        except OSError as exc:
            raise EditorError(f"cannot run the editor {cmd[0]!r}: {exc.strerror}") from None
        if rc != 0:
            return None
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise EditorError("the edited text is not UTF-8; nothing was sent") from None


def edit(text: str, *, env: dict | None = None, name: str = "reply.txt") -> str | None:
    """The text after the person edited it, or None when they left it empty or unchanged (or the editor
    failed): nothing is sent then."""
    edited = run(text, env=env, name=name)
    if edited is None or not edited.strip() or edited.strip() == text.strip():
        return None
    return edited
