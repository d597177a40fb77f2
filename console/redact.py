"""Keeping notify URLs' secrets out of the database, the output and the logs. Pure.

An apprise URL holds its secrets in more places than user and password: ntfy topics, json:// and
form:// paths, webhook paths, query strings, and for many services the "host" itself (a Telegram
bot token, a Slack or Discord webhook id). So a target is known by a name made only of its scheme,
its host when that really is a network host, and a short keyed hash of the whole URL (stable, so
that a retry still recognises a service that already accepted a page); and any text that could
quote a URL (apprise's error messages, log lines) has every secret-looking part of it cut out.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import urllib.parse
from collections.abc import Iterable
from typing import overload

MASK = "***"
# apprise's options whose values are settings from a short fixed list, never a credential.
SETTING_OPTIONS = frozenset({"method", "mode", "format", "overflow", "priority", "retry", "wait", "verify", "cto",
                             "rto", "image", "discovery"})
MIN_SECRET = 4  # shorter parts ("v1", "api"... and "bob") are not worth garbling every log line for
_LABEL = r"^(?!-)[a-z0-9-]{1,63}(?<!-)$"
_TLD = r"^[a-z]{2,63}$"


def scheme_of(url: str) -> str:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    return scheme.lower() if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme) else "?"


def is_network_host(host: str) -> bool:
    """An IP address, localhost or a DNS name with an alphabetic top-level label; not a token that
    merely sits where a host would (`tgram://123456:ABC...`, `pbul://o.gn5kj6...`, `ntfy://topic`)."""
    host = host.lower().strip("[]")
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.split(".")
    return len(labels) >= 2 and all(re.match(_LABEL, x) for x in labels) and bool(re.match(_TLD, labels[-1]))


def host_of(url: str) -> str:
    """`host` or `host:port` when the URL's host is a network host; else ""."""
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:  # a token with ':' in it reads as a bad port
        return ""
    if not host or not is_network_host(host):
        return ""
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


def target_name(url: str, key: bytes | None) -> str:
    """`ntfy://ntfy.example.com#3f9a1c2e`: safe to store and print. Without a key (no database to
    read it from), the hash is left out: such a name is for showing, never for recognising a service."""
    name = f"{scheme_of(url)}://{host_of(url)}"
    if key is not None:
        name += "#" + hmac.new(key, url.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:8]
    return name


def secret_parts(url: str) -> set[str]:
    """Every part of `url` that may be a secret, as written and percent-decoded: the URL itself, the
    user and password, the "host" when it is not a network host, each path segment, each query value
    and the fragment. Not the host, the port, or the query's option names."""
    out = {url}
    rest = url.split("://", 1)[1] if "://" in url else url
    try:
        parts = urllib.parse.urlsplit(url)
        host, netloc = parts.hostname or "", parts.netloc
        str(parts.port)  # raises for a token that reads as a bad port
    except ValueError:
        out.update(rest.split("/"))
        return _worth_masking(out)
    bare = netloc.rsplit("@", 1)[-1]
    if not is_network_host(host):
        out.add(bare)
    out.update(x for x in (parts.username, parts.password, parts.fragment) if x)
    out.update(parts.path.split("/"))
    for key, values in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items():
        if key.lower() in SETTING_OPTIONS:
            continue  # "method=call": masking "call" would garble "who is on call" in every line
        for v in values:
            out.add(v)
            out.update(v.split(","))
    return _worth_masking(out)


def _worth_masking(parts: set[str]) -> set[str]:
    parts = parts | {urllib.parse.unquote(x) for x in parts}
    return {x for x in parts if len(x) >= MIN_SECRET}


def secrets_of(urls: Iterable[str]) -> list[str]:
    """All secret parts of these URLs, longest first (so a long one is masked before its pieces)."""
    found: set[str] = set()
    for u in urls:
        if u:
            found |= secret_parts(u)
    return sorted(found, key=lambda s: (-len(s), s))


class Redactor:
    """Masks the given secrets wherever they stand alone in a text (not inside a longer word, so a
    path segment "notify" leaves "notifying" alone)."""

    def __init__(self, secrets: Iterable[str] = ()):
        secrets = sorted(set(secrets), key=lambda s: (-len(s), s))
        self._re = re.compile("|".join(rf"(?<![A-Za-z0-9]){re.escape(x)}(?![A-Za-z0-9])" for x in secrets)) \
            if secrets else None

    @overload
    def __call__(self, text: str) -> str: ...
    @overload
    def __call__(self, text: None) -> None: ...
    @overload
    def __call__(self, text: str | None) -> str | None: ...

    def __call__(self, text: str | None) -> str | None:
        if not text or self._re is None:
            return text
        return self._re.sub(MASK, text)


# Anything that reads as a URL in a third party's words: scheme://, then up to a blank, a quote or a bracket.
_URL = r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s'\"<>()\[\]{}]*"


def mask_urls(text: str) -> str:
    """`text` with every URL in it cut down to its scheme and network host (`slack://`,
    `https://hooks.slack.com`): for what other code writes (apprise's log lines), which may quote a notify
    URL that was never in the config we masked for (a new config being checked, a URL apprise rewrote)."""
    if "://" not in text:
        return text
    def short(m: re.Match) -> str:
        url = m.group(0).rstrip(".,;:")  # a full stop after a URL is the sentence's
        return target_name(url, None) + m.group(0)[len(url):]

    return re.sub(_URL, short, text)


def redact(text: str | None, urls: Iterable[str]) -> str | None:
    """`text` with every secret part of these URLs masked."""
    return Redactor(secrets_of(urls))(text)


def config_secrets(cfg) -> list[str]:
    """What of a loaded config must never be shown: every notify URL, the desk channels, heartbeat_url."""
    urls = [u for s in cfg.staff for u in (*s.notify, *s.call)] + list(cfg.alerts.channels)
    if cfg.alerts.heartbeat_url:
        urls.append(cfg.alerts.heartbeat_url)
    return secrets_of(urls)
