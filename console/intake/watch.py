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
from console.intake import first_sync as history, imap
from console.intake.parse import routed_in_headers
from console.intake.pipeline import Incoming, file_messages, retry_delay
from console.oauth import SignInLost, TokenUnavailable, credential
from console.oauth.session import REFRESH_MARGIN
from store import audit, first_sync, heartbeat, mailbox, open_db, write
from store.db import StoreError
from store.errors import WillPass
from store.times import iso, parse_iso

log = logging.getLogger("support_console.intake")

LIVENESS_SECONDS = 30.0  # DONE + NOOP during IDLE: a dropped connection looks exactly like silence
# Dovecot 2.3 does not announce, during IDLE, mail that arrived between a command's reply and the start of
# IDLE, nor (if DONE comes first) mail its ~0.5 s notification delay was still holding: it waits for its
# own 30 s check. So this soon after each entry into IDLE that follows a sync, intake leaves IDLE once,
# looks for new UIDs, and goes straight back in when there are none.
PROBE_SECONDS = 0.2
# Cyrus without idled (Debian's default) announces new mail only in replies to DONE or NOOP. Until a server
# has announced mail during IDLE, intake leaves IDLE this often for DONE, NOOP and IDLE again: three
# one-line commands, no SELECT or SEARCH unless something was announced. A Class III is then filed within
# about this long plus the fetch; once the server shows it pushes, the checks drop to LIVENESS_SECONDS.
ASK_SECONDS = 2.5
NEWS = (b"EXISTS", b"RECENT")
# At most this many bytes of mail (by the server's RFC822.SIZE) are fetched and filed in one batch: peak
# memory is a fixed base plus about twice a batch's bytes (the bytes read, and the copies parsing makes),
# so a backlog of 20 MB attachments files within a few hundred MB. A bigger single message goes alone.
BATCH_BYTES = 32 * 1024 * 1024
TRIAGE_CHUNK = 1000  # UIDs per FETCH of a backlog's recipient headers (_urgent_first), newest first
RECHECK_SECONDS = 1.0  # while filing a long backlog, look this often for urgent mail that landed since


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
                 connect: Callable = imap.connect, ask_seconds: float | None = None,
                 mailbox: ImapConfig | None = None):
        assert cfg.imap is not None
        self.cfg, self.imap, self.clock, self.stop = cfg, mailbox or cfg.imap, clock, stop
        self.on_commit = on_commit or (lambda n: None)
        self.liveness_seconds, self.monotonic, self.connect = liveness_seconds, monotonic, connect
        self.ask_seconds = ask_seconds if ask_seconds is not None else ASK_SECONDS
        # Whether this server has announced new mail during IDLE. Until it does (and again after it let
        # mail wait for DONE or NOOP), intake asks every ask_seconds.
        self.pushes = False
        self._idle_since = self._looked_at = self._asked_at = 0.0
        self._probed = False
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
                       "label": self.imap.name,  # shown instead of account/folder when the mailbox is named
                       **health.carried_over(heartbeat.get(self.db, self.name), clock.now())}
        self.unannounced = 0  # messages found that no response had announced (diagnostics, tests)
        self._view: int | None = None  # the UIDVALIDITY being synced, which a renewed connection must show
        self._early: set[tuple[int, int]] = set()  # (uidvalidity, uid) filed ahead of the in-order pass
        self._top = 0  # the highest UID looked at in this sync (_recheck looks above it)
        self._checked = 0.0  # monotonic time of the last _recheck

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
        self._view = view.uidvalidity
        fs = self._first_sync(client, view.uidvalidity)
        while not self.stop.is_set():
            wm = mailbox.get_watermark(self.db, self.imap.account or "", self.imap.folder)
            last_uid = 0
            if wm is not None:
                if wm[0] != view.uidvalidity:
                    log.warning("UIDVALIDITY of %s changed (%s -> %s): rescanning; duplicates are dropped by content",
                                self.imap.folder, wm[0], view.uidvalidity)
                else:
                    last_uid = wm[1]
            uids = imap.new_uids(client, last_uid)
            if uids:
                # Mail above the watermark arrived after the last sync that reached the end of the mailbox
                # (not known after a UIDVALIDITY change or before the first sync): clock_skew's bound.
                synced = parse_iso(self.status.get("last_sync_at")) if last_uid else None
                stored += self._file(client, view.uidvalidity, uids, not_before=synced, fs=fs)
            again = imap.select_state(client, self.imap)
            if not uids and again == view:
                break
            view = again
            self._view = view.uidvalidity
        if fs is not None and not self.stop.is_set():
            with write(self.db):  # the history is filed: one summary page, and the first sync is over
                summary = history.summarise(self.db, self.cfg, fs, self.clock.now())
            if summary:
                self.on_commit(0)  # wakes the scheduler for the summary page
        if not self.stop.is_set():
            stored += self.retry_unreadable(client, view.uidvalidity)
        self.status.update(state=prior_state if prior_state != "syncing" else "idle",
                           last_sync_at=iso(self.clock.now()), waiting=0)
        if beat:
            self._beat()
        return stored

    def _key(self, uidvalidity: int) -> tuple[str, str, int]:
        """(account, folder, uidvalidity): the mailbox view a message's source is recorded under."""
        return self.imap.account or "", self.imap.folder, uidvalidity

    def _first_sync(self, client, uidvalidity: int) -> first_sync.FirstSync | None:
        """The mailbox's first sync while its history is being filed, else None. The first time the desk
        reads a mailbox (no watermark, no first sync noted), the UIDs in it now are noted as its history."""
        account, folder = self.imap.account or "", self.imap.folder
        fs = first_sync.get(self.db, account, folder)
        if fs is None:
            if mailbox.get_watermark(self.db, account, folder) is not None:
                return None  # read before first syncs were noted (an older version): nothing is history
            top = max(imap.new_uids(client, 0), default=0)
            with write(self.db):
                fs = first_sync.start(self.db, account, folder, uidvalidity, top, self.clock.now())
            if top:
                log.info("%s: first sync: the mail up to UID %d is its history, filed without a page each; the "
                         "supervisors get one summary", folder, top)
        return fs if fs.summarised_at is None else None

    def _file_early(self, client, key: tuple[str, str, int], fs: first_sync.FirstSync, not_before) -> int:
        """During a first sync, mail that arrived after it began is filed (and paged) before the rest of the
        history, out of order like urgent mail (the in-order pass skips it; the watermark moves only there)."""
        client.noop()  # lets the server bring this session's view up to date (a SEARCH alone may not)
        fresh = [u for u in imap.new_uids(client, fs.history_top)
                 if u > fs.history_top and (key[2], u) not in self._early]
        if not fresh:
            return 0
        stored = 0
        for batch in self._batches(client, fresh):
            stored += self._file_batch(client, key, batch, not_before, last_uid=None)
            self._early.update((key[2], u) for u in batch)
        log.info("%s: %d message(s) that arrived during the first sync filed ahead of its history", self.imap.folder,
                 len(fresh))
        return stored

    def _file(self, client, uidvalidity: int, uids: list[int], not_before=None,
              fs: first_sync.FirstSync | None = None) -> int:
        self._beat(state="syncing", waiting=len(uids))
        key = self._key(uidvalidity)
        stored = 0
        done = 0
        sizes: dict[int, int] | None = None
        urgent_routing = bool(self.cfg.routing.urgent)
        self._top, self._checked = max(self._top, uids[-1]), self.monotonic()
        if len(uids) > self.imap.batch_size and urgent_routing and fs is None:  # (a first sync: history)
            found, sizes = self._urgent_first(client, key, uids, not_before)
            stored += found
        for batch in self._batches(client, uids, sizes):
            if self.stop.is_set():  # SIGTERM mid-backlog: stop after committing what was fetched
                break
            if fs is not None and batch[0] <= fs.history_top:  # history still ahead of whatever is new
                stored += self._file_early(client, key, fs, not_before)
            elif urgent_routing:
                stored += self._recheck(client, key, not_before)
            todo = [u for u in batch if (uidvalidity, u) not in self._early]
            stored += self._file_batch(client, key, todo, not_before, last_uid=batch[-1], fs=fs)
            self._early.difference_update((uidvalidity, u) for u in batch)
            done += len(batch)
            self._beat(waiting=len(uids) - done)
        log.info("%s: %d new message(s), %d stored", self.imap.folder, len(uids), stored)
        return stored

    def _recheck(self, client, key: tuple[str, str, int], not_before) -> int:
        """While a long backlog is filed (and triaged): every RECHECK_SECONDS, look for mail that landed
        since and file what of it goes to an urgent address, so it is not left behind the backlog."""
        if self.monotonic() - self._checked < RECHECK_SECONDS:
            return 0
        self._checked = self.monotonic()
        client.noop()  # Dovecot looks at a Maildir's new/ again on NOOP, not on SEARCH
        more = [u for u in imap.new_uids(client, self._top) if u > self._top]
        if not more:
            return 0
        self._top = more[-1]
        return self._urgent_first(client, key, more, not_before)[0]

    def _urgent_first(self, client, key: tuple[str, str, int], uids: list[int], not_before
                      ) -> tuple[int, dict[int, int] | None]:
        """Read the recipient headers and sizes of these UIDs (no bodies), newest first, and file the mail
        to an urgent address at once. Out of order, so the watermark stays where it is: it moves only past
        what is filed, in the in-order pass, which skips what was filed here. Returns (stored, the sizes),
        or no sizes when the server would not give the headers (the backlog is then filed in order)."""
        sizes: dict[int, int] = {}
        stored = found = 0
        for end in range(len(uids), 0, -TRIAGE_CHUNK):
            if self.stop.is_set():
                return stored, None
            chunk = uids[max(0, end - TRIAGE_CHUNK):end]
            try:
                heads = imap.fetch_recipients(client, chunk)
            except imap.FetchRefused as exc:
                log.warning("%s: the server would not give the headers of the backlog (%s); filing it in order",
                            self.imap.folder, exc.answer)
                if exc.hung_up:
                    client.renew()
                return stored, None
            urgent = []
            for uid, block, size in heads:
                if size is not None:
                    sizes[uid] = size
                if (key[2], uid) not in self._early and routed_in_headers(block, self.cfg.routing.urgent):
                    urgent.append(uid)
            for batch in self._batches(client, urgent, sizes):
                stored += self._file_batch(client, key, batch, not_before, last_uid=None)
                self._early.update((key[2], u) for u in batch)
                found += len(batch)
            if uids[-1] >= self._top:  # the newest part of the mailbox: mail may have landed above it meanwhile
                self._top = uids[-1]
                stored += self._recheck(client, key, not_before)
        if found:
            log.info("%s: %d message(s) to an urgent address filed first, out of a backlog of %d",
                     self.imap.folder, found, len(uids))
        return stored, sizes

    def _file_batch(self, client, key: tuple[str, str, int], batch: list[int], not_before,
                    last_uid: int | None, fs: first_sync.FirstSync | None = None) -> int:
        """Fetch and file one batch; with last_uid the watermark moves to it in the same commit. With a first
        sync, what is its history is filed as such (no page, no receipt)."""
        fetched, refused = self._fetch(client, batch) if batch else ([], [])
        items = [Incoming(raw=f.raw, received_at=f.internaldate, uid=f.uid, not_before=not_before,
                          history=fs is not None and fs.is_history(key[2], f.uid))
                 for f in fetched]
        del fetched  # the raw bytes live on in items only: a batch's bytes are held once, not twice
        filed = file_messages(self.db, self.cfg, items, self.clock.now(), source="imap", mailbox_key=key,
                              last_uid=last_uid, unreadable=refused, move_watermark=last_uid is not None)
        del items
        self.on_commit(len(filed))
        self._mark_processed(client, [f.uid for f in filed if f.outcome != "unreadable" and f.uid is not None])
        return sum(1 for f in filed if f.outcome != "duplicate")

    def _batches(self, client, uids: list[int], sizes: dict[int, int] | None = None):
        """The UIDs in order, in batches of at most batch_size messages and BATCH_BYTES bytes (by the sizes
        the server gives first), so that memory stays bounded whatever the mail weighs."""
        for i in range(0, len(uids), self.imap.batch_size):
            chunk = uids[i:i + self.imap.batch_size]
            known = sizes if sizes is not None and all(u in sizes for u in chunk) else None
            if known is None:
                try:
                    known = imap.fetch_sizes(client, chunk)
                except imap.FetchRefused as exc:  # one message's size cannot be had: take them one at a time
                    log.warning("%s: the server refused the sizes of %d messages (%s); fetching them one at a "
                                "time", self.imap.folder, len(chunk), exc.answer)
                    if exc.hung_up:
                        client.renew()
            yield from imap.by_bytes(chunk, known, BATCH_BYTES)

    def _fetch(self, client, uids: list[int]) -> tuple[list[imap.Fetched], list[tuple[int, str]]]:
        """A batch, or, when the server refuses it, each message alone: one it will not give (a file it
        cannot read) is returned as (uid, its answer) and stops nothing behind it."""
        try:
            return imap.fetch_batch(client, uids), []
        except imap.FetchRefused as exc:
            if len(uids) > 1:
                log.warning("%s: the server refused a FETCH of %d messages (%s); fetching them one at a time",
                            self.imap.folder, len(uids), exc.answer)
            if exc.hung_up:
                client.renew()
            return imap.fetch_each(client, uids, client.renew)

    def retry_unreadable(self, client, uidvalidity: int) -> int:
        """Ask again for messages the server would not give, whose next try has come. One it now gives is
        filed as any mail is (its placeholder resolved, pointing to it); one no longer there is let go."""
        now = self.clock.now()
        key = self._key(uidvalidity)
        due = mailbox.unreadable_due(self.db, *key, now)
        filed = 0
        for row in due:
            if self.stop.is_set():
                break
            uid = row["uid"]
            try:
                got = imap.fetch_batch(client, [uid])
            except imap.FetchRefused as exc:
                if exc.hung_up:
                    client.renew()
                with write(self.db):
                    mailbox.retry_unreadable_later(self.db, *key, uid, answer=exc.answer, now=now,
                                                   next_try_at=now + retry_delay(row["attempts"] + 1))
                continue
            if not got:  # expunged meanwhile: nothing left to read; the placeholder stays for a person
                with write(self.db):
                    mailbox.close_unreadable(self.db, *key, uid, state="gone", now=now)
                    if row["ticket_id"] is not None:
                        audit.add_event(self.db, row["ticket_id"], "unreadable_gone", "intake", now, uid=uid)
                continue
            items = [Incoming(raw=f.raw, received_at=f.internaldate, uid=f.uid, retried=True) for f in got]
            done = file_messages(self.db, self.cfg, items, self.clock.now(), source="imap", mailbox_key=key)
            self.on_commit(len(done))
            self._mark_processed(client, [f.uid for f in done if f.uid is not None])
            filed += len(done)
            log.info("%s: UID %d, which the server would not give before, was read and filed", self.imap.folder, uid)
        return filed

    def _mark_processed(self, client, uids: list[int]) -> None:
        # Cosmetic and idempotent, only after the commit; failure changes nothing we rely on.
        if self.imap.processed_keyword and uids:
            try:
                client.add_flags(uids, [self.imap.processed_keyword.encode()], silent=True)
            except Exception as exc:  # noqa: BLE001
                log.debug("could not set keyword: %s", type(exc).__name__)

    # --- connecting ----------------------------------------------------------------------------

    def _open(self) -> _Session:
        """A logged-in connection that can be renewed in place (see _Session)."""
        return _Session(self.connect(self.imap, self.secret()), self._renewed)

    def _renewed(self):
        client = self.connect(self.imap, self.secret())
        try:
            view = imap.select_state(client, self.imap)
            if self._view is not None and view.uidvalidity != self._view:
                raise imap.IntakeError(f"UIDVALIDITY of {self.imap.folder} changed while reconnecting")
        except BaseException:
            _logout(client)
            raise
        return client

    def once(self) -> int:
        try:
            client = self._open()
        except SignInLost as exc:
            self._beat(state="signed_out", last_error=str(exc), last_error_at=iso(self.clock.now()))
            log.error("%s", exc)
            return 0
        except imap.IntakeError as exc:  # recorded: run from a timer, failures must show as staleness too
            self._beat(state="error", last_error=str(exc), last_error_at=iso(self.clock.now()))
            raise
        try:
            self.status.update(ever_connected=True, state="polling")
            return self.sync(client)
        except (imap.IntakeError, OSError, imap.IMAPClientError, EOFError) as exc:
            self._beat(state="error", last_error=f"IMAP connection lost ({_describe(exc)})",
                       last_error_at=iso(self.clock.now()))
            raise
        finally:
            _logout(client)

    def run(self) -> None:
        lost = False
        self._beat(state="connecting")
        while not self.stop.is_set():
            client = None
            try:
                client = self._open()
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
        # Told to stop: the next start of this mailbox counts a possible outage from then, not from the last
        # sync (a poller stopped for maintenance is not stale the moment it starts again).
        self._beat(state="stopped")

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
            # Wake for the probe, the quick ask and the liveness check on time, and at least every second
            # for the stop flag.
            quick = None if self.pushes else min(self.liveness_seconds, self.ask_seconds)
            targets = [self._looked_at + self.liveness_seconds]
            if not self._probed:
                targets.append(self._idle_since + PROBE_SECONDS)
            if quick is not None:
                targets.append(self._asked_at + quick)
            wait = max(0.05, min(1.0, min(targets) - t0))
            responses = client.idle_check(timeout=wait)
            now = self.monotonic()
            if _bye(responses):
                raise ConnectionAbortedError("server said BYE")
            pushed = _news(responses)
            if pushed and not self.pushes:
                self.pushes = True
                log.info("%s: the server announces new mail during IDLE; checking every %gs",
                         self.imap.folder, self.liveness_seconds)
            suspicious = not responses and now - t0 < wait / 2  # EOF returns [] at once, forever
            due = pushed or suspicious or now - self._looked_at >= self.liveness_seconds \
                or now - self._idle_since >= self.imap.idle_refresh_seconds
            probe = not self._probed and now - self._idle_since >= PROBE_SECONDS
            ask = quick is not None and now - self._asked_at >= quick
            if not (due or probe or ask):
                continue
            _, done = client.idle_done()  # raises on a dead connection
            said = _news(done)
            if not due:
                # The probe (whatever arrived around the start of IDLE is taken now), or the quick ask of a
                # server not known to push: DONE and NOOP are where such a server announces new mail.
                if ask:
                    _, more = client.noop()
                    self._asked_at = now
                    said = said or _news(more)
                if (said or probe) and self._look(client, said, held_back=said):
                    self._enter_idle(client)
                    continue
                if probe:
                    self._probed = True
                client.idle()  # no heartbeat write: a quick ask comes every few seconds
                continue
            _, more = client.noop()
            said = said or _news(more)
            self._look(client, pushed or said, held_back=said and not pushed)
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
        self._idle_since = self._looked_at = self._asked_at = self.monotonic()
        self._probed = False
        self._beat()  # after IDLE began: a write here would widen the window the probe is for

    def _poll_loop(self, client) -> None:
        while not self.stop.wait(self.imap.poll_seconds):
            _, responses = client.noop()
            self._look(client, _news(responses))
            self._beat()

    def _look(self, client, announced: bool, *, held_back: bool = False) -> int:
        """Out of IDLE: file what is above the watermark, announced or not (the liveness compare).
        `held_back`: the news came in the reply to DONE or NOOP, not during IDLE. Mail found so, or found
        unannounced, means the server does not push (or not always): ask every ask_seconds again."""
        self._looked_at = self.monotonic()
        found = self.sync(client, beat=False)
        if found and not announced:
            self.unannounced += found
            log.info("%s: %d new message(s) found that the server had not announced", self.imap.folder, found)
        if found and (held_back or not announced) and self.pushes:
            self.pushes = False
            log.info("%s: the server did not announce new mail during IDLE; asking every %gs",
                     self.imap.folder, self.ask_seconds)
        return found


class _Session:
    """The connection intake works over. Dovecot hangs up on a client whose FETCH hit a file it cannot
    read (`* BYE FETCH failed`); renew() then logs in again, selects the folder and carries on in place,
    so the caller's loops keep their reference."""

    def __init__(self, client, renew: Callable[[], object]):
        self.client, self._renew = client, renew

    def __getattr__(self, name: str):
        return getattr(self.client, name)

    def renew(self) -> None:
        _logout(self.client)
        self.client = self._renew()


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _logout(client) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001
        with contextlib.suppress(Exception):
            client.shutdown()
