"""`support-console ingest`: one mail from an MTA's pipe. An MTA starts one process a mail, so this module
imports only what filing an ordinary mail needs (no poller, apprise, imapclient or reply commands)."""
from __future__ import annotations

import argparse
import sys

from console.cli import common
from console.cli.errors import BadInput


def ingest(args: argparse.Namespace) -> int:
    from console.intake.pipeline import Incoming, file_messages

    raw = sys.stdin.buffer.read()
    if not raw.strip():
        raise BadInput("no message on stdin; nothing stored")
    cfg = common.config(args)  # no URL check: a pager typo must not make the MTA defer mail
    filed = file_messages(common.db(cfg), cfg, [Incoming(raw=raw)], common.clock().now(), source="ingest")[0]
    where = f" (ticket #{filed.ticket_id})" if filed.ticket_id else ""
    print(f"{filed.outcome}{where}")
    return 0
