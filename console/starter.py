"""`support-console init`: a commented starter config, written once (never over an existing file)."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

TEMPLATE = """\
# support-console configuration (TOML). Every key is checked: a misspelt key is an error that names it.
# Durations always carry a unit: "90s", "15m", "8h", "3d". After editing, run `support-console check`.

timezone = "America/Phoenix"           # times are stored in UTC and shown in this zone

[store]
path = "support.db"                    # relative to this file; it holds mail: keep it private

[imap]
host = "mail.example.com"
port = 993
security = "tls"                       # "tls" | "starttls" | "none" (loopback only)
username = "support"
password_env = "IMAP_PASSWORD"         # or: password_command = "pass show imap/support"
folder = "INBOX"
# ca_file = "/etc/ssl/private-ca.pem"  # trust this CA for the IMAP server

[routing]
urgent = ["urgent@example.com"]        # mail to these addresses is Class III
support = ["support@example.com"]      # Class I, unless the customer marks it Class II (or III)

[sla]                                  # first-contact targets; these are the policy's values
I = "72h"
II = "8h"
III = "15m"
III_escalate_after = "10m"             # Class III not acknowledged by then: every phone rings

# One [[staff]] table per person. notify holds apprise URLs (https://github.com/caronc/apprise/wiki);
# they often carry tokens, so this file should be readable only by the desk.
[[staff]]
handle = "ann"
name = "Ann Example"
role = "supervisor"                    # "staff" | "supervisor"
notify = ["ntfy://ntfy.example.com/ann-pager"]
# login = "ann"                        # the system account that acts as ann. Once any entry has a
#                                      # login, --as is only for supervisors and root, and accounts
#                                      # without an entry may only read.
# email = "ann@example.com"            # her own address: her mail threads as staff
# call = ["twilio://SID:Token@+15205550100/+15205550123?method=call"]  # rings her phone for Class III
#                                      # pages from the team step on (README: "A lot of phones ring")

[[staff]]
handle = "bob"
name = "Bob Example"
role = "staff"
notify = ["ntfy://ntfy.example.com/bob-pager"]

[oncall]
rotation = ["ann", "bob"]              # in the week that contains `start`, rotation[0] is primary and
handoff = "mon 09:00"                  # rotation[1] secondary; at each handoff everyone moves up one
start = "{start}"

[alerts]
# heartbeat_url = "https://hc.example.com/ping/..."  # pinged while the poller is alive (a dead-man's switch)
# channels = ["json://..."]            # desk-wide targets that get every page
# intake_stale_after = "5m"            # page the supervisors when intake has not synced for this long
# trusted_proxies = ["127.0.0.1"]      # the reverse proxy in front of the acknowledge links, if any

[console]
# operator = "ann"                     # who acts when --as is not given (only without logins)
"""


def render(today: date | None = None) -> str:
    return TEMPLATE.replace("{start}", (today or date.today()).isoformat())


def write_starter(path: Path, today: date | None = None) -> None:
    """Create `path` (and its directory) with the starter text; FileExistsError if it exists.
    Mode 0600: the file will hold pager tokens."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(render(today))
