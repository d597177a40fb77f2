"""TOML config -> read-only records. Strict: every error names its key, and unknown keys are refused.

Each field that comes from the file carries its `Key` (kind, TOML name, bounds, choices) in its annotation
and its default beside it, so the defaults are written once (here; the SLA's come from console.policy,
which is the policy). One generic reader (`_read`) checks every table against its record; the few rules
that tie keys together sit with the table they belong to (`_sla`, `_staff`, `_server`, `from_dict`).

The records are NamedTuples, not dataclasses: an MTA starts `ingest` once per mail, and a dataclass
writes and compiles its methods anew in every process.
"""
import ipaddress
import os
import tomllib
from datetime import date, time, timedelta
from email.utils import parseaddr
from functools import cache
from pathlib import Path
from typing import Annotated, Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from console import policy as pol
from store.errors import EX_CONFIG, NeedsFixing

ENV_VAR = "SUPPORT_CONSOLE_CONFIG"


class ConfigError(NeedsFixing):
    """Bad or missing configuration; the message names the key."""

    exit_code = EX_CONFIG


class Key(NamedTuple):
    """How a field is read from the file, given in its annotation: `port: Annotated[int, Key("int")] = 0`."""
    kind: str = "str"
    key: str | None = None  # its TOML name, when not the field's
    choices: tuple = ()
    lo: float | None = None
    hi: float | None = None
    secret: bool = False  # never shown: not in repr(), not in an error about its value


MISSING: Any = object()  # a Field's default when the key is required


class Field(NamedTuple):
    """A key a table reads: the record's field, its default (MISSING: required) and its Key as a dict."""
    name: str
    default: Any
    metadata: dict[str, Any]


@cache
def table_keys(cls: Any) -> tuple[tuple[str, Field], ...]:
    """(TOML key, Field) of every key a table reads, in definition order."""
    out = []
    defaults = cls._field_defaults
    for name, hint in cls.__annotations__.items():
        spec = next((m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Key)), None)
        if spec is not None:
            out.append((spec.key or name, Field(name, defaults.get(name, MISSING), spec._asdict())))
    return tuple(out)


def _hide_secrets(record: Any) -> str:
    """repr() without the secret fields (pager URLs hold tokens; a repr reaches tracebacks and logs)."""
    secret = {f.name for _, f in table_keys(record.__class__) if f.metadata["secret"]}
    shown = ", ".join(f"{name}={value!r}" for name, value in zip(record._fields, record, strict=True)
                      if name not in secret)
    return f"{type(record).__name__}({shown})"


AUTH_CHOICES = ("password", "oauth2")
PROVIDERS = ("microsoft", "google")


class ImapConfig(NamedTuple):
    host: Annotated[str, Key()]
    username: Annotated[str, Key()]
    name: Annotated[str | None, Key()] = None  # shown in status, the header and `auth`; None: username
    security: Annotated[str, Key(choices=("tls", "starttls", "none"))] = "tls"
    port: Annotated[int, Key("int", lo=1, hi=65535)] = 0  # absent: 993 for tls, else 143 (_server fills it in)
    auth: Annotated[str, Key(choices=AUTH_CHOICES)] = "password"
    password_env: Annotated[str | None, Key()] = None
    password_command: Annotated[str | None, Key()] = None
    # OAuth2 (auth = "oauth2"): a known provider, or the endpoints of any other (console/oauth/providers.py)
    provider: Annotated[str | None, Key(choices=PROVIDERS)] = None
    client_id: Annotated[str | None, Key()] = None
    # Google's Desktop clients have one (not a secret there)
    client_secret: Annotated[str | None, Key(secret=True)] = None
    authority: Annotated[str | None, Key("url")] = None
    token_url: Annotated[str | None, Key("url")] = None
    scopes: Annotated[tuple[str, ...], Key("strings")] = ()
    mail_class: Annotated[str | None, Key(key="class", choices=pol.CLASSES)] = None  # every mail here is this class
    from_header: Annotated[str | None, Key(key="from")] = None  # replies to its tickets go out from this address
    folder: Annotated[str, Key()] = "INBOX"
    account: Annotated[str, Key()] = ""  # absent: username@host (_imap fills it in)
    idle: Annotated[bool, Key("bool")] = True
    poll_seconds: Annotated[float, Key("float", lo=1)] = 60.0
    idle_refresh_seconds: Annotated[float, Key("seconds", key="idle_refresh", lo=1, hi=600)] = 540.0
    batch_size: Annotated[int, Key("int", lo=1, hi=5000)] = 500
    timeout_seconds: Annotated[float, Key("float", lo=1)] = 30.0
    max_message_bytes: Annotated[int, Key("size", key="max_message_size")] = 25 * 1024 * 1024
    processed_keyword: Annotated[str | None, Key()] = None  # optional cosmetic IMAP keyword set after commit
    ca_file: Annotated[Path | None, Key("file")] = None  # a private CA or self-signed server

    @property
    def label(self) -> str:
        """The mailbox's name for people and for `auth login NAME`."""
        return self.name or self.username

    def __repr__(self) -> str:  # credentials are never in here, but keep reprs short in logs
        return f"ImapConfig({self.username}@{self.host}:{self.port}/{self.folder}, {self.security})"


class SmtpConfig(NamedTuple):
    host: Annotated[str, Key()]
    from_header: Annotated[str, Key(key="from")]  # "Example Support <support@example.com>"
    security: Annotated[str, Key(choices=("tls", "starttls", "none"))] = "starttls"
    port: Annotated[int, Key("int", lo=1, hi=65535)] = 0  # absent: 465 for tls, 587 for starttls, 25 for none (_server)
    username: Annotated[str | None, Key()] = None
    auth: Annotated[str, Key(choices=AUTH_CHOICES)] = "password"
    password_env: Annotated[str | None, Key()] = None
    password_command: Annotated[str | None, Key()] = None
    provider: Annotated[str | None, Key(choices=PROVIDERS)] = None
    client_id: Annotated[str | None, Key()] = None
    # Google's Desktop clients have one (not a secret there)
    client_secret: Annotated[str | None, Key(secret=True)] = None
    authority: Annotated[str | None, Key("url")] = None
    token_url: Annotated[str | None, Key("url")] = None
    scopes: Annotated[tuple[str, ...], Key("strings")] = ()
    save_to: Annotated[str | None, Key()] = None  # APPEND a copy of each sent mail to this IMAP folder
    timeout_seconds: Annotated[float, Key("float", lo=1)] = 30.0
    ca_file: Annotated[Path | None, Key("file")] = None  # default: [imap] ca_file
    # While the server is unreachable or answers 4xx: retry after this, doubling up to the maximum;
    # a mail that has not gone out after give_up_after is marked failed.
    backoff_seconds: Annotated[float, Key("float", lo=0.1)] = 30.0
    backoff_max_seconds: Annotated[float, Key("float", lo=0.1)] = 600.0
    give_up_after: Annotated[timedelta, Key("duration")] = timedelta(days=2)

    @property
    def from_addr(self) -> str:
        return parseaddr(self.from_header)[1].lower()

    @property
    def from_name(self) -> str:
        return parseaddr(self.from_header)[0]

    def __repr__(self) -> str:
        return f"SmtpConfig({self.username or '-'}@{self.host}:{self.port}, {self.security})"


class Routing(NamedTuple):
    urgent: Annotated[tuple[str, ...], Key("addresses")] = ()
    support: Annotated[tuple[str, ...], Key("addresses")] = ()
    default_class: Annotated[str, Key(choices=pol.CLASSES)] = "I"


class Staff(NamedTuple):
    handle: Annotated[str, Key()]
    name: Annotated[str, Key()] = ""  # absent from the file: the handle (_staff fills it in)
    role: Annotated[str, Key(choices=("staff", "supervisor"))] = "staff"
    notify: Annotated[tuple[str, ...], Key("urls", secret=True)] = ()  # apprise URLs may hold tokens
    # apprise URLs that ring a phone (twilio://...?method=call): added for Class III pages from the team step
    # on (the escalation, the breach, its repeats), the policy's "a lot of phones ring" (dispatch.rings)
    call: Annotated[tuple[str, ...], Key("urls", secret=True)] = ()
    login: Annotated[str | None, Key()] = None  # the operating-system account that acts as this person
    email: Annotated[str | None, Key("address")] = None  # their own address: their mail threads as staff
    signature: Annotated[str | None, Key()] = None  # appended to their replies

    def __repr__(self) -> str:
        return _hide_secrets(self)


class OnCallConfig(NamedTuple):
    rotation: Annotated[tuple[str, ...], Key("strings")] = ()
    handoff: Annotated[str, Key()] = "mon 09:00"
    anchor: Annotated[str, Key("date", key="start")] = "2024-01-01"
    handoff_weekday: int = 0  # derived from handoff
    handoff_time: time = time(9, 0)


class AlertsConfig(NamedTuple):
    heartbeat_url: Annotated[str | None, Key("url", secret=True)] = None
    max_attempts: Annotated[int, Key("int", lo=1)] = 8
    send_timeout_seconds: Annotated[float, Key("float", lo=0.1)] = 20.0
    backoff_seconds: Annotated[float, Key("float", lo=0)] = 5.0
    backoff_max_seconds: Annotated[float, Key("float", lo=0)] = 300.0
    # desk-wide targets that get every page (tag "desk")
    channels: Annotated[tuple[str, ...], Key("urls", secret=True)] = ()
    intake_stale_after: Annotated[timedelta, Key("duration")] = timedelta(minutes=5)
    ack_listen: Annotated[str, Key("hostport")] = "127.0.0.1:8025"
    ack_base_url: Annotated[str | None, Key("url")] = None  # the links' prefix, as phones reach them
    ack_link_lifetime: Annotated[timedelta, Key("duration")] = timedelta(hours=24)
    # The link server under abuse (console.web.ack_server): whose X-Forwarded-For it believes, how long a
    # connection may take to send its request, and how many may be open at once.
    trusted_proxies: Annotated[tuple[str, ...], Key("networks")] = ()
    ack_request_timeout: Annotated[timedelta, Key("duration", lo=0.1, hi=300)] = timedelta(seconds=10)
    ack_max_connections: Annotated[int, Key("int", lo=4, hi=100_000)] = 128
    # More pages of one sender group's tickets for one person within this long of the last are sent as
    # one bundle at its end ("0s": every page alone).
    bundle_window: Annotated[timedelta, Key("duration", lo=0)] = timedelta(minutes=2)

    def __repr__(self) -> str:
        return _hide_secrets(self)

    @property
    def ack_host(self) -> str:
        return self.ack_listen.rpartition(":")[0].strip("[]")

    @property
    def ack_port(self) -> int:
        return int(self.ack_listen.rpartition(":")[2])


class RepliesConfig(NamedTuple):
    receipt: Annotated[bool, Key("bool")] = False  # "we have your request #N" on a new ticket
    receipt_window: Annotated[timedelta, Key("duration")] = timedelta(hours=1)  # one receipt per sender per window
    details_request: Annotated[bool, Key("bool")] = False  # send "we need details" to call-me-only mail on arrival
    templates: Annotated[Path | None, Key("dir")] = None  # NAME.txt canned replies (None: the bundled ones)
    # The receiving MTA's authserv-id in Authentication-Results: automatic mail goes only to senders that
    # pass DMARC (or an aligned SPF/DKIM where the domain has no DMARC policy) by its verdict. None: no check.
    trusted_authserv_id: Annotated[str | None, Key()] = None
    # Desk-wide caps on automatic mail (receipts, details requests) in any hour: all of it, and to one domain.
    automatic_per_hour: Annotated[int, Key("int", lo=0)] = 30
    automatic_per_domain_per_hour: Annotated[int, Key("int", lo=0)] = 10
    max_cc: Annotated[int, Key("int", lo=0)] = 20  # a reply copies at most this many Cc addresses (reply --cc-all: all)


class ReplicateConfig(NamedTuple):
    """[replicate]: Litestream streams the database to `url` (console.replication). Credentials come from
    the environment only: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for S3, `password_env` for SFTP."""
    url: Annotated[str, Key()]  # s3://bucket/path, sftp://user@host/path or file:///dir
    # `status` is degraded when the replica lags more
    max_lag: Annotated[timedelta, Key("duration")] = timedelta(minutes=1)
    # how often Litestream ships new changes
    sync_interval: Annotated[timedelta, Key("duration")] = timedelta(seconds=1)
    endpoint: Annotated[str | None, Key()] = None  # an S3-compatible service's URL (MinIO, R2, ...)
    region: Annotated[str | None, Key()] = None
    key_path: Annotated[str | None, Key()] = None  # SFTP: the private key's file
    password_env: Annotated[str | None, Key()] = None  # SFTP: the variable holding the password

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0]


class ReportsConfig(NamedTuple):
    # "mon 08:00": mail the supervisors last week's SLA report then (desk time)
    weekly: Annotated[str | None, Key()] = None
    weekly_weekday: int = 0  # derived from weekly
    weekly_time: time = time(8, 0)


class ConsoleConfig(NamedTuple):
    operator: Annotated[str | None, Key()] = None
    # [console.keys]: binding id -> keys, checked against the console's keys (console.keymap) when loaded.
    keys: tuple[tuple[str, str], ...] = ()


class Config(NamedTuple):
    path: Path | None
    timezone: ZoneInfo
    store_path: Path
    imap: ImapConfig | None
    routing: Routing
    sla: pol.SlaPolicy
    staff: tuple[Staff, ...]
    oncall: OnCallConfig
    alerts: AlertsConfig
    console: ConsoleConfig
    smtp: SmtpConfig | None = None
    replies: RepliesConfig = RepliesConfig()
    replicate: ReplicateConfig | None = None
    reports: ReportsConfig = ReportsConfig()
    imaps: tuple[ImapConfig, ...] = ()  # every mailbox ([[imap]]); `imap` is the first (or the one [imap])

    def mailbox(self, name: str) -> ImapConfig | None:
        return next((m for m in self.imaps if m.label == name), None)

    def person(self, handle: str) -> Staff | None:
        return next((s for s in self.staff if s.handle == handle), None)

    def by_login(self, login: str) -> Staff | None:
        return next((s for s in self.staff if s.login == login), None)

    def by_email(self, address: str) -> Staff | None:
        address = address.lower()
        return next((s for s in self.staff if s.email == address), None)

    @property
    def uses_logins(self) -> bool:
        return any(s.login for s in self.staff)

    @property
    def staff_addresses(self) -> frozenset[str]:
        """The staff's own addresses ([[staff]] email): their mail threads as staff."""
        return frozenset(s.email for s in self.staff if s.email)

    @property
    def desk_addresses(self) -> frozenset[str]:
        """Every address that is the desk itself (mail from one of these is our own)."""
        own = {*self.routing.urgent, *self.routing.support}
        own.update(parseaddr(m.from_header)[1].lower() for m in self.imaps if m.from_header)
        if self.smtp is not None:
            own.add(self.smtp.from_addr)
        return frozenset(own)


def default_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("support-console")) / "config.toml"


def resolve_path(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return default_path()


def load(path: Path, *, check_urls: bool = True) -> Config:
    """Read and validate. `check_urls=False` skips asking apprise about notify URLs (~0.2 s): `ingest`
    takes mail in, and a pager typo must not make the MTA defer it."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path} (pass --config PATH or set ${ENV_VAR}; "
                          "`support-console init` writes a starter, `support-console demo` runs without one)") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return from_dict(data, path=path, check_urls=check_urls)


# --- the generic reader ---------------------------------------------------------------------------

def _reject_unknown(t: dict, known, where: str) -> None:
    known = list(known)
    for k in t:
        if k in known:
            continue
        import difflib  # only for the "did you mean" of a refused key

        close = difflib.get_close_matches(k, known, n=1, cutoff=0.6) or \
            [c for c in known if c.lower() == str(k).lower()]
        hint = f"did you mean {close[0]}?" if close else "known keys: " + ", ".join(known)
        raise ConfigError(f"{where}{k}: unknown key ({hint})")


def _table(d: dict, key: str, where: str = "") -> dict:
    v = d.get(key, {})
    if not isinstance(v, dict):
        raise ConfigError(f"{where}{key}: expected a table ([{where}{key}])")
    return v


def _read(cls, t: dict, where: str, base: Path | None, extra_known: tuple[str, ...] = ()) -> dict:
    """The fields of `cls` found in table `t`, converted and checked; absent ones keep their default."""
    spec = dict(table_keys(cls))
    _reject_unknown(t, [*spec, *extra_known], where)
    out = {}
    for key, f in spec.items():
        if key not in t:
            if f.default is MISSING:
                raise ConfigError(f"{where}{key}: required key is missing")
            continue
        out[f.name] = _convert(t[key], f.metadata, f"{where}{key}", base)
    return out


_TYPE_WORDS = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false"}


def _convert(v: Any, md: dict, name: str, base: Path | None) -> Any:
    if md.get("secret"):
        try:
            return _convert(v, {**md, "secret": False}, name, base)
        except ConfigError as exc:  # a mistyped pager URL still holds its token: never echo the value
            raise ConfigError(str(exc).split(", got ", 1)[0] + " (value not shown: it may hold a token)") from None
    kind = md["kind"]
    if kind in ("str", "int", "float", "bool"):
        return _scalar(v, md, name)
    if kind in ("duration", "seconds"):
        td = _duration(v, name, zero=md["lo"] == 0)
        _bounds(td.total_seconds(), md, name, v, unit="s")
        return td.total_seconds() if kind == "seconds" else td
    if kind == "size":
        return _size(v, name)
    if kind == "date":
        return _date(v, name)
    if kind in ("file", "dir"):
        return _path(v, kind, name, base)
    if kind in ("hostport", "url", "address"):
        return _text(v, kind, name)
    return _strings(v, kind, name)


def _scalar(v: Any, md: dict, name: str) -> Any:
    kind = md["kind"]
    ok = {"str": isinstance(v, str), "bool": isinstance(v, bool),
          "int": isinstance(v, int) and not isinstance(v, bool),
          "float": isinstance(v, (int, float)) and not isinstance(v, bool)}[kind]
    if not ok:
        raise ConfigError(f"{name}: expected {_TYPE_WORDS[kind]}, got {type(v).__name__} {v!r}")
    if kind == "float":
        v = float(v)
    if md["choices"] and v not in md["choices"]:
        raise ConfigError(f"{name}: must be {_either(md['choices'])}, got {v!r}")
    _bounds(v, md, name, str(v))
    return v


def _date(v: Any, name: str) -> str:
    if isinstance(v, date):
        return v.isoformat()
    try:
        return date.fromisoformat(v).isoformat()
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a date like 2026-01-05, got {v!r}") from None


def _path(v: Any, kind: str, name: str, base: Path | None) -> Path:
    """A file or directory that must exist; relative to the config file's folder."""
    if not isinstance(v, str) or not v:
        raise ConfigError(f"{name}: expected a path, got {v!r}")
    p = Path(v).expanduser()
    if not p.is_absolute() and base is not None:
        p = base / p
    if not (p.is_file() if kind == "file" else p.is_dir()):
        raise ConfigError(f"{name}: no such {'file' if kind == 'file' else 'directory'}: {p}")
    return p


def _text(v: Any, kind: str, name: str) -> str:
    """One string of a shape: host:port, a URL, an email address."""
    if kind == "hostport":
        host, sep, port = v.rpartition(":") if isinstance(v, str) else ("", "", "")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{name}: expected host:port such as \"127.0.0.1:8025\", got {v!r}")
        return v
    if kind == "url":
        if not isinstance(v, str) or "://" not in v:
            raise ConfigError(f"{name}: expected a URL (scheme://...), got {v!r}")
        return v
    if not isinstance(v, str) or "@" not in v or any(c.isspace() for c in v.strip()):
        raise ConfigError(f"{name}: expected an email address, got {v!r}")
    return v.strip().lower()


def _strings(v: Any, kind: str, name: str) -> tuple[str, ...]:
    """A list of strings (one string is a list of one for addresses and URLs), checked by kind."""
    if isinstance(v, str) and kind in ("addresses", "urls"):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{name}: expected a list of strings, got {v!r}")
    if kind == "addresses":
        bad = [a for a in v if "@" not in a or any(c.isspace() for c in a.strip())]
        if bad:
            raise ConfigError(f"{name}: expected a list of email addresses, got {bad[0]!r}")
        return tuple(a.strip().lower() for a in v)
    if kind == "networks":  # IP addresses or networks ("10.0.0.0/8"), kept in their normal spelling
        out = []
        for x in v:
            try:
                out.append(str(ipaddress.ip_network(x.strip(), strict=False)))
            except ValueError:
                raise ConfigError(f"{name}: expected IP addresses or networks such as \"127.0.0.1\" or "
                                  f"\"10.0.0.0/8\", got {x!r}") from None
        return tuple(out)
    if kind == "urls":
        bad = [u for u in v if "://" not in u]
        if bad:
            raise ConfigError(f"{name}: expected a list of apprise URLs (scheme://...), got {bad[0]!r}")
    return tuple(v)


def _either(choices: tuple) -> str:
    quoted = [f'"{c}"' for c in choices]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]


def _bounds(v: float, md: dict, name: str, shown: Any, unit: str = "") -> None:
    lo, hi = md["lo"], md["hi"]
    if lo is not None and v < lo:
        raise ConfigError(f"{name}: must be at least {lo:g}{unit}, got {shown}")
    if hi is not None and v > hi:
        raise ConfigError(f"{name}: must be at most {hi:g}{unit}, got {shown}")


def _duration(v: Any, name: str, zero: bool = False) -> timedelta:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        n = int(v) if float(v).is_integer() else v
        raise ConfigError(f"{name}: a duration needs a unit: write \"{n}h\", \"{n}m\" or \"{n}s\" (got {v!r})")
    if not isinstance(v, str):
        raise ConfigError(f"{name}: expected a duration such as \"15m\" or \"8h\", got {v!r}")
    try:
        td = pol.parse_duration(v)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    if td < timedelta(0) or (td == timedelta(0) and not zero):
        raise ConfigError(f"{name}: must be positive, got {v!r}")
    return td


def _size(v: Any, name: str) -> int:
    if isinstance(v, int) and not isinstance(v, bool) and v > 0:
        return v
    if isinstance(v, str):
        s = v.strip().upper()
        for suffix, mult in (("KB", 1024), ("MB", 1024**2), ("GB", 1024**3), ("B", 1)):
            if s.endswith(suffix) and s[: -len(suffix)].strip().isdigit():
                return int(s[: -len(suffix)]) * mult
    raise ConfigError(f"{name}: expected a size such as \"25MB\", got {v!r}")


def _zone(name: Any, key: str) -> ZoneInfo:
    if not isinstance(name, str):
        raise ConfigError(f"{key}: expected an IANA time zone name such as \"America/Phoenix\", got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{key}: unknown time zone {name!r}") from None


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (localhost, 127.0.0.0/8, ::1, "[::1]")."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- the tables -----------------------------------------------------------------------------------

def _server(cls, t: dict, w: str, base: Path | None, ports: dict[str, int]) -> dict:
    """What IMAP and SMTP share: security rules, the port's default, and where the password comes from."""
    if "password" in t:
        raise ConfigError(f"{w}password: plain passwords are not read from the config; use password_env or "
                          "password_command")
    v = _read(cls, t, w, base)
    security = v.get("security", cls._field_defaults["security"])
    host = v["host"]
    if security == "none" and not is_loopback(host):
        raise ConfigError(f"{w}security: \"none\" is only allowed for a loopback host, not {host!r}")
    v.setdefault("port", ports[security])
    if v.get("password_env") and v.get("password_command"):
        raise ConfigError(f"{w}password_command: set password_env or password_command, not both")
    return v


def _oauth(v: dict, w: str) -> None:
    """oauth2 needs a provider or the endpoints of one, and a client id; password keys make no sense there."""
    if v.get("auth", "password") != "oauth2":
        return  # the OAuth2 keys wait, unused, until auth = "oauth2"
    if v.get("password_env") or v.get("password_command"):
        raise ConfigError(f"{w}password_env: with auth = \"oauth2\" there is no password (run support-console "
                          "auth login)")
    if not v.get("client_id"):
        raise ConfigError(f"{w}client_id: auth = \"oauth2\" needs the application (client) id of the desk's "
                          "app registration")
    if not v.get("provider") and not (v.get("authority") or v.get("token_url")):
        raise ConfigError(f"{w}provider: auth = \"oauth2\" needs provider = \"microsoft\" or \"google\", or "
                          "authority (or token_url) and scopes for another provider")
    if not v.get("provider") and not v.get("scopes"):
        raise ConfigError(f"{w}scopes: without a known provider, say which scopes to ask for")


def _one_imap(t: Any, w: str, base: Path | None) -> ImapConfig:
    if not isinstance(t, dict):
        raise ConfigError(f"{w[:-1]}: expected a table")
    v = _server(ImapConfig, t, w, base, {"tls": 993, "starttls": 143, "none": 143})
    _oauth(v, w)
    if v.get("auth", "password") == "password" and not v.get("password_env") and not v.get("password_command"):
        raise ConfigError(f"{w}password_env: set password_env (an environment variable name) or password_command")
    if v.get("from_header") is not None and "@" not in parseaddr(v["from_header"])[1]:
        raise ConfigError(f"{w}from: expected an address, e.g. \"Urgent <urgent@example.com>\", "
                          f"got {v['from_header']!r}")
    v.setdefault("account", f"{v['username']}@{v['host']}")
    return ImapConfig(**v)


def _imaps(d: dict, base: Path | None) -> tuple[ImapConfig, ...]:
    """[imap] as one table (the original form) or [[imap]], a list of mailboxes."""
    if "imap" not in d:
        return ()
    raw = d["imap"]
    if isinstance(raw, dict):
        return (_one_imap(raw, "imap.", base),)
    if not isinstance(raw, list) or not raw:
        raise ConfigError("imap: expected an [imap] table or [[imap]] tables")
    out: list[ImapConfig] = []
    for i, t in enumerate(raw):
        w = f"imap[{i}]."
        if len(raw) > 1 and isinstance(t, dict) and "name" not in t:
            raise ConfigError(f"{w}name: with several mailboxes each needs a name (e.g. \"support\")")
        m = _one_imap(t, w, base)
        for other in out:
            if m.label == other.label:
                raise ConfigError(f"{w}name: {m.label!r} is already another mailbox's name")
            if (m.account, m.folder) == (other.account, other.folder):
                raise ConfigError(f"{w}folder: {m.account}/{m.folder} is already mailbox {other.label!r}")
        out.append(m)
    return tuple(out)


def _imap(d: dict, base: Path | None) -> ImapConfig | None:
    found = _imaps(d, base)
    return found[0] if found else None


def _smtp(d: dict, base: Path | None, imap: ImapConfig | None) -> SmtpConfig | None:
    if "smtp" not in d:
        return None
    v = _server(SmtpConfig, _table(d, "smtp"), "smtp.", base, {"tls": 465, "starttls": 587, "none": 25})
    _oauth(v, "smtp.")
    if v.get("auth", "password") == "oauth2" and not v.get("username"):
        raise ConfigError("smtp.username: auth = \"oauth2\" needs the account that sends (e.g. support@example.com)")
    if v.get("auth", "password") == "password" and v.get("username") and not v.get("password_env") \
            and not v.get("password_command"):
        raise ConfigError("smtp.password_env: with smtp.username set, set password_env or password_command")
    name, addr = parseaddr(v["from_header"])
    if "@" not in addr:
        raise ConfigError(f"smtp.from: expected the desk's address, e.g. \"Example Support <support@example.com>\", "
                          f"got {v['from_header']!r}")
    if "ca_file" not in v and imap is not None and imap.ca_file is not None:
        v["ca_file"] = imap.ca_file
    if v.get("save_to") is not None and imap is None:
        raise ConfigError("smtp.save_to: saving a copy of sent mail needs an [imap] table (the mailbox to save it in)")
    smtp = SmtpConfig(**v)
    if smtp.backoff_max_seconds < smtp.backoff_seconds:
        raise ConfigError(f"smtp.backoff_max_seconds: must not be below backoff_seconds ({smtp.backoff_seconds:g})")
    return smtp


_POLICY = pol.SlaPolicy()  # the policy's own values are the defaults


class _SlaKeys(NamedTuple):
    I: Annotated[timedelta, Key("duration")] = _POLICY.targets["I"]  # noqa: E741 - the policy's class names
    II: Annotated[timedelta, Key("duration")] = _POLICY.targets["II"]
    III: Annotated[timedelta, Key("duration")] = _POLICY.targets["III"]
    III_escalate_after: Annotated[timedelta, Key("duration")] = _POLICY.escalate_after
    III_repeat_every: Annotated[timedelta, Key("duration")] = _POLICY.repeat_every
    warn_fraction: Annotated[float, Key("float")] = _POLICY.warn_fraction


def _sla(d: dict, tz: ZoneInfo) -> pol.SlaPolicy:
    t = _table(d, "sla")
    k = _SlaKeys(**_read(_SlaKeys, t, "sla.", None, extra_known=("business_hours",)))
    if not 0 < k.warn_fraction < 1:
        raise ConfigError(f"sla.warn_fraction: must be between 0 and 1, got {k.warn_fraction:g}")
    if k.III_escalate_after >= k.III:
        raise ConfigError(f"sla.III_escalate_after: must be shorter than the Class III target "
                          f"(sla.III = {pol.format_duration(k.III)}), got {pol.format_duration(k.III_escalate_after)}")
    hours = {}
    bh = _table(t, "business_hours", "sla.")
    for cls, spec in bh.items():
        if cls not in pol.CLASSES:
            raise ConfigError(f"sla.business_hours.{cls}: unknown class (use I, II or III)")
        hours[cls] = _business_hours(spec, f"sla.business_hours.{cls}.", tz)
    return pol.SlaPolicy(targets={"I": k.I, "II": k.II, "III": k.III}, escalate_after=k.III_escalate_after,
                         repeat_every=k.III_repeat_every, warn_fraction=k.warn_fraction, business_hours=hours)


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _business_hours(spec: Any, w: str, tz: ZoneInfo) -> pol.BusinessHours:
    if not isinstance(spec, dict):
        raise ConfigError(f"{w[:-1]}: expected a table with days = \"mon-fri\", hours = \"09:00-17:00\"")
    _reject_unknown(spec, ["days", "hours", "holidays", "timezone"], w)
    zone = _zone(spec.get("timezone", tz.key), f"{w}timezone")
    days = spec.get("days", "mon-fri")
    try:
        days = days.lower()
        if "-" in days:
            a, b = days.split("-")
            ds = list(range(_DAYS.index(a.strip()), _DAYS.index(b.strip()) + 1))
        else:
            ds = [_DAYS.index(x.strip()) for x in days.split(",")]
    except (AttributeError, ValueError):
        raise ConfigError(f"{w}days: expected e.g. \"mon-fri\" or \"mon,wed,fri\", got {days!r}") from None
    hours = spec.get("hours", "09:00-17:00")
    try:
        s, e = (time.fromisoformat(x.strip()) for x in hours.split("-"))
        if e <= s:
            raise ValueError
    except (AttributeError, ValueError):
        raise ConfigError(f"{w}hours: expected \"HH:MM-HH:MM\" with start before end, got {hours!r}") from None
    hol = spec.get("holidays", [])
    try:
        holidays = frozenset(h if isinstance(h, date) else date.fromisoformat(h) for h in hol)
    except (TypeError, ValueError):
        raise ConfigError(f"{w}holidays: expected a list of dates like 2026-12-25, got {hol!r}") from None
    return pol.BusinessHours(tz=zone, weekly={d: (s, e) for d in ds}, holidays=holidays)


def _staff(d: dict) -> tuple[Staff, ...]:
    v = d.get("staff", [])
    if not isinstance(v, list):
        raise ConfigError("staff: expected [[staff]] tables")
    out: list[Staff] = []
    for i, t in enumerate(v):
        w = f"staff[{i}]."
        if not isinstance(t, dict):
            raise ConfigError(f"staff[{i}]: expected a table")
        s = _read(Staff, t, w, None)
        handle = s["handle"]
        if not handle or not handle.replace("-", "").replace("_", "").replace(".", "").isalnum() \
                or not handle.isascii():
            raise ConfigError(f"{w}handle: must be letters, digits, '-', '_' or '.', got {handle!r}")
        for other in out:
            for attr in ("handle", "login", "email"):
                if s.get(attr) is not None and s.get(attr) == getattr(other, attr):
                    raise ConfigError(f"{w}{attr}: {s[attr]!r} is already {other.handle}'s")
        s.setdefault("name", handle)
        out.append(Staff(**s))
    return tuple(out)


def _oncall(d: dict, staff: tuple[Staff, ...]) -> OnCallConfig:
    v = _read(OnCallConfig, _table(d, "oncall"), "oncall.", None)
    known = {s.handle for s in staff}
    for h in v.get("rotation", ()):
        if h not in known:
            raise ConfigError(f"oncall.rotation: {h!r} is not a [[staff]] handle")
    try:
        wd, at = pol.parse_handoff(v["handoff"] if "handoff" in v else OnCallConfig._field_defaults["handoff"])
    except ValueError as exc:
        raise ConfigError(f"oncall.handoff: {exc}") from None
    return OnCallConfig(**v, handoff_weekday=wd, handoff_time=at)


def _reports(d: dict, smtp: SmtpConfig | None) -> ReportsConfig:
    v = _read(ReportsConfig, _table(d, "reports"), "reports.", None)
    if v.get("weekly") is None:
        return ReportsConfig(**v)
    try:
        wd, at = pol.parse_handoff(v["weekly"])
    except ValueError as exc:
        raise ConfigError(f"reports.weekly: {exc}") from None
    if smtp is None:
        raise ConfigError("reports.weekly: the digest is mailed: it needs an [smtp] table")
    return ReportsConfig(**v, weekly_weekday=wd, weekly_time=at)


def _alerts(d: dict) -> AlertsConfig:
    v = _read(AlertsConfig, _table(d, "alerts"), "alerts.", None)
    a = AlertsConfig(**v)
    if a.backoff_max_seconds < a.backoff_seconds:
        raise ConfigError(f"alerts.backoff_max_seconds: must not be below backoff_seconds ({a.backoff_seconds:g})")
    if a.ack_base_url is not None and not a.ack_base_url.startswith(("http://", "https://")):
        raise ConfigError(f"alerts.ack_base_url: expected an http:// or https:// URL, got {a.ack_base_url!r}")
    return a


def _replicate(d: dict) -> ReplicateConfig | None:
    if "replicate" not in d:
        return None
    r = ReplicateConfig(**_read(ReplicateConfig, _table(d, "replicate"), "replicate.", None))
    from urllib.parse import urlsplit

    parts = urlsplit(r.url)
    if parts.scheme not in ("s3", "sftp", "file"):
        raise ConfigError(f"replicate.url: expected an s3://, sftp:// or file:/// URL, got {parts.scheme or r.url!r}")
    if parts.password is not None:  # never a secret in the config file: it is read by everyone on the desk
        raise ConfigError("replicate.url: no password in the URL (value not shown); put it in an environment "
                          "variable and name that in replicate.password_env")
    if parts.scheme == "file" and (parts.netloc or not parts.path.startswith("/")):
        raise ConfigError(f"replicate.url: a file URL needs an absolute path (file:///var/backups/desk), got {r.url!r}")
    if (r.key_path or r.password_env) and parts.scheme != "sftp":
        raise ConfigError("replicate.key_path and password_env are for sftp:// URLs")
    if (r.endpoint or r.region) and parts.scheme != "s3":
        raise ConfigError("replicate.endpoint and region are for s3:// URLs")
    return r


def _check_urls(cfg: Config) -> None:
    """Ask apprise whether it can use each notify URL (it imports its plugins: only when paging matters)."""
    import apprise

    from console import logs, redact

    where = [(f"staff[{i}].notify", u) for i, s in enumerate(cfg.staff) for u in s.notify]
    where += [(f"staff[{i}].call", u) for i, s in enumerate(cfg.staff) for u in s.call]
    where += [("alerts.channels", u) for u in cfg.alerts.channels]
    logs.add_secrets(redact.secrets_of(u for _, u in where))  # apprise's complaint about a URL quotes it
    probe = apprise.Apprise()
    for name, url in where:
        try:
            ok = probe.add(url)
        except Exception:  # noqa: BLE001 - apprise 2.3 raises IndexError on some malformed URLs (tgram://x@/)
            ok = False
        if not ok:
            scheme = url.split("://", 1)[0]
            raise ConfigError(f"{name}: apprise cannot use this {scheme}:// URL (unknown service or malformed; "
                              "see https://github.com/caronc/apprise/wiki)")


# The tables a config file may hold besides timezone and [store], in the order `init` writes them:
# (name, the record that defines its keys, whether it is a list of tables).
TABLES: tuple[tuple[str, type, bool], ...] = (
    ("imap", ImapConfig, False), ("smtp", SmtpConfig, False), ("routing", Routing, False), ("sla", _SlaKeys, False),
    ("staff", Staff, True), ("oncall", OnCallConfig, False), ("alerts", AlertsConfig, False),
    ("replies", RepliesConfig, False), ("reports", ReportsConfig, False), ("console", ConsoleConfig, False),
    ("replicate", ReplicateConfig, False),
)


def _console(data: dict, base: Path | None) -> ConsoleConfig:
    t = _table(data, "console")
    out = _read(ConsoleConfig, t, "console.", base, extra_known=("keys",))
    keys = _table(t, "keys", "console.")
    if not keys:  # the console's key registry is read only for a remapping to check (not by `ingest`)
        return ConsoleConfig(**out, keys=())
    from console import keymap

    try:
        remap = keymap.check(keys)
    except keymap.KeymapError as exc:
        raise ConfigError(str(exc)) from None
    return ConsoleConfig(**out, keys=tuple(remap.items()))


def from_dict(data: dict, *, path: Path | None = None, check_urls: bool = False) -> Config:
    _reject_unknown(data, ["timezone", "store", *(name for name, _, _ in TABLES)], "")
    base = path.parent if path is not None else None
    tz = _zone(data.get("timezone", "UTC"), "timezone")
    store = _table(data, "store")
    _reject_unknown(store, ["path"], "store.")
    sp = store.get("path", "support.db")
    if not isinstance(sp, str) or not sp:
        raise ConfigError(f"store.path: expected a path, got {sp!r}")
    store_path = Path(sp).expanduser()
    if not store_path.is_absolute() and base is not None:
        store_path = base / store_path
    routing = Routing(**_read(Routing, _table(data, "routing"), "routing.", base))
    both = sorted(set(routing.urgent) & set(routing.support))
    if both:
        raise ConfigError(f"routing.support: {both[0]} is also in routing.urgent; an address has one class")
    staff = _staff(data)
    imaps = _imaps(data, base)
    imap = imaps[0] if imaps else None
    cfg = Config(
        path=path, timezone=tz, store_path=store_path, imap=imap, routing=routing, sla=_sla(data, tz),
        staff=staff, oncall=_oncall(data, staff), alerts=_alerts(data),
        console=_console(data, base),
        smtp=_smtp(data, base, imap),
        replies=RepliesConfig(**_read(RepliesConfig, _table(data, "replies"), "replies.", base)),
        replicate=_replicate(data),
        imaps=imaps,
    )
    cfg = cfg._replace(reports=_reports(data, cfg.smtp))
    desk = cfg.desk_addresses
    for i, s in enumerate(staff):
        if s.email in desk:
            raise ConfigError(f"staff[{i}].email: {s.email} is one of the desk's own addresses")
    if check_urls:
        _check_urls(cfg)
    return cfg
