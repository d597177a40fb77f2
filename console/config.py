"""TOML config -> frozen dataclasses. Every error names the key and what is wrong with it."""
from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from console import policy as pol

ENV_VAR = "SUPPORT_CONSOLE_CONFIG"


class ConfigError(Exception):
    """Bad or missing configuration; the message names the key."""


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    security: str
    username: str
    password_env: str | None
    password_command: str | None
    folder: str
    account: str
    idle: bool = True
    poll_seconds: float = 60.0
    idle_refresh_seconds: float = 540.0
    batch_size: int = 500
    timeout_seconds: float = 30.0
    max_message_bytes: int = 25 * 1024 * 1024
    processed_keyword: str | None = None  # optional cosmetic IMAP keyword set after commit
    ca_file: Path | None = None  # trust this CA for IMAP (a private CA, a self-signed server)

    def __repr__(self) -> str:  # credentials are never in here, but keep reprs short in logs
        return f"ImapConfig({self.username}@{self.host}:{self.port}/{self.folder}, {self.security})"


@dataclass(frozen=True)
class Routing:
    urgent: tuple[str, ...] = ()
    support: tuple[str, ...] = ()
    default_class: str = "I"


@dataclass(frozen=True)
class Staff:
    handle: str
    name: str
    role: str
    notify: tuple[str, ...] = field(default=(), repr=False)  # apprise URLs may hold tokens


@dataclass(frozen=True)
class OnCallConfig:
    rotation: tuple[str, ...] = ()
    handoff_weekday: int = 0
    handoff_time: time = time(9, 0)
    anchor: str = "2024-01-01"


@dataclass(frozen=True)
class AlertsConfig:
    heartbeat_url: str | None = field(default=None, repr=False)
    max_attempts: int = 8
    send_timeout_seconds: float = 20.0
    backoff_seconds: float = 5.0
    backoff_max_seconds: float = 300.0
    channels: tuple[str, ...] = field(default=(), repr=False)  # extra apprise URLs that get every page (tag "desk")
    intake_stale_after: timedelta = timedelta(minutes=5)  # page the supervisors when intake has not synced for this


@dataclass(frozen=True)
class ConsoleConfig:
    operator: str | None = None


@dataclass(frozen=True)
class Config:
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

    def person(self, handle: str) -> Staff | None:
        return next((s for s in self.staff if s.handle == handle), None)


def default_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("support-console")) / "config.toml"


def resolve_path(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return default_path()


def load(path: Path) -> Config:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path} (pass --config PATH or set ${ENV_VAR}; "
                          "`support-console demo` runs without one)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return from_dict(data, path=path)


# --- validation helpers -------------------------------------------------------------------------

def _get(d: dict, key: str, typ, where: str, default=..., allow_none=False):
    if key not in d:
        if default is ...:
            raise ConfigError(f"{where}{key}: required key is missing")
        return default
    v = d[key]
    if allow_none and v is None:
        return v
    if typ is float and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
        names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise ConfigError(f"{where}{key}: expected {names}, got {type(v).__name__} {v!r}")
    return v


def _table(d: dict, key: str, where: str = "") -> dict:
    v = d.get(key, {})
    if not isinstance(v, dict):
        raise ConfigError(f"{where}{key}: expected a table ([{key}])")
    return v


def _duration(d: dict, key: str, where: str, default: timedelta) -> timedelta:
    if key not in d:
        return default
    v = d[key]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if v <= 0:
            raise ConfigError(f"{where}{key}: must be positive, got {v}")
        return timedelta(seconds=v)
    if not isinstance(v, str):
        raise ConfigError(f"{where}{key}: expected a duration such as \"15m\" or \"8h\", got {v!r}")
    try:
        td = pol.parse_duration(v)
    except ValueError as exc:
        raise ConfigError(f"{where}{key}: {exc}") from None
    if td <= timedelta(0):
        raise ConfigError(f"{where}{key}: must be positive, got {v!r}")
    return td


def _addresses(d: dict, key: str, where: str) -> tuple[str, ...]:
    v = d.get(key, [])
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(a, str) and "@" in a for a in v):
        raise ConfigError(f"{where}{key}: expected a list of email addresses, got {v!r}")
    return tuple(a.strip().lower() for a in v)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _size(d: dict, key: str, where: str, default: int) -> int:
    v = d.get(key, default)
    if isinstance(v, int) and not isinstance(v, bool) and v > 0:
        return v
    if isinstance(v, str):
        s = v.strip().upper()
        for suffix, mult in (("KB", 1024), ("MB", 1024**2), ("GB", 1024**3), ("B", 1)):
            if s.endswith(suffix) and s[: -len(suffix)].strip().isdigit():
                return int(s[: -len(suffix)]) * mult
    raise ConfigError(f"{where}{key}: expected a size such as \"25MB\", got {v!r}")


def _imap(d: dict) -> ImapConfig | None:
    if "imap" not in d:
        return None
    t = _table(d, "imap")
    w = "imap."
    host = _get(t, "host", str, w)
    security = _get(t, "security", str, w, "tls")
    if security not in ("tls", "starttls", "none"):
        raise ConfigError(f"imap.security: must be \"tls\", \"starttls\" or \"none\", got {security!r}")
    if security == "none" and not _is_loopback(host):
        raise ConfigError(f"imap.security: \"none\" is only allowed for a loopback host, not {host!r}")
    port = _get(t, "port", int, w, 993 if security == "tls" else 143)
    if not 0 < port < 65536:
        raise ConfigError(f"imap.port: must be 1-65535, got {port}")
    if "password" in t:
        raise ConfigError("imap.password: plain passwords are not read from the config; use password_env or "
                          "password_command")
    penv = _get(t, "password_env", str, w, None, allow_none=True)
    pcmd = _get(t, "password_command", str, w, None, allow_none=True)
    if not penv and not pcmd:
        raise ConfigError("imap.password_env: set password_env (an environment variable name) or password_command")
    username = _get(t, "username", str, w)
    folder = _get(t, "folder", str, w, "INBOX")
    poll = _get(t, "poll_seconds", float, w, 60.0)
    if poll <= 0:
        raise ConfigError(f"imap.poll_seconds: must be positive, got {poll}")
    idle_refresh = _duration(t, "idle_refresh", w, timedelta(minutes=9)).total_seconds()
    if idle_refresh > 600:
        raise ConfigError("imap.idle_refresh: must be 10m or less (servers drop IDLE after ~29m, NATs sooner)")
    batch = _get(t, "batch_size", int, w, 500)
    if not 1 <= batch <= 5000:
        raise ConfigError(f"imap.batch_size: must be 1-5000, got {batch}")
    return ImapConfig(
        host=host, port=port, security=security, username=username, password_env=penv, password_command=pcmd,
        folder=folder, account=_get(t, "account", str, w, f"{username}@{host}"),
        idle=_get(t, "idle", bool, w, True), poll_seconds=poll, idle_refresh_seconds=idle_refresh,
        batch_size=batch, timeout_seconds=_get(t, "timeout_seconds", float, w, 30.0),
        max_message_bytes=_size(t, "max_message_size", w, 25 * 1024 * 1024),
        processed_keyword=_get(t, "processed_keyword", str, w, None, allow_none=True),
        ca_file=Path(t["ca_file"]).expanduser() if _get(t, "ca_file", str, w, None) else None,
    )


def _sla(d: dict, tz: ZoneInfo) -> pol.SlaPolicy:
    t = _table(d, "sla")
    w = "sla."
    base = pol.SlaPolicy()
    targets = {c: _duration(t, c, w, base.targets[c]) for c in pol.CLASSES}
    frac = _get(t, "warn_fraction", float, w, base.warn_fraction)
    if not 0 < frac < 1:
        raise ConfigError(f"sla.warn_fraction: must be between 0 and 1, got {frac}")
    hours = {}
    bh = _table(t, "business_hours", w)
    for cls, spec in bh.items():
        if cls not in pol.CLASSES:
            raise ConfigError(f"sla.business_hours.{cls}: unknown class (use I, II or III)")
        hours[cls] = _business_hours(spec, f"sla.business_hours.{cls}.", tz)
    return pol.SlaPolicy(
        targets=targets,
        escalate_after=_duration(t, "III_escalate_after", w, base.escalate_after),
        repeat_every=_duration(t, "III_repeat_every", w, base.repeat_every),
        warn_fraction=frac,
        business_hours=hours,
    )


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _business_hours(spec: Any, w: str, tz: ZoneInfo) -> pol.BusinessHours:
    from datetime import date

    if not isinstance(spec, dict):
        raise ConfigError(f"{w[:-1]}: expected a table with days = \"mon-fri\", hours = \"09:00-17:00\"")
    zone = _zone(spec.get("timezone", tz.key), f"{w}timezone")
    days = _get(spec, "days", str, w, "mon-fri").lower()
    try:
        if "-" in days:
            a, b = days.split("-")
            ds = list(range(_DAYS.index(a.strip()), _DAYS.index(b.strip()) + 1))
        else:
            ds = [_DAYS.index(x.strip()) for x in days.split(",")]
    except ValueError:
        raise ConfigError(f"{w}days: expected e.g. \"mon-fri\" or \"mon,wed,fri\", got {days!r}") from None
    hours = _get(spec, "hours", str, w, "09:00-17:00")
    try:
        s, e = (time.fromisoformat(x.strip()) for x in hours.split("-"))
        if e <= s:
            raise ValueError
    except ValueError:
        raise ConfigError(f"{w}hours: expected \"HH:MM-HH:MM\" with start before end, got {hours!r}") from None
    hol = _get(spec, "holidays", list, w, [])
    try:
        holidays = frozenset(h if isinstance(h, date) else date.fromisoformat(h) for h in hol)
    except (TypeError, ValueError):
        raise ConfigError(f"{w}holidays: expected a list of dates like 2026-12-25, got {hol!r}") from None
    return pol.BusinessHours(tz=zone, weekly={d: (s, e) for d in ds}, holidays=holidays)


def _zone(name: Any, key: str) -> ZoneInfo:
    if not isinstance(name, str):
        raise ConfigError(f"{key}: expected an IANA time zone name such as \"America/Phoenix\", got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{key}: unknown time zone {name!r}") from None


def _staff(d: dict) -> tuple[Staff, ...]:
    v = d.get("staff", [])
    if not isinstance(v, list):
        raise ConfigError("staff: expected [[staff]] tables")
    out, seen = [], set()
    for i, t in enumerate(v):
        w = f"staff[{i}]."
        if not isinstance(t, dict):
            raise ConfigError(f"staff[{i}]: expected a table")
        handle = _get(t, "handle", str, w)
        if not handle or not handle.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ConfigError(f"{w}handle: must be letters, digits, '-', '_' or '.', got {handle!r}")
        if handle in seen:
            raise ConfigError(f"{w}handle: duplicate handle {handle!r}")
        seen.add(handle)
        role = _get(t, "role", str, w, "staff")
        if role not in ("staff", "supervisor"):
            raise ConfigError(f"{w}role: must be \"staff\" or \"supervisor\", got {role!r}")
        notify = t.get("notify", [])
        if isinstance(notify, str):
            notify = [notify]
        if not isinstance(notify, list) or not all(isinstance(u, str) and "://" in u for u in notify):
            raise ConfigError(f"{w}notify: expected a list of apprise URLs (scheme://...)")
        out.append(Staff(handle=handle, name=_get(t, "name", str, w, handle), role=role, notify=tuple(notify)))
    return tuple(out)


def _oncall(d: dict, staff: tuple[Staff, ...]) -> OnCallConfig:
    from console.alerts.oncall import parse_handoff

    t = _table(d, "oncall")
    rotation = _get(t, "rotation", list, "oncall.", [])
    known = {s.handle for s in staff}
    for h in rotation:
        if not isinstance(h, str) or h not in known:
            raise ConfigError(f"oncall.rotation: {h!r} is not a [[staff]] handle")
    try:
        wd, at = parse_handoff(_get(t, "handoff", str, "oncall.", "mon 09:00"))
    except ValueError as exc:
        raise ConfigError(f"oncall.handoff: {exc}") from None
    anchor = t.get("start", "2024-01-01")
    anchor = anchor.isoformat() if hasattr(anchor, "isoformat") else anchor
    try:
        from datetime import date

        date.fromisoformat(anchor)
    except (TypeError, ValueError):
        raise ConfigError(f"oncall.start: expected a date like 2026-01-05, got {anchor!r}") from None
    return OnCallConfig(rotation=tuple(rotation), handoff_weekday=wd, handoff_time=at, anchor=anchor)


def from_dict(data: dict, *, path: Path | None = None) -> Config:
    known = {"timezone", "store", "imap", "routing", "sla", "staff", "oncall", "alerts", "console"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{sorted(unknown)[0]}: unknown top-level key (known: {', '.join(sorted(known))})")
    tz = _zone(data.get("timezone", "UTC"), "timezone")
    store = _table(data, "store")
    store_path = Path(_get(store, "path", str, "store.", "support.db")).expanduser()
    if not store_path.is_absolute() and path is not None:
        store_path = path.parent / store_path
    routing_t = _table(data, "routing")
    default_class = _get(routing_t, "default_class", str, "routing.", "I")
    if default_class not in pol.CLASSES:
        raise ConfigError(f"routing.default_class: must be I, II or III, got {default_class!r}")
    routing = Routing(urgent=_addresses(routing_t, "urgent", "routing."),
                      support=_addresses(routing_t, "support", "routing."), default_class=default_class)
    staff = _staff(data)
    alerts_t = _table(data, "alerts")
    w = "alerts."
    channels = alerts_t.get("channels", [])
    if not isinstance(channels, list) or not all(isinstance(u, str) and "://" in u for u in channels):
        raise ConfigError("alerts.channels: expected a list of apprise URLs")
    alerts = AlertsConfig(
        heartbeat_url=_get(alerts_t, "heartbeat_url", str, w, None, allow_none=True),
        max_attempts=_get(alerts_t, "max_attempts", int, w, 8),
        send_timeout_seconds=_get(alerts_t, "send_timeout_seconds", float, w, 20.0),
        backoff_seconds=_get(alerts_t, "backoff_seconds", float, w, 5.0),
        backoff_max_seconds=_get(alerts_t, "backoff_max_seconds", float, w, 300.0),
        channels=tuple(channels),
        intake_stale_after=_duration(alerts_t, "intake_stale_after", w, timedelta(minutes=5)),
    )
    if alerts.max_attempts < 1:
        raise ConfigError("alerts.max_attempts: must be at least 1")
    console_t = _table(data, "console")
    return Config(
        path=path, timezone=tz, store_path=store_path, imap=_imap(data), routing=routing, sla=_sla(data, tz),
        staff=staff, oncall=_oncall(data, staff), alerts=alerts,
        console=ConsoleConfig(operator=_get(console_t, "operator", str, "console.", None, allow_none=True)),
    )
