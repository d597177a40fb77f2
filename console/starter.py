"""`support-console init`: a commented starter config, written once (never over an existing file).

The keys, their defaults and their choices come from console.config's own definitions (`config.TABLES`),
so the starter cannot drift from what the config accepts: a key added there appears here at once, and a
test fails until it has words here. This module holds only the words and the example values.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from console import config as c
from console.policy import format_duration


DEFAULT = object()  # "show the key's default"


@dataclass(frozen=True)
class Words:
    """A key's comment, and the value the starter shows (else the key's default). An `active` key is
    written as a setting; the others are commented out, ready to be switched on."""
    comment: str
    example: Any = DEFAULT
    active: bool = False


def on(comment: str, example: Any = DEFAULT) -> Words:
    return Words(comment, example, active=True)


HEADER = """\
# support-console configuration (TOML). Every key is checked: a misspelt key is an error that names it.
# Durations always carry a unit: "90s", "15m", "8h", "3d". Lines starting with "# key =" show a key
# with its default: remove the "# " to set it. After editing, run `support-console check`.

timezone = "America/Phoenix"           # times are stored in UTC and shown in this zone

[store]
path = "support.db"                    # relative to this file; it holds mail: keep it private"""

INTROS = {
    "imap": "The mailbox the desk reads (IMAP IDLE). The password never goes in this file.",
    "smtp": "How the desk sends replies, receipts and details requests.",
    "routing": "Which address makes which class.",
    "sla": "First-contact targets; these are the policy's values.",
    "staff": "One [[staff]] table per person. notify holds apprise URLs (https://github.com/caronc/apprise/wiki);\n"
             "they often carry tokens, so this file should be readable only by the desk.",
    "oncall": "Who is paged first.",
    "alerts": "Pages: retries, the dead-man's switch, and acknowledge links (a page carries a link only when\n"
              "ack_base_url is set; put a reverse proxy in front of ack_listen that passes the path unchanged).",
    "replies": "Automatic mail the desk sends by itself.",
    "reports": "The weekly SLA report (support-console report sla), mailed to the supervisors.",
    "console": "The console.",
    "replicate": "Optional: stream the database to a replica with Litestream "
                 "(pip install 'support-console[replicate]',\n"
                 "then `support-console replicate`; see the README, Failover). Credentials come from the environment.",
}

# Tables a desk may leave out: written commented out, header and all.
OPTIONAL = frozenset({"replicate"})

# After a table's keys (rules that tie keys together, or sub-tables the reader checks by hand).
OUTROS = {
    "console": "# [console.keys]                       # remap keys by binding id (a key does one thing per screen)\n"
               "# acknowledge = \"a\"\n# refresh = \"R,f5\"",
    "sla": "# [sla.business_hours.I]              # off by default: the policy's clocks run around the clock\n"
           "# days = \"mon-fri\"\n# hours = \"09:00-17:00\"\n# holidays = [\"2026-12-25\"]",
}

WORDS: dict[str, Words] = {
    "imap.host": on("", "mail.example.com"),
    "imap.port": on("993 for tls, 143 otherwise", 993),
    "imap.security": on('"tls" (verified) | "starttls" | "none" (loopback only)'),
    "imap.username": on("", "support"),
    "imap.password_env": on("the environment variable that holds the password", "IMAP_PASSWORD"),
    "imap.password_command": Words("or a command that prints it", "pass show imap/support"),
    "imap.folder": on(""),
    "imap.account": Words("the name the watermark is kept under (default: username@host)",
                          "support@mail.example.com"),
    "imap.idle": Words("push (IDLE); false polls every poll_seconds"),
    "imap.poll_seconds": Words("without IDLE"),
    "imap.idle_refresh": Words("re-issue IDLE this often (servers drop it after 30 minutes)"),
    "imap.batch_size": Words("messages fetched and filed per transaction"),
    "imap.timeout_seconds": Words("a server that says nothing for this long is reconnected"),
    "imap.max_message_size": Words("bigger mail is kept raw and flagged, never skipped"),
    "imap.processed_keyword": Words("a cosmetic keyword set on filed mail, after the commit", "$SupportFiled"),
    "imap.ca_file": Words("trust this CA (a private CA or a self-signed server)", "/etc/ssl/private-ca.pem"),
    "imap.name": Words("shown in status, the header and `auth login NAME`; with [[imap]] (several mailboxes) "
                       "each needs one", "support"),
    "imap.auth": Words('"password" | "oauth2" (Microsoft 365, Gmail: then run `support-console auth login`)'),
    "imap.provider": Words('"microsoft" | "google" (their endpoints and scopes are known)', "microsoft"),
    "imap.client_id": Words("the application (client) id of the desk's app registration",
                            "00000000-0000-0000-0000-000000000000"),
    "imap.client_secret": Words("Google Desktop clients only (Google does not treat it as a secret)", "GOCSPX-..."),
    "imap.authority": Words("another provider: its OpenID Connect issuer (sign-in by device code)",
                            "https://login.example.com/tenant"),
    "imap.token_url": Words("or only its token endpoint (refresh only)", "https://login.example.com/token"),
    "imap.scopes": Words("another provider: the scopes to ask for", ["https://mail.example.com/imap"]),
    "imap.class": Words("every mail in this mailbox is this class (a mailbox that is urgent@)", "III"),
    "imap.from": Words("replies to this mailbox's tickets come from this address (default: [smtp] from)",
                       "Urgent <urgent@example.com>"),

    "smtp.host": on("", "mail.example.com"),
    "smtp.from": on("the desk's address: replies come from it", "Example Support <support@example.com>"),
    "smtp.security": on('"tls" | "starttls" | "none" (loopback only); certificates verified'),
    "smtp.port": on("465 for tls, 587 for starttls, 25 for none", 587),
    "smtp.username": on("leave out for a server that takes mail without a login", "support"),
    "smtp.password_env": on("", "SMTP_PASSWORD"),
    "smtp.password_command": Words("or a command that prints it", "pass show smtp/support"),
    "smtp.auth": Words('"password" | "oauth2" (shares the sign-in of the mailbox with the same username)'),
    "smtp.provider": Words('as for [imap]: "microsoft" | "google"', "microsoft"),
    "smtp.client_id": Words("as for [imap]", "00000000-0000-0000-0000-000000000000"),
    "smtp.client_secret": Words("as for [imap]: Google Desktop clients only", "GOCSPX-..."),
    "smtp.authority": Words("another provider's OpenID Connect issuer", "https://login.example.com/tenant"),
    "smtp.token_url": Words("or its token endpoint alone", "https://login.example.com/token"),
    "smtp.scopes": Words("another provider: the scopes to ask for", ["https://mail.example.com/smtp"]),
    "smtp.save_to": Words("APPEND a copy of each sent mail to this IMAP folder", "Sent"),
    "smtp.timeout_seconds": Words(""),
    "smtp.ca_file": Words("default: [imap] ca_file", "/etc/ssl/private-ca.pem"),
    "smtp.backoff_seconds": Words("while the server is away or answers 4xx: retry after this, doubling"),
    "smtp.backoff_max_seconds": Words("up to this"),
    "smtp.give_up_after": Words("a mail not sent by then is marked failed"),

    "routing.urgent": on("mail to these addresses is Class III", ["urgent@example.com"]),
    "routing.support": on("Class I, unless the customer marks it Class II (or III)", ["support@example.com"]),
    "routing.default_class": Words("for mail to any other address"),

    "sla.I": on(""),
    "sla.II": on(""),
    "sla.III": on(""),
    "sla.III_escalate_after": on("Class III not acknowledged by then: every phone rings"),
    "sla.III_repeat_every": Words("after the breach, page again this often until acknowledged"),
    "sla.warn_fraction": Words("warn when this share of the target is used"),

    "staff.handle": on("", "ann"),
    "staff.name": on("", "Ann Example"),
    "staff.role": on('"staff" | "supervisor"', "supervisor"),
    "staff.notify": on("apprise URLs", ["ntfy://ntfy.example.com/ann-pager"]),
    "staff.login": Words("the system account that acts as ann. Once any entry has\n"
                         "a login, --as is only for supervisors and root, and\n"
                         "accounts without an entry may only read", "ann"),
    "staff.email": Words("her own address: her mail threads as staff, and her\n"
                         "reply \"ack\" to an email page acknowledges it", "ann@example.com"),
    "staff.call": Words("apprise URLs that ring her phone (Class III, from the team step on)",
                        ["twilio://SID:Token@15551230000/15557654321?method=call"]),
    "staff.signature": Words("ends her replies, after a \"-- \" line (default: her name)",
                             "Ann Example\nExample Support"),

    "oncall.rotation": on("in the week that contains `start`, rotation[0] is\n"
                          "primary and rotation[1] secondary; at each handoff\n"
                          "everyone moves up one place", ["ann", "bob"]),
    "oncall.handoff": on(""),
    "oncall.start": on(""),  # today, filled in by render()

    "alerts.heartbeat_url": Words("pinged while the poller is alive (a dead-man's switch)",
                                  "https://hc.example.com/ping/..."),
    "alerts.max_attempts": Words("tries per page before it is given up"),
    "alerts.send_timeout_seconds": Words("a send that takes longer is cut short (and never re-fired blindly)"),
    "alerts.backoff_seconds": Words("a failed page is retried after this, doubling"),
    "alerts.backoff_max_seconds": Words("up to this"),
    "alerts.channels": Words("desk-wide targets that get every page", ["json://..."]),
    "alerts.intake_stale_after": Words("page the supervisors when intake has not synced for this long"),
    "alerts.ack_listen": Words("where the poller serves acknowledge links"),
    "alerts.ack_base_url": Words("the links' prefix, as phones reach them", "https://desk.example.com/ack"),
    "alerts.ack_link_lifetime": Words("a link stops working after this"),
    "alerts.bundle_window": Words("more pages of one sender's tickets to one person within this long go as\n"
                                  "one bundle at its end (\"0s\": every page alone)"),
    "alerts.trusted_proxies": Words("the reverse proxies whose X-Forwarded-For is believed", ["127.0.0.1"]),
    "alerts.ack_request_timeout": Words("a connection must send its request within this"),
    "alerts.ack_max_connections": Words("open connections to the link server at most"),

    "replies.receipt": on('"we have your request #N" on a new ticket (never to automated mail)'),
    "replies.receipt_window": Words("at most one automatic mail per sender in this window"),
    "replies.details_request": Words('send the "we need details" request to call-me-only mail on arrival'),
    "replies.templates": Words("a directory of NAME.txt canned replies, relative to this file", "templates"),
    "replies.trusted_authserv_id": Words("your receiving MTA's id in Authentication-Results: automatic mail then\n"
                                         "goes only to senders that pass DMARC by its verdict (without it,\n"
                                         "receipts can be forged onto anyone: `check` warns)", "mx.example.com"),
    "replies.automatic_per_hour": Words("automatic mails (receipts, details requests) in any hour, at most"),
    "replies.automatic_per_domain_per_hour": Words("... and to any one domain"),
    "replies.max_cc": Words("a reply copies at most this many Cc addresses (reply --cc-all: all)"),

    "reports.weekly": Words("mail the supervisors last week's SLA report then (desk time; needs [smtp])",
                            "mon 08:00"),

    "console.operator": Words("who acts when --as is not given (only without logins)", "ann"),

    "replicate.url": Words("s3://bucket/path, sftp://user@host/path or file:///dir", "file:///var/backups/desk"),
    "replicate.max_lag": Words("`status` is degraded when the replica lags more"),
    "replicate.sync_interval": Words("how often Litestream ships new changes"),
    "replicate.endpoint": Words("an S3-compatible service's URL (MinIO, R2, ...)", "https://s3.example.com"),
    "replicate.region": Words("the S3 region", "us-east-1"),
    "replicate.key_path": Words("SFTP: the private key's file", "/etc/support-console/replica.key"),
    "replicate.password_env": Words("SFTP: the variable holding the password", "REPLICA_PASSWORD"),
}

# The second person of the example desk: only the keys set for her.
SECOND_PERSON = {"handle": "bob", "name": "Bob Example", "role": "staff",
                 "notify": ["ntfy://ntfy.example.com/bob-pager"]}


def _toml(value: Any, f: c.Field) -> str:
    kind = f.metadata["kind"]
    if kind == "seconds" and isinstance(value, (int, float)):
        return _toml(timedelta(seconds=value), f)
    if kind == "size" and isinstance(value, int):
        for unit, size in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
            if value % size == 0:
                return f'"{value // size}{unit}"'
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}"
    if isinstance(value, timedelta):
        hours, rest = divmod(int(value.total_seconds()), 3600)
        # The policy speaks in hours ("72 hours", "8 hours"); a day or more of whole hours reads as hours.
        return f'"{hours}h"' if not rest and 24 <= hours <= 72 else f'"{format_duration(value)}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v, f) for v in value) + "]"
    # TOML's basic strings take JSON's escapes.
    return json.dumps(str(value), ensure_ascii=False)


def _line(text: str, comment: str, *, commented: bool) -> list[str]:
    text = ("# " if commented else "") + text
    if not comment:
        return [text]
    first, *rest = comment.split("\n")
    pad = max(len(text) + 1, 39)
    out = [f"{text:<{pad}}# {first}"]
    lead = "#" if commented else ""
    out += [f"{lead:<{pad}}# {more}" for more in rest]
    return out


def _value(table: str, key: str, f: c.Field, words: Words, today: date) -> Any:
    if table == "oncall" and key == "start":
        return today.isoformat()
    if words.example is not DEFAULT:
        return words.example
    return f.default


def _table_lines(table: str, cls: type, today: date) -> list[str]:
    lines = []
    for key, f in c.table_keys(cls):
        words = WORDS.get(f"{table}.{key}", Words(""))
        value = _value(table, key, f, words, today)
        lines += _line(f"{key} = {_toml(value, f)}", words.comment, commented=not words.active)
    return lines


def render(today: date | None = None) -> str:
    today = today or date.today()
    parts = [HEADER]
    for table, cls, is_list in c.TABLES:
        head = [f"# {line}" for line in INTROS.get(table, "").split("\n") if line]
        if is_list:
            second = [f"{k} = {_toml(SECOND_PERSON[k], f)}" for k, f in c.table_keys(cls) if k in SECOND_PERSON]
            body = _table_lines(table, cls, today) + ["", f"[[{table}]]", *second]
            parts.append("\n".join([*head, f"[[{table}]]", *body]))
        elif table in OPTIONAL:
            lines = [line if line.startswith("#") else f"# {line}" for line in _table_lines(table, cls, today)]
            parts.append("\n".join([*head, f"# [{table}]", *lines]))
        else:
            parts.append("\n".join([*head, f"[{table}]", *_table_lines(table, cls, today)]))
        if table in OUTROS:
            parts[-1] += "\n" + OUTROS[table]
    return "\n\n".join(parts) + "\n"


def write_starter(path: Path, today: date | None = None) -> None:
    """Create `path` (and its directory) with the starter text; FileExistsError if it exists.
    Mode 0600: the file will hold pager tokens."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(render(today))
