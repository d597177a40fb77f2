"""The headless loop: IMAP intake (IDLE push, poll fallback), escalation scheduling, dispatch, heartbeat.

Threads, each with its own SQLite connection: intake (IDLE, fetch, commit, then wake the scheduler),
the scheduler (console.scheduler) and its senders. The main thread only supervises: signals
(SIGTERM/SIGINT stop, SIGHUP reloads the config), and systemd's notification socket: READY=1 once
intake and the scheduler run, WATCHDOG=1 only while both show signs of life.
No Textual here: this runs on servers without a terminal.
"""
from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from console import housekeeping, logs, redact
from console.actions import sync_staff
from console.scheduler import Scheduler
from console.clock import Clock
from console.config import Config, ConfigError, load
from console.intake.watch import Intake
from console.locks import LockHeld, mailbox_lock, outbox_lock
from console.outbox import mail as delivery
from console.sdnotify import Notifier
from store.db import DatabaseFault
from store.fileguard import Guard

if TYPE_CHECKING:
    from console.web.ack_server import AckServer  # imported at run time only where links are served

log = logging.getLogger("support_console.poller")

# A component that has neither asked its stop flag nor waited on it for this long is hung. Intake asks
# at least every second while idle and between batches; its slowest single steps are network calls,
# each bounded by imap.timeout_seconds (HANG_SECONDS is raised to cover a few of them).
HANG_SECONDS = 90.0


def run(cfg: Config, clock: Clock, *, once: bool = False) -> int:
    """The `poll` command. Returns the exit status."""
    if once:
        sync_staff(cfg)
        with _ownership(cfg) as owns_outbox:
            guard = Guard(cfg.store_path)
            try:
                code = _run_once(cfg, clock, owns_outbox)
                fault = guard.check()
                if fault:
                    raise DatabaseFault(f"{fault}; the poller stopped. {guard.rescue()}")
                return code
            finally:
                guard.close()
    return Service(cfg, clock).run()


@contextlib.contextmanager
def _ownership(cfg: Config) -> Iterator[bool]:
    """Hold the mailbox lock (with IMAP) and, if free, the outbox lock; yields whether we own the outbox."""
    locks = []
    try:
        for m in cfg.imaps:  # one intake per mailbox, each owned by one poller
            locks.append(mailbox_lock(cfg.store_path, m.account, m.folder).acquire())
        try:
            locks.append(outbox_lock(cfg.store_path).acquire())
            owns_outbox = True
        except LockHeld as exc:
            if cfg.imap is None:
                raise
            log.info("%s; this poller only takes in mail", exc)
            owns_outbox = False
        yield owns_outbox
    finally:
        for lk in reversed(locks):
            lk.release()


def _run_once(cfg: Config, clock: Clock, owns_outbox: bool) -> int:
    stop = threading.Event()
    scheduler = Scheduler(cfg, clock, stop) if owns_outbox else None
    if scheduler:
        scheduler.start_up()
    failed: list[Exception] = []
    for m in cfg.imaps:  # each mailbox on its own: one that fails does not keep the others' mail out
        try:
            Intake(cfg, clock, stop, mailbox=m).once()
        except Exception as exc:  # noqa: BLE001 - reported after the others, as the run's failure
            if len(cfg.imaps) > 1:  # the first is the run's error line; say which mailbox each was
                log.error("mailbox %s: %s", m.label, exc)
            failed.append(exc)
    if scheduler:
        scheduler.cycle()
        weekly_digest(cfg, clock)  # queued before the mail outbox runs, so that it goes out in this cycle
        delivery.run_once(cfg, clock)  # replies: the mail outbox, under the same outbox lock
        scheduler.drain(cfg.alerts.send_timeout_seconds + 5)
        scheduler.beat(force=True)
        scheduler.close()
    if failed:
        raise failed[0]
    return 0


DIGEST_EVERY = 60.0  # seconds between looks at whether the weekly digest is due


def weekly_digest(cfg: Config, clock: Clock) -> list[int]:
    """Queue the weekly SLA digest if it is due ([reports] weekly); a failure is logged and tried again at
    the next look. Only the process that owns the outbox calls this."""
    if cfg.reports.weekly is None:
        return []
    import store
    from console.reports import digest

    try:
        db = store.open_db(cfg.store_path)
    except Exception as exc:  # noqa: BLE001 - the database busy: the next look tries again
        log.error("weekly SLA digest: cannot open the database (%s); trying again later", type(exc).__name__)
        return []
    try:
        return digest.send_weekly(db, cfg, clock.now())
    except Exception as exc:  # noqa: BLE001 - never stop the poller over a report
        log.error("weekly SLA digest failed (%s: %s); trying again later", type(exc).__name__, str(exc)[:200])
        return []
    finally:
        db.close()


class Beacon(threading.Event):
    """A component's stop flag that also tells whether the component is alive.

    Every loop of intake and of the scheduler asks its stop flag (is_set) at least every second or so,
    or sleeps on it (wait). A thread that has done neither for longer than its grace period is hung,
    whatever it is stuck in (a deadlock, a read without a timeout), and the watchdog stops pinging.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seen: float | None = None  # monotonic time it last asked; None: not started
        self.asks = 0
        self._waiting_until: float | None = None

    def is_set(self) -> bool:
        self.seen = time.monotonic()
        self.asks += 1
        return super().is_set()

    def wait(self, timeout: float | None = None) -> bool:
        now = time.monotonic()
        self.seen = now
        self.asks += 1
        self._waiting_until = math.inf if timeout is None else now + timeout
        try:
            return super().wait(timeout)
        finally:
            self._waiting_until = None
            self.seen = time.monotonic()

    def silent_for(self, now: float) -> float | None:
        """Seconds since the component last showed life (0 while it sleeps on this flag); None before
        it first asked."""
        if self.seen is None:
            return None
        until = self._waiting_until
        if until is not None and now <= until + 1.0:
            return 0.0
        return max(0.0, now - self.seen)


class Component:
    """One supervised thread: intake or the scheduler."""

    def __init__(self, name: str, target: Callable[[], None], beacon: Beacon, on_exit: Callable[[], None]):
        self.name, self.beacon = name, beacon
        self.error: BaseException | None = None
        self.finished = False
        self._target, self._on_exit = target, on_exit
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            self._target()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which stops and reports it
            self.error = exc
        finally:
            self.finished = True
            self._on_exit()

    def problem(self, now: float, grace: float) -> str | None:
        """Why this component does not count as alive now, or None.

        It is up once it has asked its flag twice, that is, been round its loop once: the scheduler has
        run a first cycle; intake has logged in and looked for mail, or failed and waits to retry (a
        wrong password ends the poller before it is ever ready)."""
        if self.finished or not self.thread.is_alive():
            return f"{self.name} stopped"
        silent = self.beacon.silent_for(now)
        if silent is None or self.beacon.asks < 2:
            return f"{self.name} starting"
        if silent > grace:
            return f"{self.name} silent for {silent:.0f}s"
        return None


class Service:
    """`support-console poll`: run intake and the scheduler until told to stop."""

    def __init__(self, cfg: Config, clock: Clock, *, notifier: Notifier | None = None, grace: float | None = None,
                 signals: bool = True, tick: float = 1.0):
        self.cfg, self.clock = cfg, clock
        self.notifier = notifier if notifier is not None else Notifier.from_env()
        imap_timeout = cfg.imap.timeout_seconds if cfg.imap is not None else 0.0
        self.grace = grace if grace is not None else max(HANG_SECONDS, 3 * imap_timeout)
        self.signals = signals
        watchdog = self.notifier.watchdog_seconds
        self.ping_every = watchdog / 2 if watchdog else None
        self.tick = min(tick, self.ping_every / 2) if self.ping_every else tick
        self.stop = threading.Event()
        self._wakeup = threading.Event()
        self._reload = False
        self._ended_by_itself = False
        self.components: list[Component] = []
        self.mail: delivery.MailSender | None = None  # its own thread: retried mail is not paging's critical path
        self.links: AckServer | None = None  # the acknowledge-link server, when ack_base_url is set
        self.scheduler: Scheduler | None = None
        self.intake: Intake | None = None  # the first mailbox's
        self.intakes: list[Intake] = []
        self.guard: Guard | None = None
        self.ready = False
        self._pinging = True
        self._next_ping = 0.0
        self.stopped_by: str | None = None  # "SIGTERM" or "SIGINT" (Ctrl-C): the stop line says what was left
        self._next_digest = 0.0

    # --- control, from signal handlers or tests --------------------------------------------------

    def request_stop(self) -> None:
        self.stop.set()
        self._wakeup.set()

    def request_reload(self) -> None:
        self._reload = True
        self._wakeup.set()

    def _on_signal(self, signum, frame) -> None:  # noqa: ARG002
        if signum == signal.SIGHUP:
            self.request_reload()
        else:
            self.stopped_by = signal.Signals(signum).name
            log.debug("signal %d: stopping", signum)  # one line is logged once stopped: what was left
            self.request_stop()

    # --- the loop ---------------------------------------------------------------------------------

    def run(self) -> int:
        if self.signals:  # first: SIGHUP's default action would kill a poller that is still starting
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, self._on_signal)
        sync_staff(self.cfg)
        with _ownership(self.cfg) as owns_outbox:
            self.guard = Guard(self.cfg.store_path)  # is the database still the file we opened? (each tick)
            try:
                if owns_outbox:
                    beacon = Beacon()
                    self.scheduler = Scheduler(self.cfg, self.clock, beacon)
                    self.scheduler.start_up()
                    self.components.append(Component("scheduler", self.scheduler.run, beacon, self._wakeup.set))
                scheduler = self.scheduler
                several = len(self.cfg.imaps) > 1
                for m in self.cfg.imaps:  # each mailbox its own connection, IDLE loop and heartbeat row
                    beacon = Beacon()
                    intake = Intake(self.cfg, self.clock, beacon, mailbox=m,
                                    on_commit=(lambda n: scheduler.wake.set()) if scheduler else None)
                    self.intakes.append(intake)
                    name = f"intake {m.label}" if several else "intake"
                    self.components.append(Component(name, intake.run, beacon, self._wakeup.set))
                self.intake = self.intakes[0] if self.intakes else None
                for c in self.components:
                    c.thread.start()
                if owns_outbox:
                    self.mail = delivery.start(self.cfg, self.clock, self.stop)
                    housekeeping.start(self.cfg, self.clock, self.stop)  # old pages pruned, hourly
                    if self.cfg.alerts.ack_base_url:  # its own thread; a failure there is only logged
                        from console.web import ack_server  # aiohttp: loaded only where links are served

                        self.links = ack_server.start(self.cfg, self.clock)
                self._supervise()
            finally:
                self._shut_down()
                fault = self.guard.check()
                if fault:  # after the threads stopped: what the guard saves is the poller's last state
                    how = self.guard.rescue()
                    self.guard.close()
                    raise DatabaseFault(f"{fault}; the poller stopped. {how}")
                self.guard.close()
        for c in self.components:
            if c.error is not None:
                raise c.error
        # A component that ended without being told to is a failure: systemd's Restart=on-failure restarts.
        return 1 if self._ended_by_itself else 0

    def _supervise(self) -> None:
        while not self.stop.is_set():
            fault = self.guard.check() if self.guard is not None else None
            if fault:  # never carry on (paging, filing) in a file nobody else sees; run() says why, once
                self._ended_by_itself = True
                return
            if self._reload:
                self._reload = False
                self.reload()
            ended = [c for c in self.components if c.finished]
            if ended:
                c = ended[0]
                self._ended_by_itself = True
                if c.error is None:  # an error is reported once, by the caller, as the poller's exit
                    log.error("%s stopped; stopping", c.name)
                return
            self._check(time.monotonic())
            if self.mail is not None and time.monotonic() >= self._next_digest:  # we own the outbox
                self._next_digest = time.monotonic() + DIGEST_EVERY
                weekly_digest(self.cfg, self.clock)
            self._wakeup.wait(self.tick)
            self._wakeup.clear()

    def _check(self, now: float) -> None:
        problems = [p for p in (c.problem(now, self.grace) for c in self.components) if p]
        if not self.ready:
            if problems:
                return
            self.ready = True
            names = " and ".join(c.name for c in self.components) or "nothing"
            log.info("ready: %s running", names)
            self.notifier.send(READY=1, STATUS=f"{names} running")
        if problems:
            if self._pinging:
                self._pinging = False
                log.error("watchdog: %s; no more pings, so the service manager restarts this poller",
                          "; ".join(problems))
                self.notifier.send(STATUS="; ".join(problems))
            return
        if not self._pinging:
            self._pinging = True
            log.info("watchdog: all running again")
            self.notifier.send(STATUS="running")
        if self.ping_every is not None and now >= self._next_ping:
            self.notifier.send(WATCHDOG=1)
            self._next_ping = now + self.ping_every

    def reload(self) -> bool:
        """SIGHUP: read the config again and hand it to intake, the scheduler, the mail sender and the link
        server, which pick it up at their next step (the IMAP connection stays). [imap] and [store] need a
        restart, and so does where the link server listens (ack_listen). A config that does not
        load is logged, and the running one kept."""
        old = self.cfg
        if old.path is None:
            log.warning("config reload: this poller was not started from a file")
            return False
        try:
            new = load(old.path)
        except ConfigError as exc:
            log.error("config reload failed: %s; keeping the running config", exc)
            return False
        kept = [name for name, a, b in (("[imap]", old.imaps, new.imaps), ("[store]", old.store_path, new.store_path))
                if a != b]
        if kept:
            log.warning("config reload: %s changes need a restart; running with the old %s", ", ".join(kept),
                        " and ".join(kept))
            new = new._replace(imap=old.imap, imaps=old.imaps, store_path=old.store_path)
        try:
            sync_staff(new)
        except Exception as exc:  # noqa: BLE001 - e.g. the database busy: keep running as we were
            log.error("config reload failed: cannot update the staff list (%s); keeping the running config",
                      type(exc).__name__)
            return False
        logs.set_secrets(redact.config_secrets(new))
        self.cfg = new
        if self.scheduler is not None:
            self.scheduler.cfg = new
            self.scheduler.wake.set()
        # Everyone who reads staff, on-call, routing or SLA takes the new config at their next step.
        for follower in (*self.intakes, self.mail, self.links):
            if follower is not None:
                follower.cfg = new
        log.info("config reloaded from %s (staff %d, rotation %s)", old.path, len(new.staff),
                 ", ".join(new.oncall.rotation) or "-")
        self.notifier.send(STATUS="config reloaded")
        return True

    def _shut_down(self) -> None:
        self.notifier.send(STOPPING=1)
        self.stop.set()
        if self.links is not None:
            self.links.stop()
        for c in self.components:
            c.beacon.set()
        if self.scheduler:
            self.scheduler.wake.set()
        for t in [c.thread for c in self.components] + ([self.mail.thread] if self.mail else []):
            if t is not None and t.ident is not None:  # a sender's thread is None until it starts
                t.join(timeout=5)
        if self.mail is not None:
            self.mail.close()
        if self.scheduler:
            self.scheduler.drain(5)
            self.scheduler.close()
        if self.stopped_by is not None:
            log.info("stopped by %s: %s", self.stopped_by, self.left_over())

    def left_over(self) -> str:
        """What a stop left for the next start, in words: pages and mail still to send, and intake's
        unfinished work (a batch whose thread had not finished is not committed: SQLite rolls it back, and
        its mail is fetched again; a backlog's later batches wait in the mailbox)."""
        from console import status
        from store import open_db

        said = []
        try:
            db = open_db(self.cfg.store_path, migrate=False)
            try:
                _, counts = status.health_inputs(db, self.clock.now(), sent_total=False)
            finally:
                db.conn.close()
            pages = counts.get("pending", 0) + counts.get("sending", 0) + counts.get("retrying", 0)
            mail = counts.get("mail_pending", 0)
            left = [f"{n} {noun}{'s' if n != 1 else ''}" for n, noun in ((pages, "page"), (mail, "outgoing mail")) if n]
            said.append(f"{' and '.join(left)} still to send (at the next start)" if left
                        else "no pages or mail waiting")
        except Exception as exc:  # noqa: BLE001 - the stop line must be written whatever the database says
            said.append(f"could not read the outbox ({type(exc).__name__})")
        intake = next((c for c in self.components if c.name == "intake"), None)
        if intake is not None and intake.thread.is_alive():
            said.append("intake was mid-batch: that batch is rolled back and fetched again at the next start")
        waiting = self.intake.status.get("waiting") if self.intake is not None else None
        if waiting:
            said.append(f"{waiting} message{'s' if waiting != 1 else ''} not yet filed stay in the mailbox")
        late = [c.name for c in self.components if c.name != "intake" and c.thread.is_alive()]
        sender = getattr(self.mail, "thread", None)  # delivery.start() gives the sender its thread
        if isinstance(sender, threading.Thread) and sender.is_alive():
            late.append("the mail sender")
        if late:
            said.append(f"{' and '.join(late)} cut short (a send under way is checked, not repeated, at the next "
                        "start)")
        return "; ".join(said)
