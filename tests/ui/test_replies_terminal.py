"""The $EDITOR path for real: `support-console` in a pseudo-terminal, where Textual's Linux driver can
suspend. `r` hands the terminal to $EDITOR (a script stands in for it) on a private file holding the
draft; the review comes back; `y` sends the reply to a real SMTP server (aiosmtpd on loopback)."""
from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

import pytest
import contextlib
from datetime import UTC

pytestmark = pytest.mark.ui
ROOT = Path(__file__).resolve().parents[2]


class Terminal:
    """A child process on a pseudo-terminal of 120x36, and everything it wrote so far."""

    def __init__(self, argv: list[str], env: dict):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
        self.out = bytearray()

    def _read(self, seconds: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], seconds)
        if ready:
            with contextlib.suppress(OSError):  # the child has gone
                self.out.extend(os.read(self.fd, 65536))

    def wait_for(self, check, what: str, timeout: float = 20.0) -> None:
        """Read the child's output until check() holds (a condition, not a fixed sleep)."""
        end = time.monotonic() + timeout
        while not check():
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}; the terminal shows: {bytes(self.out[-600:])!r}")
            self._read(0.1)

    def press(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def close(self) -> int | None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            self._read(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status
        os.kill(self.pid, signal.SIGKILL)
        return os.waitpid(self.pid, 0)[1]


@pytest.fixture
def desk(tmp_path, smtp_sink):
    """A config that sends through the test's SMTP sink, and one ticket from Kim."""
    from console.config import load
    from console.intake.pipeline import Incoming, file_messages
    from console.poller import sync_staff
    from store import open_db

    conf = tmp_path / "config.toml"
    conf.write_text(f'''timezone = "America/Phoenix"
[store]
path = "{tmp_path / 'desk.db'}"
[routing]
urgent = ["urgent@example.com"]
support = ["support@example.com"]
[smtp]
host = "127.0.0.1"
port = {smtp_sink.port}
security = "none"
from = "Example Support <support@example.com>"
[[staff]]
handle = "ann"
name = "Ann Example"
role = "supervisor"
signature = "Ann Example\\nExample Support"
[oncall]
rotation = ["ann"]
''')
    cfg = load(conf, check_urls=False)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    raw = (b"From: Kim Park <kim@studio.example>\r\nTo: support@example.com\r\nSubject: Dark mode please\r\n"
           b"Message-ID: <k1@studio.example>\r\n\r\nCould the console get a dark mode?\r\n")
    from datetime import datetime

    filed = file_messages(db, cfg, [Incoming(raw=raw)], datetime.now(UTC).replace(microsecond=0))[0]
    db.close()
    return conf, cfg, filed.ticket_id


def test_r_in_a_real_terminal_composes_in_the_editor_and_y_sends(desk, tmp_path, smtp_sink):
    conf, cfg, tid = desk
    seen = tmp_path / "seen"
    script = tmp_path / "editor.py"
    script.write_text("import os, stat, sys\np = sys.argv[1]\n"
                      f"open({str(seen)!r}, 'w').write(p + '\\n' + oct(stat.S_IMODE(os.stat(p).st_mode)) + '\\n'"
                      " + open(p).read())\n"
                      "text = open(p).read().replace('\\n\\n\\n', '\\n\\nWritten in a real terminal.\\n\\n', 1)\n"
                      "open(p, 'w').write(text)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("VISUAL", "EDITOR", "TEXTUAL")}
    env.update(EDITOR=f"{sys.executable} {script}", TERM="xterm-256color", SUPPORT_CONSOLE_CONFIG=str(conf))
    exe = Path(sys.executable).parent / "support-console"
    argv = [str(exe), "--as", "ann"] if exe.exists() else [sys.executable, "-m", "console.cli", "--as", "ann"]
    term = Terminal(argv, env)
    try:
        term.wait_for(lambda: b"Dark mode please" in term.out, "the ticket list")
        term.press(b"r")
        term.wait_for(seen.exists, "the editor to run")
        path, mode, draft = seen.read_text().split("\n", 2)
        assert mode == "0o600" and draft.startswith("On ") and "> Could the console get a dark mode?" in draft
        assert draft.rstrip().endswith("-- \nAnn Example\nExample Support")
        term.wait_for(lambda: b"Written in a real terminal." in term.out, "the review")
        assert not os.path.exists(path)  # the draft file is gone once the editor is done
        assert smtp_sink.records == []  # nothing goes before y
        term.press(b"y")
        [mail] = smtp_sink.wait_for(1, timeout=20)
        body = mail.message.get_content()
        assert "Written in a real terminal." in body and "> Could the console get a dark mode?" in body
        assert mail.rcpt_tos == ["kim@studio.example"] and mail.subject == f"Re: [#{tid}] Dark mode please"
        term.press(b"q")
    finally:
        term.close()
