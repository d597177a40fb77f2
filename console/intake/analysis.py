"""What intake can know about a message without the database: parsed fields, hash, class, flags,
threading keys and deadlines. Pure.

A big sync runs this in a helper process (intake/watch.py), so this module imports only pure code,
never sqlite-utils or the alerting side: the helper starts in a fraction of the time.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from console import policy as pol
from console.intake import autoreply, callme, classify
from console.intake.parse import ParsedMail, parse_message
from store import messages
from store.times import iso

if TYPE_CHECKING:
    from console.config import Routing

_TAG = re.compile(r"\[#(\d{1,9})\]")


def subject_tag(subject: str) -> int | None:
    m = _TAG.search(subject or "")
    return int(m.group(1)) if m else None


def reference_ids(mail: ParsedMail, *, bounce: bool = False) -> tuple[str, ...]:
    """The Message-IDs that may name this mail's ticket, the most telling first."""
    ids = [i for i in (mail.in_reply_to, *reversed(mail.references)) if i]
    if bounce and mail.original_message_id:
        ids.insert(0, mail.original_message_id)
    return tuple(ids)


def _fields(mail: ParsedMail) -> dict:
    return {
        "message_id": mail.message_id, "from_addr": mail.from_addr, "from_name": mail.from_name,
        "subject": mail.subject, "body_text": mail.body_text, "in_reply_to": mail.in_reply_to,
        "sent_date": iso(mail.date) if mail.date else None, "recipients": mail.recipients,
        "refs": mail.references, "defects": mail.defects, "oversize": mail.oversize,
        "unparseable": mail.unparseable, "attachments": [dataclasses.asdict(a) for a in mail.attachments],
    }


@dataclass
class Analysis:
    """Everything the writer needs about one message that takes no database: hash, auto-reply kind,
    class, flags, the message row's columns and, for the arrival time it was given, the ticket's
    deadlines. Pure and flat, so a big sync computes it in another process (see intake/watch.py),
    ships it back cheaply and leaves the writer little more than the SQL."""
    auto: str | None  # "autoreply" | "bounce" | None
    cls: str
    reason: str  # why this class
    needs_details: bool  # call-me-only mail
    flagged: bool  # a new ticket from it is quarantined: unparseable, oversize, or defects and no text
    damaged: bool  # unparseable or oversize: a reply quarantines its ticket
    subject: str
    sender: str
    sender_name: str
    columns: tuple  # messages.message_columns()
    thread_ids: tuple[str, ...]  # Message-IDs that may name this mail's ticket (reference_ids)
    tag: int | None  # a [#123] subject tag
    participants: tuple[str, ...]  # who joins a new ticket: the sender and the customer's Cc (as written)
    timing: tuple[str, str, datetime] | None = None  # (arrival, due) as ISO text, first step

    @property
    def key(self) -> str:
        """messages.dedup_key(), which the message row holds already."""
        return messages.dedup_key_of(self.columns)

    def __reduce__(self):
        # Pickled as its field values in order, without the field names: half the work of the default.
        return Analysis, tuple(self.__dict__.values())


def analyze(raw: bytes, routing: Routing, max_bytes: int, received_at: datetime | None = None,
            sla: pol.SlaPolicy | None = None) -> Analysis:
    mail = parse_message(raw, max_bytes)
    digest = messages.sha256(raw)
    verdict = classify.classify(mail.recipients, mail.subject, mail.body_text, urgent=routing.urgent,
                                support=routing.support, default_class=routing.default_class)
    auto = autoreply.auto_kind(mail)
    timing = None
    if sla is not None and received_at is not None and received_at.tzinfo is not None:
        arrival = received_at.replace(microsecond=0)
        timing = (iso(arrival), iso(pol.deadline(verdict.cls, arrival, sla)),
                  pol.first_step_at(verdict.cls, arrival, sla))
    return Analysis(
        auto=auto, cls=verdict.cls, reason=verdict.reason,
        needs_details=callme.needs_details(mail.subject, mail.body_text),
        flagged=mail.unparseable or mail.oversize or bool(mail.defects and not mail.body_text),
        damaged=mail.unparseable or mail.oversize, subject=mail.subject, sender=mail.from_addr,
        sender_name=mail.from_name, columns=messages.message_columns(_fields(mail), digest, len(raw)),
        thread_ids=reference_ids(mail, bounce=(auto == "bounce")), tag=subject_tag(mail.subject),
        participants=_participants(mail, routing), timing=timing,
    )


def analyze_batch(raws: list[bytes], routing: Routing, max_bytes: int, received: list[datetime | None] | None = None,
                  sla: pol.SlaPolicy | None = None) -> list[Analysis]:
    received = received or [None] * len(raws)
    return [analyze(r, routing, max_bytes, t, sla) for r, t in zip(raws, received, strict=True)]


def _participants(mail: ParsedMail, routing: Routing) -> tuple[str, ...]:
    desk = set(routing.urgent) | set(routing.support)
    return (mail.from_addr, *(a for a in mail.recipients if a not in desk))


HELPER_NICE = 10  # a backlog's parsing yields the CPU to the poller: its pages, deadlines and commits


def start_helper(poller_pid: int) -> None:
    """The helper process's initializer. It lives here so that a helper needs nothing beyond this module.

    The helper runs at a lower priority than the poller, which stays on the critical path (fetching and
    committing in UID order) and keeps paging on time while a backlog is parsed. And it exits as soon
    as the poller is gone, even killed by SIGKILL, so no helper is left behind. A helper is forked from
    multiprocessing's fork server, not from the poller, so the kernel's parent-death signal would only
    tell it about the fork server; it watches the poller itself instead.
    """
    import threading

    try:
        os.nice(HELPER_NICE)
    except OSError:
        pass  # only a priority

    try:
        watch = os.pidfd_open(poller_pid)  # readable once the poller has exited (Linux 5.3+)
    except ProcessLookupError:
        os._exit(0)  # the poller died while this process was starting
    except (AttributeError, OSError):
        watch = None  # no pidfd here: look every second instead
    threading.Thread(target=_exit_with, args=(poller_pid, watch), name="poller-watch", daemon=True).start()


def _exit_with(poller_pid: int, watch: int | None, interval: float = 1.0) -> None:
    import select
    import time

    if watch is not None:
        select.select([watch], [], [])
    else:
        while True:
            try:
                os.kill(poller_pid, 0)
            except ProcessLookupError:
                break
            except OSError:
                pass  # alive, but not ours to signal
            time.sleep(interval)
    os._exit(0)
