"""The failover drill (issue 26, item 4): a primary desk replicating with Litestream dies by SIGKILL in the
middle of filing, paging and acknowledging; a standby restores the replica and takes over.
The drill itself is tests/integration/failover_drill.py (bench/bench_failover.py prints its RPO and RTO).
"""
from __future__ import annotations

import math

import pytest

from tests.integration.failover_drill import litestream_unavailable, run_drill

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(litestream_unavailable() is not None,
                                 reason=f"failover drill needs Litestream: {litestream_unavailable()}")]


def test_failover_drill_loses_no_ticket_resends_no_page_and_keeps_acknowledgements(tmp_path, dovecot,
                                                                                   http_receiver):
    # Litestream ships every 3 s here (1 s by default), so the kill may land with changes the replica lacks
    # (mail to file again, acknowledgements past the replicated position); a page forces a sync first.
    r = run_drill(tmp_path, dovecot, http_receiver, sync_interval="3s")
    print(f"RPO {r.rpo:.1f}s  RTO {r.rto:.1f}s  restored {len(r.restored_subjects)} of {len(r.primary_subjects)} "
          f"tickets; {r.expired_on_restore} pages expired on restore")
    assert len(r.appended) >= 20 and r.restored_subjects and r.pages_primary and r.acks_primary, \
        "the drill did too little to prove anything"

    # No ticket lost or doubled: every mail in the mailbox is exactly one ticket on the standby.
    assert set(r.standby_subjects) == set(r.appended)
    assert [s for s, n in r.standby_subjects.items() if n != 1] == []

    # No page re-sent: each page reached the receiver at most once, whichever host sent it. (Pages wait for
    # their claim to reach the replica, so the standby knows of every page the old host sent, and of its mail.)
    assert [k for k, n in r.pages.items() if n > 1] == []
    # A page the old host was sending when it died is expired, never re-fired blindly.
    assert set(r.expired_subjects) <= r.restored_subjects
    assert r.expired_on_restore == 0 or f"{r.expired_on_restore} page(s) the old host was sending" in r.restore_output

    # Acknowledgements up to the replicated position are kept, as they were.
    kept = {s: at for s, at in r.acks_primary.items() if s in r.restored_subjects and s in r.acks_restored}
    assert kept and all(r.acks_standby.get(s) == at for s, at in kept.items())
    # Those committed more than a second before the newest write the replica has: an `ack` commits before it
    # returns, so its return time bounds its commit. (Its acknowledged_at is when it began, and waiting for
    # the write lock on a busy machine can take it past a later write the replica already has.)
    before = {s for s in r.acks_primary if r.written_at.get(f"ack {s}", math.inf) < r.replica_last_write - 1}
    assert before, "no acknowledgement was committed well before the replicated position: nothing proven"
    assert before <= set(r.acks_standby), before - set(r.acks_standby)

    assert r.rto is not None and r.rto < 60
