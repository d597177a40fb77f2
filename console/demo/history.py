"""Weeks of past tickets for the demo and the screenshots, so that the SLA report screen has a history to
show: each filed through the real intake pipeline at its own time, contacted and resolved through the
real actions. Deterministic (a seeded random generator): the same history every run."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from store.db import Database

from console import actions
from console.config import Config
from console.intake.pipeline import Incoming, file_messages

SUBJECTS = {"I": ["How do I add a mail alias?", "Which backup plan suits us?", "Question about our invoice"],
            "II": ["Class II: password reset for a new hire", "Class II: shared calendar not syncing"],
            "III": ["Web server down", "VPN unreachable for the whole office"]}
# per week, oldest first: how often first contact comes late (the desk improves, slips, recovers)
LATENESS = (0.35, 0.3, 0.25, 0.15, 0.1, 0.3, 0.1, 0.05)


def seed_history(db: Database, cfg: Config, now: datetime, *, weeks: int = 8, per_week: int = 14) -> int:
    """File `per_week` tickets in each of the `weeks` whole weeks before `now`'s week and make first contact
    on each (late with that week's LATENESS), then resolve it. Returns how many tickets were filed."""
    rnd = random.Random(24)
    people = [s.handle for s in cfg.staff]
    urgent = cfg.routing.urgent[0] if cfg.routing.urgent else "urgent@example.com"
    support = cfg.routing.support[0] if cfg.routing.support else "support@example.com"
    local = now.astimezone(cfg.timezone)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    filed = 0
    for w in range(weeks):
        start = monday - timedelta(days=7 * (weeks - w))
        late_share = LATENESS[w % len(LATENESS)]
        for i in range(per_week):
            cls = rnd.choices(("I", "II", "III"), (6, 3, 2))[0]
            received = (start + timedelta(seconds=rnd.uniform(0, 7 * 86400))).replace(microsecond=0)
            subject = rnd.choice(SUBJECTS[cls])
            raw = (f"From: Customer {w}-{i} <c{w}x{i}@customer.example>\r\n"
                   f"To: {urgent if cls == 'III' else support}\r\nSubject: {subject}\r\n"
                   f"Message-ID: <history-{w}-{i}@customer.example>\r\n\r\n{subject}\r\n").encode()
            [f] = file_messages(db, cfg, [Incoming(raw=raw, received_at=received)], received, source="history")
            if f.ticket_id is None:
                continue
            filed += 1
            target = cfg.sla.target(cls)
            factor = rnd.uniform(1.05, 1.6) if rnd.random() < late_share else rnd.uniform(0.05, 0.9)
            contact = received + target * factor
            if contact >= now:
                continue
            who = rnd.choice(people)
            actions.acknowledge(db, cfg, f.ticket_id, who, contact)
            actions.resolve(db, cfg, f.ticket_id, who, contact + timedelta(hours=1))
    return filed
