"""A throw-away Postfix instance in a temp dir: SMTP on a free loopback port, mail for the desk's addresses
piped to a command, and nothing delivered or looked up off the machine (shared/NOTES.md's settings).

Needs root and Debian's ``postfix``. The instance has its own config directory, queue and log; the
system's Postfix (if any) is not touched. Every daemon runs unchrooted, so the pipe's command sees the
same file system as the test.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from . import LOOPBACK, free_port, wait_for_port

MASTER_CF = """\
{host}:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
{service} unix - n n - 4 pipe
  flags=DRq user={user} argv={argv}
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
mail_owner = postfix
setgid_group = postdrop
myhostname = desk.test
mydomain = desk.test
myorigin = desk.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = {domains}
relay_recipient_maps =
transport_maps = texthash:{root}/transport
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
# Nothing leaves this machine, nothing is looked up outside it.
default_transport = error:local only
relay_transport = error:local only
local_transport = error:local only
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
notify_classes =
biff = no
{service}_destination_recipient_limit = 1
{service}_time_limit = 120s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""


def postfix_unavailable_reason() -> str | None:
    if shutil.which("postfix") is None and not Path("/usr/sbin/postfix").exists():
        return "postfix not installed (apt-get install postfix)"
    if os.geteuid() != 0:
        return "the Postfix test instance must run as root"
    return None


class Postfix:
    """`Postfix(root, recipients, argv, user).start()`: mail to `recipients` is piped to `argv` as `user`."""

    service = "support-desk"

    def __init__(self, root: Path, recipients: list[str], argv: str, user: str):
        self.root = Path(root).resolve()
        self.recipients, self.argv, self.user = recipients, argv, user
        self.conf = self.root / "conf"
        self.port = 0
        self.log = self.root / "postfix.log"

    def _postfix(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run(["postfix", "-c", str(self.conf), *args], capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"postfix {' '.join(args)} failed: {r.stderr.strip()}\n{self.log_tail()}")
        return r

    def start(self) -> None:
        for d in ("conf", "queue", "data"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        domains = sorted({r.split("@", 1)[1] for r in self.recipients})
        (self.root / "transport").write_text("".join(f"{r} {self.service}:\n" for r in self.recipients))
        (self.conf / "main.cf").write_text(MAIN_CF.format(root=self.root, domains=", ".join(domains),
                                                          service=self.service))
        (self.conf / "master.cf").write_text(MASTER_CF.format(host=LOOPBACK, port=self.port, service=self.service,
                                                              user=self.user, argv=self.argv))
        self._postfix("set-permissions", check=False)  # queue directories owned by postfix / postdrop
        self._postfix("check")
        self._postfix("start")
        wait_for_port(LOOPBACK, self.port, 20)

    def flush(self) -> None:
        self._postfix("flush", check=False)

    def stop(self) -> None:
        if (self.root / "queue" / "pid" / "master.pid").exists():
            self._postfix("stop", check=False)
            deadline = time.monotonic() + 10
            while (self.root / "queue" / "pid" / "master.pid").exists() and time.monotonic() < deadline:
                time.sleep(0.05)

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no postfix log)"


def python_for(account: str, paths: list[str]) -> str | None:
    """An interpreter that `account` may execute and that imports this checkout with `paths` first on
    sys.path (the tests' own interpreter may live where only root can reach it, as pyenv's under /root)."""
    import sys

    boot = f"import sys; sys.path[:0] = {paths!r}; import console.cli, sqlite_utils"
    for exe in (sys.executable, "/usr/bin/python3"):
        r = subprocess.run(["runuser", "-u", account, "--", exe, "-c", boot], capture_output=True, timeout=60,
                           cwd="/", env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        if r.returncode == 0:
            return exe
    return None
