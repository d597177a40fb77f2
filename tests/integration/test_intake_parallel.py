"""A big backlog is parsed in a helper process: the result must be exactly what in-process parsing files."""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from console.clock import SystemClock
from console.config import load
from console.intake import watch
from console.intake.analysis import HELPER_NICE
from console.intake.pipeline import Incoming
from console.poller import sync_staff
from tests.corpus import corpus
from tests.integration.helpers import DESK_PASSWORD, PASSWORD_ENV, count, mail, query, wait_until, write_config
from tests.servers.dovecot import _children

pytestmark = pytest.mark.integration

FILED = """SELECT m.sha256, m.kind, m.subject, m.body_text, t.class, t.needs_details, t.quarantined, t.subject
           FROM messages m LEFT JOIN tickets t ON t.id = m.ticket_id ORDER BY m.sha256"""


def intake(tmp_path, dovecot, name: str, parallel_min: int, monkeypatch):
    d = tmp_path / name
    d.mkdir()
    cfg = load(write_config(d, port=dovecot.port, max_message_size="64KB", imap_extra="batch_size = 100"))
    sync_staff(cfg)
    monkeypatch.setattr(watch, "PARALLEL_MIN", parallel_min)
    used = []
    real_submit, real_result = watch.Analyzer.submit, watch.Analyzer.result

    def spy(self, items):
        fut = real_submit(self, items)
        used.append(fut is not None)
        return fut

    def spy_result(self, fut):
        analyses = real_result(self, fut)
        if fut is not None:
            used.append(analyses is not None)  # None: the helper failed and this process parsed instead
        return analyses

    monkeypatch.setattr(watch.Analyzer, "submit", spy)
    monkeypatch.setattr(watch.Analyzer, "result", spy_result)
    stored = watch.Intake(cfg, SystemClock(), threading.Event()).once()
    return cfg.store_path, stored, used


def test_helper_process_files_exactly_what_in_process_parsing_files(tmp_path, dovecot, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, DESK_PASSWORD)
    raws = [raw for _, raw in corpus() if raw.strip()]
    raws += [mail(i, to="urgent@example.com" if i % 7 == 0 else "support@example.com",
                  subject=f"Class II: printer {i}" if i % 5 == 0 else None) for i in range(300)]
    dovecot.append_many(raws)

    par_db, par_stored, par_used = intake(tmp_path, dovecot, "par", 1, monkeypatch)
    seq_db, seq_stored, seq_used = intake(tmp_path, dovecot, "seq", 10**9, monkeypatch)

    assert par_used and all(par_used), "the big backlog was parsed by the helper process"
    assert seq_used == []
    assert par_stored == seq_stored > 300
    assert query(par_db, FILED) == query(seq_db, FILED)
    assert query(par_db, "SELECT uidvalidity, last_uid FROM mailboxes") == \
        query(seq_db, "SELECT uidvalidity, last_uid FROM mailboxes")


def test_once_helpers_are_up_the_first_batch_goes_to_them_too(tmp_path, dovecot, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, DESK_PASSWORD)
    monkeypatch.setattr(watch, "_helpers_ready", False)  # as in a poller that has had no backlog yet
    monkeypatch.setattr(watch, "PARALLEL_MIN", 1)
    cfg = load(write_config(tmp_path, port=dovecot.port, imap_extra="batch_size = 100"))
    sync_staff(cfg)
    sizes = []
    real_submit = watch.Analyzer.submit

    def spy(self, items):
        if items:  # start() sends empty batches to start the helpers
            sizes.append(len(items))
        return real_submit(self, items)

    monkeypatch.setattr(watch.Analyzer, "submit", spy)
    intake = watch.Intake(cfg, SystemClock(), threading.Event())
    dovecot.append_many([mail(i) for i in range(300)])
    assert intake.once() == 300
    assert sizes == [100, 100]  # the first batch was parsed here while the fork server started
    sizes.clear()
    dovecot.append_many([mail(i) for i in range(300, 600)])
    assert intake.once() == 300
    assert sizes == [100, 100, 100]
    assert count(cfg.store_path, "tickets") == 600


def test_a_failing_helper_falls_back_to_parsing_here(tmp_path):
    from concurrent.futures import Future

    from tests.factories import desk_config

    analyzer = watch.Analyzer(desk_config(tmp_path))
    fut = Future()
    fut.set_exception(RuntimeError("helper died"))
    assert analyzer.result(fut) is None  # None: file_messages parses in-process
    assert analyzer.broken and analyzer.submit([Incoming(raw=b"x")]) is None  # for the rest of this backlog
    analyzer.close()  # the backlog is done; the next one tries helpers again
    try:
        again = analyzer.submit([Incoming(raw=mail(1))])
        assert again is not None and [a.subject for a in analyzer.result(again)] == ["test 1"]
    finally:
        analyzer.close()


@pytest.mark.parametrize("how", ["pidfd", "polling"])
def test_a_helper_exits_when_the_poller_is_gone(how):
    import subprocess
    import sys

    poller = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    watch = "os.pidfd_open(pid)" if how == "pidfd" else "None"  # polling: where there is no pidfd
    helper = subprocess.Popen([sys.executable, "-c", f"import os, time; from console.intake.analysis import _exit_with;"
                                                     f" pid = {poller.pid}; _exit_with(pid, {watch}, 0.05); time.sleep(60)"],
                              cwd=Path(__file__).resolve().parents[2])
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            helper.wait(timeout=0.5)  # the poller is alive: the helper stays
        poller.kill()
        poller.wait(timeout=10)
        assert helper.wait(timeout=10) == 0  # exits at once, without the 60 s sleep
    finally:
        for p in (poller, helper):
            if p.poll() is None:
                p.kill()
                p.wait()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its parent's reaping is left


def _nice(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
    except OSError:
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_helper_processes_die_with_a_sigkilled_poller(dovecot, tmp_path, pollers, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, DESK_PASSWORD)
    dovecot.deliver_files([mail(i) for i in range(6000)])
    cfg = write_config(tmp_path, port=dovecot.port, imap_extra="batch_size = 100")
    db = tmp_path / "support.db"
    p = pollers.start(cfg)
    left: set[int] = set()  # the fork server, the helpers forked from it and multiprocessing's tracker

    def parsing_in_helpers() -> bool:
        mp = {c for c in _children(p.pid) if "multiprocessing" in _cmdline(c)}
        helpers = {h for c in mp for h in _children(c)}
        left.update(mp | helpers)
        return len(helpers) == watch.HELPERS or not p.alive()

    wait_until(parsing_in_helpers, 60, "the backlog's helper processes")
    assert p.alive(), p.log()[-3000:]
    helpers = left - _children(p.pid)  # not the fork server or the tracker
    # The poller keeps the CPU it needs: helpers lower their priority as they start.
    wait_until(lambda: {_nice(h) for h in helpers} == {min(19, _nice(p.pid) + HELPER_NICE)}, 10,
               "helpers at a lower priority")
    os.kill(p.pid, signal.SIGKILL)  # the poller alone, not its process group: nobody tells the helpers
    p.proc.wait(timeout=10)
    wait_until(lambda: not any(_running(h) for h in left), 10, "the helper processes to exit")
    assert count(db, "message_sources") < 6000  # killed mid-backlog, not after it
