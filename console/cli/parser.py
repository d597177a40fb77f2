"""The whole command line in one place. Each command names its function as `set_defaults(func=...)`, a
`Lazy` reference: its module is imported only when that command runs, so `ingest` loads what filing a mail
needs and no more."""
from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from typing import cast


Command = Callable[[argparse.Namespace], int]


class Lazy:
    """`console.cli.<module>.<name>(args)`, imported when called."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, args: argparse.Namespace) -> int:
        function = getattr(importlib.import_module(f"console.cli.{self.module}"), self.name)
        return function(args)


class _Version(argparse.Action):
    """--version: importlib.metadata (tens of milliseconds) is loaded only when asked."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("support-console")
        except PackageNotFoundError:  # run from a checkout that was never installed
            found = "unknown"
        print(f"support-console {found}")
        parser.exit()


AddCommand = Callable[[str, str, Command], argparse.ArgumentParser]


class _CommandParser(argparse.ArgumentParser):
    """A command's parser (and its subcommands'): words it does not know are reported under its own usage,
    "support-console alerts: error: unrecognized arguments: --bogus", not under the top level's, which
    names no command. argparse hands every word after the command to it, so nothing else could take them."""

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override] # one of its overloads
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        parsed, extra = super().parse_known_args(args, namespace)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed, extra


class _Unbuilt:
    """Stands in for the parser of a command that is not built: whatever is added to it (arguments, groups,
    subcommands) goes nowhere. Cheaper than a throwaway ArgumentParser, which makes a help formatter for
    each argument added."""

    def __getattr__(self, name: str) -> Callable[..., _Unbuilt]:
        return lambda *args, **kwargs: self


def build(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser. Given `argv`, only the command it names gets its arguments: an MTA's `ingest` need not
    build twenty others. Without a command, with --help or --version, or for a word that names none, every
    command is built (so help and "invalid choice" list them all)."""
    wanted = _named_command(argv)
    p, built = _build(wanted)
    return p if wanted is None or wanted in built else _build(None)[0]


_OPTIONS_WITH_VALUES = ("--config", "--as")


def _named_command(argv: Sequence[str] | None) -> str | None:
    if argv is None or any(a in ("-h", "--help", "--version") for a in argv):
        return None
    words = iter(argv)
    for word in words:
        if len(word) > 2 and any(o.startswith(word) for o in _OPTIONS_WITH_VALUES):  # argparse takes "--conf"
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _common_options() -> _CommandParser:
    """--config and --as, which every command (and a command's own subcommands) takes."""
    common = _CommandParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="config file (else $SUPPORT_CONSOLE_CONFIG, else the user config dir)")
    common.add_argument("--as", dest="actor", metavar="HANDLE", default=argparse.SUPPRESS,
                        help="act as HANDLE: with [[staff]] logins only for supervisors and root; without, the "
                             "default is [console] operator, else $USER")
    return common


def _build(wanted: str | None) -> tuple[argparse.ArgumentParser, list[str]]:
    common = _common_options()
    p = argparse.ArgumentParser(prog="support-console", parents=[common],
                                description="Email support desk: intake, SLA clocks, pages and a console.")
    p.add_argument("--version", action=_Version, help="print the version and exit")
    p.set_defaults(func=Lazy("app", "console"))
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
    built: list[str] = []

    def cmd(name: str, help_: str, func: Command) -> argparse.ArgumentParser:
        if wanted is not None and name != wanted:
            return cast(argparse.ArgumentParser, _Unbuilt())
        s = sub.add_parser(name, help=help_, parents=[common], description=help_)
        s.set_defaults(func=func)
        built.append(name)
        return s

    _service(cmd)
    _tickets(cmd)
    _actions(cmd)
    _shaping(cmd)
    _replies(cmd)
    _checks(cmd)
    _auth(cmd, common)
    _silences(cmd)
    _app(cmd)
    return p, built


def _auth(cmd: AddCommand, common: argparse.ArgumentParser) -> None:
    s = cmd("auth", "OAuth2 sign-in for a mailbox or the SMTP identity (Microsoft 365, Gmail)", Lazy("auth", "usage"))
    sub = s.add_subparsers(dest="auth_command", metavar="login|status|logout")
    a = sub.add_parser("login", help="sign in and keep the tokens beside the database (supervisors)", parents=[common])
    a.add_argument("mailbox", nargs="?", metavar="MAILBOX", help="a [[imap]] name, or smtp (default: the only one)")
    a.set_defaults(func=Lazy("auth", "login"))
    a = sub.add_parser("status", help="who is signed in, when the access token expires, whether refresh works",
                       parents=[common])
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=Lazy("auth", "status"))
    a = sub.add_parser("logout", help="forget a mailbox's tokens (supervisors)", parents=[common])
    a.add_argument("mailbox", metavar="MAILBOX")
    a.set_defaults(func=Lazy("auth", "logout"))


def _service(cmd: AddCommand) -> None:
    s = cmd("poll", "run the poller (IMAP IDLE intake, escalation, pages)", Lazy("service", "poll"))
    s.add_argument("--once", action="store_true", help="one full cycle, then exit")
    s.add_argument("-v", "--verbose", action="store_true")
    cmd("ingest", "store one RFC 5322 message from stdin (for an MTA pipe); exit 75 = try later",
        Lazy("ingest", "ingest"))
    s = cmd("init", "write a commented starter config (never over an existing file)", Lazy("service", "init"))
    s.add_argument("path", nargs="?", metavar="PATH", help="where (default: --config, $SUPPORT_CONSOLE_CONFIG, "
                                                           "else the user config path)")
    s.add_argument("--database", action="store_true", help="instead: create the configured database, empty, on "
                                                           "purpose (never over one; see the README, Failover)")
    cmd("replicate", "run Litestream for the configured database ([replicate] url)", Lazy("service", "replication"))
    s = cmd("restore", "restore the database from a replica onto this host (never over an existing database)",
            Lazy("service", "replication"))
    s.add_argument("--from", dest="url", required=True, metavar="URL", help="the replica: s3://, sftp:// or file:///")
    s = cmd("status", "health of intake, scheduler and outbox from the database; exit 1 when degraded",
            Lazy("service", "status"))
    s.add_argument("--json", action="store_true")


def _tickets(cmd: AddCommand) -> None:
    s = cmd("tickets", "list tickets", Lazy("tickets", "tickets"))
    s.add_argument("--json", action="store_true")
    s.add_argument("--open", action="store_true", help="only tickets not resolved")
    s.add_argument("--class", dest="cls", choices=["I", "II", "III"])
    s = cmd("show", "one ticket with its messages and audit events", Lazy("tickets", "show"))
    s.add_argument("ticket")
    s.add_argument("--json", action="store_true")
    s = cmd("unfiled", "auto-replies and bounces that matched no ticket (kept, never dropped)",
            Lazy("tickets", "unfiled"))
    s.add_argument("--json", action="store_true")
    s = cmd("raw", "the stored bytes of one message (for quarantined mail); escaped on a terminal",
            Lazy("tickets", "raw"))
    s.add_argument("message", type=int, metavar="MESSAGE", help="message id (see `show TICKET`)")


def _actions(cmd: AddCommand) -> None:
    for name, help_ in (("ack", "acknowledge: first contact made"), ("take", "take a ticket"),
                        ("reopen", "reopen a resolved ticket")):
        cmd(name, help_, Lazy("ticket_actions", name)).add_argument("ticket")
    s = cmd("assign", "assign or reassign a ticket", Lazy("ticket_actions", "assign"))
    s.add_argument("ticket")
    s.add_argument("handle")
    s = cmd("reclassify", "change a ticket's class; the deadline counts from the original arrival",
            Lazy("ticket_actions", "reclassify"))
    s.add_argument("ticket")
    s.add_argument("cls", metavar="CLASS", type=str.upper, choices=["I", "II", "III"], help="I, II or III")
    s.add_argument("--reason")
    s.add_argument("--panic", action="store_true", help="record a misused Class III for billing (supervisors)")
    s = cmd("resolve", "resolve a ticket", Lazy("ticket_actions", "resolve"))
    s.add_argument("ticket")
    s.add_argument("--note")
    s = cmd("alerts", "the page outbox: pending, sent, failed, expired", Lazy("ticket_actions", "alerts"))
    s.add_argument("--json", action="store_true")
    s.add_argument("--resend", type=int, metavar="ID", help="send an expired or failed page again")


def _shaping(cmd: AddCommand) -> None:
    s = cmd("merge", "merge tickets into TARGET: their mail, notes and history join it (supervisors; undo with "
            "unmerge)", Lazy("shaping", "merge"))
    s.add_argument("target", metavar="TARGET")
    s.add_argument("tickets", nargs="+", metavar="TICKET")
    s.add_argument("--yes", action="store_true", help="merge even when the tickets come from different requesters")
    s = cmd("unmerge", "undo a merge: the ticket comes back as it was, with its own clock and messages",
            Lazy("shaping", "unmerge"))
    s.add_argument("ticket", metavar="TICKET", help="the ticket that was merged into another")
    s = cmd("split", "a new ticket from one message of a ticket (a message id from show --json)",
            Lazy("shaping", "split"))
    s.add_argument("ticket", metavar="TICKET")
    s.add_argument("message", metavar="MESSAGE")
    s.add_argument("--later", action="store_true", help="also move the sender's later mail on the ticket")


def _replies(cmd: AddCommand) -> None:
    s = cmd("reply", "email the requester (threaded, [#N] in the subject): first contact", Lazy("replies", "reply"))
    s.add_argument("ticket")
    s.add_argument("--body-file", metavar="PATH", help="the reply's text (- reads stdin); else $EDITOR on a draft")
    s.add_argument("--template", metavar="NAME", help="a canned reply from [replies] templates (e.g. details)")
    s.add_argument("--resend", type=int, metavar="MAIL", help="send again a failed or cut-short mail (see `show`)")
    s.add_argument("--cc-all", action="store_true", help="copy every Cc of the customer's mail, even past "
                                                         "[replies] max_cc")
    s = cmd("note", "add an internal note to a ticket (never sent)", Lazy("replies", "note"))
    s.add_argument("ticket")
    s.add_argument("--body-file", metavar="PATH", help="the note's text (- reads stdin); else $EDITOR")


def _checks(cmd: AddCommand) -> None:
    cmd("check", "validate config, log in to IMAP, list alert targets", Lazy("checks", "check"))
    s = cmd("test-page", "send a test page to a handle or a tag (primary, secondary, team, supervisors)",
            Lazy("checks", "test_page_command"))
    s.add_argument("target")
    s = cmd("oncall", "who is on call now, and the next handoffs; supervisors can override", Lazy("checks", "oncall"))
    s.add_argument("--json", action="store_true")
    s.add_argument("--set", nargs=2, metavar=("POSITION", "HANDLE"),
                   help="put HANDLE on call as primary or secondary (supervisors)")
    s.add_argument("--until", help="end of the override: 'YYYY-MM-DD HH:MM' (desk time zone) or a duration like 8h")
    s.add_argument("--from", dest="start", help="start of the override (default: now)")
    s = cmd("report", "reports: panic (billing), sla (is the promise kept?)", Lazy("reports", "report"))
    s.add_argument("which", choices=["panic", "sla"])
    s.add_argument("--week", metavar="YYYY-Www", help="sla: that ISO week (default: last week), in the desk's zone")
    s.add_argument("--from", dest="date_from", metavar="DATE", help="sla: first day of the period (with --to)")
    s.add_argument("--to", dest="date_to", metavar="DATE", help="sla: last day of the period (included)")
    s.add_argument("--by", choices=["class", "person", "week"], default="class", help="sla: rows per ...")
    fmt = s.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true", help="sla: CSV")
    fmt.add_argument("--html", action="store_true", help="sla: an HTML page with an inline SVG chart")


def _silences(cmd: AddCommand) -> None:
    s = cmd("silence", "hold pages for a sender, a domain or a subject for a while (supervisors; at most 24h)",
            Lazy("silences", "listing"))
    sub = s.add_subparsers(dest="silence_command", metavar="add|list|end", required=True)
    a = sub.add_parser("add", parents=[_common_options()],
                       help="hold pages of matching tickets; they are paged as one bundle when it ends")
    a.set_defaults(func=Lazy("silences", "add"))
    what = a.add_mutually_exclusive_group(required=True)
    what.add_argument("--sender", metavar="ADDRESS")
    what.add_argument("--domain", metavar="DOMAIN", help="the domain and every domain below it")
    what.add_argument("--subject", metavar="PATTERN", help="a case-insensitive part of the subject, or a pattern "
                                                           "with * and ?")
    a.add_argument("--for", dest="length", required=True, metavar="DURATION", help="how long, e.g. 2h (at most 24h)")
    a.add_argument("--reason", required=True, metavar="TEXT")
    ls = sub.add_parser("list", parents=[_common_options()], help="active silences, then recent ended ones")
    ls.set_defaults(func=Lazy("silences", "listing"))
    ls.add_argument("--json", action="store_true")
    e = sub.add_parser("end", parents=[_common_options()],
                       help="end a silence now: its held pages go out, one bundle per person")
    e.set_defaults(func=Lazy("silences", "end"))
    e.add_argument("id", type=int, metavar="ID")


def _app(cmd: AddCommand) -> None:
    cmd("demo", "the console on a bundled demo mailbox with live deadlines; no server, no config",
        Lazy("app", "demo"))
    s = cmd("screenshots", "regenerate the SVG screenshots", Lazy("app", "screenshots"))
    s.add_argument("dir", nargs="?", default="screenshots")
    s = cmd("serve", "the console in a browser (textual-serve); loopback unless --public", Lazy("app", "serve"))
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 with --public)")
    s.add_argument("--public", action="store_true", help="allow a non-loopback address: textual-serve has no "
                                                         "login, so only behind an authenticating proxy")
    s.add_argument("--demo", action="store_true", help="serve the demo (no config needed)")
    s.add_argument("--public-url", metavar="URL", help="the address browsers use, e.g. the proxy's https:// URL")
