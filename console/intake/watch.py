"""Watching one mailbox: sync new mail above the watermark, then IDLE (or poll) until stopped."""
from __future__ import annotations

import logging
import multiprocessing
import os
import sqlite3
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor

from console.clock import Clock
from console.config import Config
from console.intake import imap
from console.intake.analysis import Analysis, analyze_batch, start_helper
from console.intake.pipeline import Incoming, file_messages, max_bytes
from store import mailbox, open_db
from store.db import StoreError

log = logging.getLogger("support_console.intake")

LIVENESS_SECONDS = 30.0  # NOOP during IDLE: a dropped connection looks exactly like silence
PARALLEL_MIN = 400  # a backlog this big is parsed in a helper process; below it the process costs more
HELPERS = 2  # parsing processes: MIME mail takes ~1 ms to parse (the stdlib compiles a regex per boundary)
# What a helper needs, imported once by the fork server so that each helper starts in milliseconds.
# "__main__": multiprocessing imports the poller's main module (the small launcher) in every child.
HELPER_MODULES = ["__main__", "console.intake.analysis", "console.config"]


def _helper_context() -> multiprocessing.context.BaseContext:
    """Helpers are forked from multiprocessing's fork server, a clean process started once per poller.

    Not plain fork: this process has threads (scheduler, senders), open sqlite handles and the mailbox
    flock, none of which a child may inherit. Not spawn: each helper would start Python and import the
    parser again (~0.2 s of CPU each, on every backlog). The fork server stays for the poller's life.
    """
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(HELPER_MODULES)
    return ctx


_helpers_ready = False  # a helper has answered in this process: the fork server is up, helpers fork fast


class Analyzer:
    """Parses and classifies a big backlog in a helper process while this one fetches and commits.

    Parsing is pure, GIL-bound Python, so a thread would share this core; a process uses the other.
    Anything wrong with a helper falls back to parsing here for the rest of the backlog: it is an
    accelerator, never a dependency.
    """

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.pool: ProcessPoolExecutor | None = None
        self.broken = False

    def start(self) -> None:
        """Start the helper processes now, so that they are ready by the second batch."""
        for _ in range(HELPERS):
            self.submit([])

    @property
    def ready(self) -> bool:
        """Whether helpers start in milliseconds here. Until the fork server is up (about 0.15 s, on the
        poller's first backlog) the first batch is parsed in this process instead of waiting."""
        return _helpers_ready and not self.broken

    def submit(self, items: list[Incoming]) -> Future | None:
        if self.broken:
            return None
        try:
            if self.pool is None:
                self.pool = ProcessPoolExecutor(max_workers=HELPERS, mp_context=_helper_context(),
                                                initializer=start_helper, initargs=(os.getpid(),))
            return self.pool.submit(analyze_batch, [it.raw for it in items], self.cfg.routing, max_bytes(self.cfg),
                                    [it.received_at for it in items], self.cfg.sla)
        except Exception as exc:  # noqa: BLE001
            log.warning("parsing in a helper process is off (%s); parsing here", type(exc).__name__)
            self.broken = True
            return None

    def result(self, fut: Future | None) -> list[Analysis] | None:
        if fut is None:
            return None  # file_messages parses in this process
        try:
            analyses = fut.result(timeout=300)
        except Exception as exc:  # noqa: BLE001
            log.warning("helper process failed (%s); parsing this batch here", type(exc).__name__)
            self.broken = True
            return None
        global _helpers_ready
        _helpers_ready = True
        return analyses

    def close(self) -> None:
        """Stop the helpers (at the end of each backlog). A poller runs for months: helpers that failed
        during this backlog get another chance at the next one, with a new pool."""
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
        self.broken = False


class Intake:
    """One mailbox: sync new mail, then IDLE (or poll) until stopped."""

    def __init__(self, cfg: Config, clock: Clock, stop: threading.Event, on_commit=None):
        assert cfg.imap is not None
        self.cfg, self.imap, self.clock, self.stop = cfg, cfg.imap, clock, stop
        self.on_commit = on_commit or (lambda n: None)
        self.db = open_db(cfg.store_path)
        self.password = imap.resolve_password(cfg.imap)
        self.backoff = imap.Backoff()
        self.analyzer = Analyzer(cfg)

    def sync(self, client) -> int:
        """Fetch everything above the watermark; a UIDVALIDITY change rescans the whole folder."""
        uidvalidity = imap.select(client, self.imap)
        wm = mailbox.get_watermark(self.db, self.imap.account, self.imap.folder)
        last_uid = 0
        if wm is not None:
            if wm[0] != uidvalidity:
                log.warning("UIDVALIDITY of %s changed (%s -> %s): rescanning; duplicates are dropped by content",
                            self.imap.folder, wm[0], uidvalidity)
            else:
                last_uid = wm[1]
        uids = imap.new_uids(client, last_uid)
        key = (self.imap.account, self.imap.folder, uidvalidity)
        parallel = len(uids) >= PARALLEL_MIN
        stored = 0
        # Batches are committed strictly in UID order (the watermark moves with each commit). For a big
        # backlog the helpers parse the next HELPERS batches while the oldest fetched one is committed;
        # on the poller's first backlog the first batch is parsed here while they start.
        here_first = parallel and not self.analyzer.ready
        if parallel:
            self.analyzer.start()
        pending: deque[tuple[list[int], list[Incoming], Future | None]] = deque()
        for i in range(0, len(uids), self.imap.batch_size):
            if self.stop.is_set():  # SIGTERM mid-backlog: stop after committing what was fetched
                break
            batch = uids[i:i + self.imap.batch_size]
            fetched = imap.fetch_batch(client, batch)
            items = [Incoming(raw=f.raw, received_at=f.internaldate, uid=f.uid) for f in fetched]
            helped = parallel and (i > 0 or not here_first)
            pending.append((batch, items, self.analyzer.submit(items) if helped else None))
            if len(pending) > (HELPERS if parallel else 0):
                stored += self._commit(client, key, *pending.popleft())
        while pending:
            stored += self._commit(client, key, *pending.popleft())
        if parallel:
            self.analyzer.close()  # backlogs are rare; do not keep a process idling
        if uids:
            log.info("%s: %d new message(s), %d stored", self.imap.folder, len(uids), stored)
        return stored

    def _commit(self, client, key, batch: list[int], items: list[Incoming], fut: Future | None) -> int:
        analyses = self.analyzer.result(fut)
        filed = file_messages(self.db, self.cfg, items, self.clock.now(), source="imap", mailbox_key=key,
                              last_uid=batch[-1], analyses=analyses)
        self.on_commit(len(filed))
        self._mark_processed(client, [f.uid for f in filed])
        return sum(1 for f in filed if f.outcome != "duplicate")

    def _mark_processed(self, client, uids: list[int]) -> None:
        # Cosmetic and idempotent, only after the commit; failure changes nothing we rely on.
        if self.imap.processed_keyword and uids:
            try:
                client.add_flags(uids, [self.imap.processed_keyword.encode()], silent=True)
            except Exception as exc:  # noqa: BLE001
                log.debug("could not set keyword: %s", type(exc).__name__)

    def once(self) -> int:
        client = imap.connect(self.imap, self.password)
        try:
            return self.sync(client)
        finally:
            self.analyzer.close()
            _logout(client)

    def run(self) -> None:
        lost = False
        while not self.stop.is_set():
            client = None
            try:
                client = imap.connect(self.imap, self.password)
                self.sync(client)
                idle = self.imap.idle and b"IDLE" in client.capabilities()
                log.info("%s to %s:%d as %s; watching %s (%s)", "reconnected" if lost else "connected",
                         self.imap.host, self.imap.port, self.imap.username, self.imap.folder,
                         "IDLE" if idle else f"polling every {self.imap.poll_seconds:g}s")
                self.backoff.reset()
                lost = False
                if idle:
                    self._idle_loop(client)
                else:
                    self._poll_loop(client)
            except imap.IntakeError as exc:
                if exc.permanent:
                    raise  # configuration problems do not heal by retrying
                lost = True
                self._pause(exc)
            except (OSError, imap.IMAPClientError, EOFError) as exc:
                lost = True
                self._pause(exc)
            except (StoreError, sqlite3.OperationalError) as exc:
                # A console holding the write lock past the busy timeout (or a full disk) must not kill
                # intake: nothing was committed for this batch, the watermark did not move; retry later.
                lost = True
                self._pause(exc, what="database unavailable")
            finally:
                self.analyzer.close()  # a sync cut short may have left the helper process running
                if client is not None:
                    _logout(client)

    def _pause(self, exc: Exception, what: str = "IMAP connection lost") -> None:
        delay = self.backoff.next()
        log.warning("%s (%s); reconnecting in %.0fs", what, _describe(exc), delay)
        self.stop.wait(delay)

    def _idle_loop(self, client) -> None:
        client.idle()
        started = last_check = time.monotonic()
        while not self.stop.is_set():
            t0 = time.monotonic()
            responses = client.idle_check(timeout=1.0)
            now = time.monotonic()
            if any(r[0] == b"BYE" for r in responses if isinstance(r, tuple) and r):
                raise ConnectionAbortedError("server said BYE")
            news = [r for r in responses if isinstance(r, tuple) and len(r) > 1 and r[1] in (b"EXISTS", b"RECENT")]
            suspicious = not responses and now - t0 < 0.5  # EOF returns [] at once, forever
            if news or now - started >= self.imap.idle_refresh_seconds or now - last_check >= LIVENESS_SECONDS \
                    or suspicious:
                client.idle_done()  # raises on a dead connection
                client.noop()
                if news or suspicious:
                    self.sync(client)
                client.idle()
                started = last_check = time.monotonic()
        client.idle_done()

    def _poll_loop(self, client) -> None:
        while not self.stop.wait(self.imap.poll_seconds):
            client.noop()
            self.sync(client)


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _logout(client) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass
