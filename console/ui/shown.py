"""A ticket as the console draws it: the store's row and what drawing it needs, computed once."""
from __future__ import annotations

from datetime import datetime

from console.fold import fold
from console.safe_text import clean_line
from store.rows import ListedTicket


class ShownTicket(ListedTicket):
    """A listed ticket row with its times parsed, its text cleaned and its search text folded."""
    _due: datetime
    _received: datetime
    _resolved: datetime | None
    _subject: str                  # one clean line
    _requester: str
    _assignee: str
    _sort: tuple[int, str, int]    # the default order: unacknowledged first, then by due time
    _fold: str


def fast_time(text: str | None) -> datetime | None:
    """store.times ISO text ("2026-01-05T17:00:00Z") -> aware UTC datetime, without strptime's cost."""
    return datetime.fromisoformat(text) if text else None


def fast_time_of(text: str) -> datetime:
    """fast_time of a time that is always there (a NOT NULL column)."""
    return datetime.fromisoformat(text)


def one_line(s: str | None, limit: int) -> str:
    """clean_line(s, limit), with a fast path for text that is already one clean printable line."""
    if s and s.isprintable() and "  " not in s and s[0] != " " and s[-1] != " ":
        return s if len(s) <= limit else s[: limit - 1].rstrip() + "\u2026"
    return clean_line(s or "", limit)


def prep(row: ListedTicket) -> ShownTicket:
    """A ticket row with what drawing it needs, computed once: times parsed, text cleaned, search folded."""
    t = row
    return ShownTicket(
        **t,
        _due=fast_time_of(t["due_at"]),
        _received=fast_time_of(t["received_at"]),
        _resolved=fast_time(t.get("resolved_at")),
        _subject=one_line(t.get("subject") or "(no subject)", 300),
        _requester=one_line(t.get("requester_name") or t.get("requester") or "", 60),
        _assignee=one_line(t.get("assignee") or "-", 20),
        _sort=(1 if t.get("acknowledged_at") else 0, t["due_at"], t["id"]),
        _fold=fold(" ".join((t.get("subject") or "", t.get("requester") or "", t.get("requester_name") or ""))),
    )
