"""What the command modules share: the config, who acts, the database, the clock, and how times print."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.cli.errors import UsageError

if TYPE_CHECKING:
    from store.db import Database

    from console.clock import Clock
    from console.config import Config
    from console.identity import Actor


def config(args: argparse.Namespace, *, check_urls: bool = False) -> Config:
    """The config named by --config (else the default path), its secrets kept out of every log line.
    `check_urls`: let apprise check the notify URLs (about 0.2 s), only where pages are sent."""
    from console import config as config_module, log_later

    cfg = config_module.load(config_module.resolve_path(args.config), check_urls=check_urls)
    log_later.keep_secrets_of(cfg)
    return cfg


def setup(args: argparse.Namespace, *, check_urls: bool = False) -> Config:
    """The config, and a refused --as refused whatever the command (even one that only reads)."""
    cfg = config(args, check_urls=check_urls)
    if args.actor is not None:
        actor(args, cfg, acting=False)
    return cfg


def actor(args: argparse.Namespace, cfg: Config, *, acting: bool = True) -> Actor:
    """Who acts (console.identity); `acting`: this command changes something, so a read-only account
    is refused here rather than at its first action."""
    from console.identity import resolve
    from store.errors import NotPermitted

    found = resolve(cfg, args.actor)  # IdentityError: 77 refused, 64 nobody named
    if acting and found.read_only:
        raise NotPermitted(found.why or f"{found} may only read")
    return found


def db(cfg: Config) -> Database:
    from store import open_db

    return open_db(cfg.store_path)


def clock() -> Clock:
    from console.clock import SystemClock

    return SystemClock()


def ticket_id(text: str) -> int:
    t = text.lstrip("#")
    if not t.isdigit():
        raise UsageError(f"not a ticket id: {text!r} (expected a number such as 42 or #42)")
    return int(t)


def local(cfg: Config, text: str | None) -> str:
    from store.times import parse_iso

    at = parse_iso(text) if text else None
    if at is None:
        return "-"
    return at.astimezone(cfg.timezone).strftime("%Y-%m-%d %H:%M")


def local_dt(cfg: Config, dt: datetime) -> str:
    return dt.astimezone(cfg.timezone).strftime("%Y-%m-%d %H:%M %Z")


def left(seconds: float | None) -> str:
    from console.timefmt import left as timefmt_left

    return timefmt_left(seconds)


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
