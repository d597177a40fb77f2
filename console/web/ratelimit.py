"""The link server's defences that are pure logic, each with an injectable monotonic clock:

- RateLimit: a per-key sliding-window limit (failed attempts per client address);
- client_address: who the client is, believing X-Forwarded-For only from trusted proxies;
- Tally: log lines about abuse once, then one summary a minute, never one line per event.
"""
from __future__ import annotations

import ipaddress
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RateLimit:
    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000):
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, max_keys
        self._hits: dict[str, deque[float]] = {}

    def __len__(self) -> int:
        return len(self._hits)  # addresses remembered

    def allow(self, key: str) -> bool:
        """Count a request from `key`; False when it is over the limit (a refused request is not counted)."""
        now = self.clock()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._forget_idle(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def _forget_idle(self, now: float) -> None:
        # Bounded memory under a spray of addresses: drop keys with nothing in the window, else the oldest.
        for k in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window]:
            del self._hits[k]
        while len(self._hits) >= self.max_keys:
            del self._hits[next(iter(self._hits))]


def networks(specs: Iterable[str]) -> tuple[Network, ...]:
    """config's [alerts] trusted_proxies (already checked there) as networks."""
    return tuple(ipaddress.ip_network(s, strict=False) for s in specs)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    t = text.strip().strip('"')
    if t.startswith("[") and "]" in t:  # "[2001:db8::1]:443"
        t = t[1:t.index("]")]
    elif t.count(":") == 1:  # "192.0.2.1:443"
        t = t.split(":", 1)[0]
    try:
        return ipaddress.ip_address(t)
    except ValueError:
        return None


MAX_FORWARDED = 20  # entries of X-Forwarded-For looked at (a client may send any number of its own)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address as far as it can be believed: the connection's peer, unless the peer is a
    trusted proxy; then X-Forwarded-For read from the right (what the nearest proxy saw) past the trusted
    proxies, to the first address none of them is. A client can write anything at the left end of the
    header, so nothing left of the first untrusted entry is believed."""
    ip = _ip(peer or "")
    if ip is None:
        return peer or "?"
    entries = [e for h in forwarded_for for e in h.split(",") if e.strip()][-MAX_FORWARDED:]
    while entries and any(ip in n for n in trusted):
        hop = _ip(entries.pop())
        if hop is None:  # garbage in the header: the proxy that passed it on is the client we know
            return str(ip)
        ip = hop
    return str(ip)


class Tally:
    """Counts of abuse events, for the log: the first event of each kind is logged at once, then the
    counts are summed up at most once per `every` seconds ("in the last 60 s: 5,210 connections closed
    at the cap ..."), so a flood of 788,000 events is a handful of lines."""

    def __init__(self, log: Callable[[str], None], every: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.log, self.every, self.clock = log, every, clock
        self.counts: dict[str, int] = {}
        self.seen: set[str] = set()
        self.since = clock()

    def note(self, kind: str, first_words: str) -> None:
        """One event of `kind`; `first_words` is logged only for the first of its kind (then summed up)."""
        if kind not in self.seen:
            self.seen.add(kind)
            self.log(f"{first_words} (further such events are summed up at most once a minute)")
        else:
            if not self.counts:
                self.since = self.clock()  # "in the last N s" counts from the first event summed up
            self.counts[kind] = self.counts.get(kind, 0) + 1
        self.flush()

    def flush(self, force: bool = False) -> None:
        now = self.clock()
        if not self.counts or (not force and now - self.since < self.every):
            return
        parts = ", ".join(f"{n:,} {kind}" for kind, n in sorted(self.counts.items()))
        self.log(f"in the last {max(1, round(now - self.since))}s: {parts}")
        self.counts.clear()
        self.since = now
