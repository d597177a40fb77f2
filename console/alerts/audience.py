"""Who a step's audience means right now: on-call rotation, overrides, roles, the assignee."""
from __future__ import annotations

from datetime import date, datetime

from store.db import Database

from console.alerts import oncall
from console.config import Config
from store import oncall as store_oncall


def rotation(cfg: Config) -> oncall.Rotation | None:
    if not cfg.oncall.rotation:
        return None
    return oncall.Rotation(
        handles=cfg.oncall.rotation, handoff_weekday=cfg.oncall.handoff_weekday,
        handoff_time=cfg.oncall.handoff_time, tz=cfg.timezone, anchor=date.fromisoformat(cfg.oncall.anchor),
    )


def current(db: Database, cfg: Config, now: datetime) -> oncall.OnCall | None:
    rot = rotation(cfg)
    if rot is None:
        return None
    overrides = [
        oncall.Override(start=o["start"], end=o["end"], position=o["position"], handle=o["handle"])
        for o in store_oncall.overrides_active_or_future(db, now)
    ]
    return oncall.on_call(rot, now, overrides)


def resolve(db: Database, cfg: Config, audience: tuple[str, ...], assignee: str | None,
            now: datetime) -> list[tuple[str, str]]:
    """(audience name, handle) pairs, each handle once, in audience order; plus desk channels."""
    oc = current(db, cfg, now)
    out: dict[str, str] = {}
    for name in audience:
        if name == "primary" and oc and oc.primary:
            handles = [oc.primary]
        elif name == "secondary" and oc and oc.secondary:
            handles = [oc.secondary]
        elif name == "team":
            handles = [s.handle for s in cfg.staff]
        elif name == "supervisors":
            handles = [s.handle for s in cfg.staff if s.role == "supervisor"]
        elif name == "assignee":
            handles = [assignee] if assignee else ([oc.primary] if oc and oc.primary else [])
        else:
            handles = []
        for h in handles:
            out.setdefault(h, name)
    pairs = [(name, h) for h, name in out.items()]
    if cfg.alerts.channels:
        pairs.append(("desk", "@desk"))
    return pairs
