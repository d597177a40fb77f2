"""Watching one mailbox: sync new mail above the watermark, then IDLE (or poll) until stopped.

Servers announce new mail (`* n EXISTS`, `* n RECENT`) in untagged responses to any command: during IDLE,
but also in the reply to DONE (Dovecot, for mail that lands in the ~0.5 s before it) or only in replies to
DONE and NOOP (Cyrus without its idled). So every time intake leaves IDLE (news, the liveness check, the
IDLE refresh) it reads what DONE and NOOP return and then looks for UIDs above the watermark: whatever
the server announced or failed to announce, new mail is found within one liveness interval.

Intake writes its own heartbeat row (console/health.py documents it) at every change of state, after
every sync and at every liveness check, so that `status`, the console and the stale-intake page see
intake itself, not only the scheduler.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable

from console import health
from console.clock import Clock
from console.config import Config, ImapConfig
from console.intake import imap
from console.intake.pipeline import Incoming, file_messages
from console.oauth import SignInLost, TokenUnavailable, credential
from console.oauth.session import REFRESH_MARGIN
from store import heartbeat, mailbox, open_db, write
from store.db import StoreError
from store.errors import WillPass
from store.times import iso

log = logging.getLogger("support_console.intake")

LIVENESS_SECONDS = 30.0  # DONE + NOOP during IDLE: a dropped connection looks exactly like silence
# Dovecot 2.3 does not announce, during IDLE, mail that arrived between a command's reply and the start of
# IDLE, nor (if DONE comes first) mail its ~0.5 s notification delay was still holding: it waits for its
# own 30 s check. So this soon after each entry into IDLE that follows a sync, intake leaves IDLE once,
# looks for new UIDs, and goes straight back in when there are none.
PROBE_SECONDS = 0.2
NEWS = (b"EXISTS", b"RECENT")


def _news(responses) -> bool:
    return any(isinstance(r, tuple) and len(r) > 1 and r[1] in NEWS for r in responses or ())


class Reauthenticate(Exception):
    """The access token the connection logged in with is about to expire: log in again with a fresh one."""


def _bye(responses) -> bool:
    return any(isinstance(r, tuple) and r and r[0] == b"BYE" for r in responses or ())


class Intake:
    """One mailbox: sync new mail, then IDLE (or poll) until stopped."""

    def __init__(self, cfg: Config, clock: Clock, stop: threading.Event, on_commit=None, *,
                 liveness_seconds: float = LIVENESS_SECONDS, monotonic: Callable[[], float] = time.monotonic,
                 connect: Callable = imap.connect, mailbox: ImapConfig | None = None):
        assert cfg.imap is not None
        self.cfg, self.imap, self.clock, self.stop = cfg, mailbox or cfg.imap, clock, stop
        self.on_commit = on_commit or (lambda n: None)
        self.liveness_seconds, self.monotonic, self.connect = liveness_seconds, monotonic, connect
        self.db = open_db(cfg.store_path)
        self.secret: Callable[[], str]  # the password, or a fresh access token before every (re)connect
        if self.imap.auth == "oauth2":
            self.credential = credential(cfg.store_path, self.imap.label, self.imap)
            self.secret = self.credential.access_token
        else:
            password = imap.resolve_password(self.imap)
            self.secret = lambda: password
        self.backoff = imap.Backoff()
        self.name = f"{health.INTAKE_PREFIX}{self.imap.account}/{self.imap.folder}"
        self.status = {"state": "connecting", "ever_connected": False, "started_at": iso(clock.now()),
                       "last_sync_at": None, "last_error": None, "last_error_at": None, "waiting": None,
                       "label": self.imap.label}
        self.unannounced = 0  # messages found that no response had announced (diagnostics, tests)

    # --- the heartbeat row ---------------------------------------------------------------------

    def _beat(self, **changes) -> None:
        self.status.update(changes)
        try:
            with write(self.db):
                heartbeat.beat(self.db, self.name, self.clock.now(), pid=os.getpid(), host=socket.gethostname(),
                               **self.status)
        except (StoreError, WillPass, sqlite3.Error) as exc:  # liveness only: filing mail matters more
            log.debug("could not write intake's heartbeat: %s", exc)

    # --- syncing -------------------------------------------------------------------------------

    def sync(self, client, *, beat: bool = True) -> int:
        """File every UID above the watermark (a UIDVALIDITY change rescans the folder), until a fresh
        SELECT shows that nothing arrived meanwhile. Mail announced during our own commands (its EXISTS
        went to a FETCH or SEARCH reply, where imapclient does not hand it over) is taken too, and the IDLE
        that follows starts from a view holding everything filed. Returns how many messages were stored."""
        stored = 0
        prior_state = self.status["state"]
        view = imap.select_state(client, self.imap)
        while not self.stop.is_set():
            wm = mailbox.get_watermark(self.db, self.imap.account, self.imap.folder)
            last_uid = 0
            if wm is not None:
                if wm[0] != view.uidvalidity:
                    log.warning("UIDVALIDITY of %s changed (%s -> %s): rescanning; duplicates are dropped by content",
                                self.imap.folder, wm[0], view.uidvalidity)
                else:
                    last_uid = wm[1]
            uids = imap.new_uids(client, last_uid)
            if uids:
                stored += self._file(client, view.uidvalidity, uids)
            again = imap.select_state(client, self.imap)
            if not uids and again == view:
                break
            view = again
        self.status.update(state=prior_state if prior_state != "syncing" else "idle",
                           last_sync_at=iso(self.clock.now()), waiting=0)
        if beat:
            self._beat()
        return stored

    def _file(self, client, uidvalidity: int, uids: list[int]) -> int:
        self._beat(state="syncing", waiting=len(uids))
        key = (self.imap.account, self.imap.folder, uidvalidity)
        stored = 0
        for i in range(0, len(uids), self.imap.batch_size):
            if self.stop.is_set():  # SIGTERM mid-backlog: stop after committing what was fetched
                break
            batch = uids[i:i + self.imap.batch_size]
            fetched = imap.fetch_batch(client, batch)
            items = [Incoming(raw=f.raw, received_at=f.internaldate, uid=f.uid) for f in fetched]
            filed = file_messages(self.db, self.cfg, items, self.clock.now(), source="imap", mailbox_key=key,
                                  last_uid=batch[-1])
            self.on_commit(len(filed))
            self._mark_processed(client, [f.uid for f in filed])
            stored += sum(1 for f in filed if f.outcome != "duplicate")
            self._beat(waiting=len(uids) - i - len(batch))
        log.info("%s: %d new message(s), %d stored", self.imap.folder, len(uids), stored)
        return stored

    def _mark_processed(self, client, uids: list[int]) -> None:
        # Cosmetic and idempotent, only after the commit; failure changes nothing we rely on.
        if self.imap.processed_keyword and uids:
            try:
                client.add_flags(uids, [self.imap.processed_keyword.encode()], silent=True)
            except Exception as exc:  # noqa: BLE001
                log.debug("could not set keyword: %s", type(exc).__name__)

    # --- connecting ----------------------------------------------------------------------------

    def once(self) -> int:
        try:
            client = self.connect(self.imap, self.secret())
        except SignInLost as exc:
            self._beat(state="signed_out", last_error=str(exc), last_error_at=iso(self.clock.now()))
            log.error("%s", exc)
            return 0
        try:
            self.status.update(ever_connected=True, state="polling")
            return self.sync(client)
        finally:
            _logout(client)

    def run(self) -> None:
        lost = False
        self._beat(state="connecting")
        while not self.stop.is_set():
            client = None
            try:
                client = self.connect(self.imap, self.secret())
                self.status["ever_connected"] = True
                self._beat(state="syncing")
                idle = self.imap.idle and b"IDLE" in client.capabilities()
                imap.select(client, self.imap)  # a folder that cannot be selected stops here, before "watching"
                log.info("%s to %s:%d as %s; watching %s (%s)", "reconnected" if lost else "connected",
                         self.imap.host, self.imap.port, self.imap.username, self.imap.folder,
                         "IDLE" if idle else f"polling every {self.imap.poll_seconds:g}s")
                self.status["state"] = "idle" if idle else "polling"
                self.sync(client)
                self.backoff.reset()
                lost = False
                if idle:
                    self._idle_loop(client)
                else:
                    self._poll_loop(client)
            except SignInLost as exc:
                self._signed_out(exc)
            except Reauthenticate:
                log.info("%s: the access token expires soon; logging in again with a fresh one", self.imap.label)
            except TokenUnavailable as exc:
                lost = self._pause(exc, what="sign-in provider unavailable")
            except imap.IntakeError as exc:
                if exc.permanent:
                    self._beat(state="error", last_error=str(exc), last_error_at=iso(self.clock.now()))
                    raise  # configuration problems do not heal by retrying
                lost = self._pause(exc)
            except (OSError, imap.IMAPClientError, EOFError) as exc:
                lost = self._pause(exc)
            except (StoreError, WillPass, sqlite3.OperationalError) as exc:
                # A console holding the write lock past the busy timeout (or a full disk) must not kill
                # intake: nothing was committed for this batch, the watermark did not move; retry later.
                lost = self._pause(exc, what="database unavailable")
            finally:
                if client is not None:
                    _logout(client)

    def _signed_out(self, exc: SignInLost) -> None:
        """This mailbox stops (the others go on) with one line saying what to run, until someone signs in
        again: the token file is watched, and intake resumes by itself."""
        log.error("%s", exc)
        self._beat(state="signed_out", last_error=str(exc), last_error_at=iso(self.clock.now()))
        store = self.credential.store
        seen = store.stamp()
        beaten = self.monotonic()
        while not self.stop.wait(1.0):  # the token file is looked at every second, the heartbeat kept fresh
            if store.stamp() != seen:
                log.info("%s: signed in again; resuming", self.imap.label)
                return
            if self.monotonic() - beaten >= self.liveness_seconds:
                beaten = self.monotonic()
                self._beat()

    def _pause(self, exc: Exception, what: str | None = None) -> bool:
        if what is None:
            what = "IMAP connection lost" if self.status["ever_connected"] else "cannot connect"
        delay = self.backoff.next()
        text = f"{what} ({_describe(exc)})"
        log.warning("%s; %s in %.0fs", text, "reconnecting" if self.status["ever_connected"] else "retrying", delay)
        self._beat(state="error", last_error=text, last_error_at=iso(self.clock.now()))
        self.stop.wait(delay)
        return self.status["ever_connected"]

    # --- waiting for mail ----------------------------------------------------------------------

    def _idle_loop(self, client) -> None:
        self._enter_idle(client)
        while not self.stop.is_set():
            t0 = self.monotonic()
            # Wake for the probe and the liveness check on time, and at least every second for the stop flag.
            deadline = self._idle_since + (self.liveness_seconds if self._probed else PROBE_SECONDS)
            wait = max(0.05, min(1.0, deadline - t0))
            responses = client.idle_check(timeout=wait)
            now = self.monotonic()
            if _bye(responses):
                raise ConnectionAbortedError("server said BYE")
            announced = _news(responses)
            suspicious = not responses and now - t0 < wait / 2  # EOF returns [] at once, forever
            due = announced or suspicious or now - self._idle_since >= self.liveness_seconds \
                or now - self._idle_since >= self.imap.idle_refresh_seconds
            probe = not self._probed and now - self._idle_since >= PROBE_SECONDS
            if not (due or probe):
                continue
            _, done = client.idle_done()  # raises on a dead connection
            announced = announced or _news(done)
            if not due:  # the probe: whatever arrived around the start of IDLE is taken now
                if self._look(client, announced):
                    self._enter_idle(client)
                else:
                    self._probed = True
                    client.idle()
                continue
            _, more = client.noop()
            self._look(client, announced or _news(more))
            self._check_token()
            self._enter_idle(client)
        client.idle_done()

    def _check_token(self) -> None:
        """Before IDLE restarts: a token that would expire before the next look means logging in again now
        (servers such as Exchange end a session whose token expired)."""
        token = getattr(getattr(self, "credential", None), "last", None)
        if token is not None and token.expires_at - time.time() < REFRESH_MARGIN + self.liveness_seconds:
            raise Reauthenticate()

    def _enter_idle(self, client) -> None:
        client.idle()
        self._idle_since, self._probed = self.monotonic(), False
        self._beat()  # after IDLE began: a write here would widen the window the probe is for

    def _poll_loop(self, client) -> None:
        while not self.stop.wait(self.imap.poll_seconds):
            _, responses = client.noop()
            self._look(client, _news(responses))
            self._beat()

    def _look(self, client, announced: bool) -> int:
        """Out of IDLE: file what is above the watermark, announced or not (the liveness compare)."""
        found = self.sync(client, beat=False)
        if found and not announced:
            self.unannounced += found
            log.info("%s: %d new message(s) found that the server had not announced", self.imap.folder, found)
        return found


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _logout(client) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001
        with contextlib.suppress(Exception):
            client.shutdown()
