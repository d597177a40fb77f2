"""A per-key sliding-window limit (requests per address), with an injectable monotonic clock. Pure."""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


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
