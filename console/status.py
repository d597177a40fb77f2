"""`support-console status`: the desk machinery's health, read from the database only (console.health).

For monitoring and systemd: exit 0 when healthy, 1 when degraded or when no poller has ever run.
It never creates, migrates or writes the database, and talks to no server.
"""
from __future__ import annotations

import json
from datetime import datetime

from console import health
from console.config import Config
from console.safe_text import clean_line
from store import automatic, heartbeat, outbox, outgoing
from store.times import iso


def health_inputs(db, now: datetime, *, sent_total: bool = True) -> tuple[list[dict], dict[str, int]]:
    """What console.health judges, read from an open database: the heartbeat rows, and the counts of
    pages and mail as the outbox's health sees them. The console's header reads the same, on a timer:
    without `sent_total` (the pages ever sent, which grows with the history and is shown by `status`)."""
    since = now - health.OUTBOX_WINDOW
    counts = outbox.health_counts(db, since, sent_total=sent_total) | outgoing.health_counts(db, since)
    counts["mail_withheld"] = automatic.withheld_since(db, since)
    return heartbeat.heartbeats(db), counts


def assess(cfg: Config, now: datetime) -> tuple[health.Health, str | None]:
    """The assessment, and a note when there is no database to read."""
    from store import open_db

    beats: list[dict] = []
    counts: dict[str, int] = {}
    if not cfg.store_path.exists():
        from store.fileguard import desk_state

        if desk_state(cfg.store_path):  # deleted or moved, not "never run": say how to get it back
            note = (f"database {cfg.store_path} is missing, but this desk's other files are beside it: it was "
                    f"deleted or moved; restore it (a backup, or `support-console restore --from URL`)")
        else:
            note = f"no database at {cfg.store_path}: no poller has run"
    else:
        note = None
        db = open_db(cfg.store_path, migrate=False)
        try:
            beats, counts = health_inputs(db, now)
        finally:
            db.close()
    return judge(cfg, beats, counts, now), note


def judge(cfg: Config, beats: list[dict], counts: dict[str, int], now: datetime) -> health.Health:
    """The assessment with this desk's settings: what `status` prints and the console's header shows."""
    return health.assess(beats, counts, now, intake_stale_after=cfg.alerts.intake_stale_after,
                         intake_expected=cfg.imap is not None)


def report(cfg: Config, now: datetime, *, as_json: bool = False) -> tuple[bool, str]:
    h, note = assess(cfg, now)
    replica = None
    if cfg.replicate is not None:  # asks the replica (Litestream's listing): only here, not in the console
        from console import replication

        replica = replication.lag(cfg, now)
    healthy = h.healthy and (replica is None or replica.ok)
    if as_json:
        data = {"at": iso(now), **h.as_json(), "healthy": healthy}
        if replica is not None:
            data["replica"] = replica.as_json()
        if note:
            data["note"] = note
        return healthy, json.dumps(data, indent=2, default=str)
    lines = [f"status: {'healthy' if healthy else 'DEGRADED'}"]
    if note:
        lines.append(note)
    for c in h.components:
        boxes = c.detail.get("mailboxes") if c.name == "intake" else None
        if boxes:  # several mailboxes: one line each, the failing ones first
            lines += [clean_line(m["summary"], 300) for m in sorted(boxes, key=lambda m: m["ok"])]
        else:
            lines.append(clean_line(c.summary, 300))
    if replica is not None:
        lines.append(clean_line(replica.summary, 300))
    return healthy, "\n".join(lines)
