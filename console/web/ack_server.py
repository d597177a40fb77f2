"""The acknowledge links' HTTP side: aiohttp, in a thread of the poller, serving only the ack routes.

    GET  <path of ack_base_url>/<token>   shows the ticket's summary and a button; changes nothing
    POST <path of ack_base_url>/<token>   acknowledges as the person paged, through console.actions

A bundle page's link (a page that carried others, console.outbox.pages) shows every ticket it carried
and acknowledges each one still waiting, one by one through console.actions with its own audit event;
a ticket the person may not acknowledge is listed as refused and the others still go through.

Link previewers and mail scanners fetch every link they see, so only a POST acts. A used or expired
link says so (410); a token this desk did not sign, or that was altered, gets 403 and changes nothing.
The page shows the ticket's summary and nothing else from the database; all text from mail is
HTML-escaped. No access log: the path holds the token.

Under abuse (the link is public, behind a proxy every phone shares):

- Only failed attempts are limited, per client address: a token's signature is checked on the event loop
  before any database work, so junk never waits in line ahead of a real link, and a link this desk signed
  is always served, however many failures came from the same address. The address is the peer's, or,
  from a proxy named in `[alerts] trusted_proxies`, the one its X-Forwarded-For names.
- A connection must send its request within `ack_request_timeout`, and serves one request. At most
  `ack_max_connections` are open (and never more than a quarter of the process's file limit, so intake,
  the scheduler and SQLite always have files to open); at the cap the oldest connection still waiting
  for its request makes room for the new one.
- All of it is logged once, then summed up once a minute (console.web.ratelimit.Tally).

A failure here (port in use, a crash) is logged and never stops intake or paging: the server runs in
its own thread with its own event loop and database connections.
"""
from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import resource
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from aiohttp import web

from console import timefmt
from console.ack import keyfile, links, texts, tokens, verify
from console.web import ratelimit
from console.web.ratelimit import RateLimit, Tally
from console.clock import Clock
from console.config import Config
from console.safe_text import clean_line
from store import open_db, outbox
from store.db import StoreError
from store.times import parse_iso, parse_required

log = logging.getLogger("support_console.ack")

MAX_REQUEST_BYTES = 2048  # a POST carries one small form field
MAX_LINE = 2048
MAX_HEADERS = 40
FAIL_LIMIT = 10  # failed attempts (a token this desk did not sign) per client address ...
FAIL_WINDOW = 60.0  # ... per this many seconds; then 429 until the window has room. A valid link always works.
START_TIMEOUT = 10.0
FILES_SHARE = 4  # open connections at most 1/FILES_SHARE of the process's file limit

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:32em;margin:1.5em auto;padding:0 1em;line-height:1.4}"
          "h1{font-size:1.3em}dt{font-weight:bold;margin-top:.5em}dd{margin:0}"
          "button{font-size:1.2em;padding:.6em 1.2em;margin-top:1em;width:100%}.note{color:#555}")


@dataclass
class Page:
    status: int
    title: str
    facts: list[tuple[str, str]]  # (label, value): plain text, escaped when rendered
    note: str = ""
    button: str | None = None  # the POST button's label


def render(page: Page) -> str:
    e = html.escape
    facts = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in page.facts)
    form = (f'<form method="post"><input type="hidden" name="action" value="ack">'
            f"<button type=\"submit\">{e(page.button)}</button></form>") if page.button else ""
    note = f'<p class="note">{e(page.note)}</p>' if page.note else ""
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{e(page.title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{e(page.title)}</h1>{f'<dl>{facts}</dl>' if facts else ''}{note}{form}</body></html>")


def _when(cfg: Config, at: str | datetime | None) -> str:
    dt = parse_iso(at) if isinstance(at, str) or at is None else at
    return timefmt.local_time(dt, cfg.timezone) if dt else ""


def summary(db, cfg: Config, r: verify.Resolved, now: datetime) -> list[tuple[str, str]]:
    """What the page may show: class, subject, requester, time left, assignee, who else was paged."""
    t, handle = r.ticket, r.claim.handle
    left = parse_required(t["due_at"]) - now
    when = (f"due in {timefmt.span(left)}" if left.total_seconds() >= 0
            else f"OVERDUE by {timefmt.span(left)}") + f" ({_when(cfg, t['due_at'])})"
    others = [texts.person_name(cfg, h) for h in outbox.paged_targets(db, t["id"]) if h != handle]
    merged = [("Paged for", f"#{r.merged_from}, since merged into #{t['id']}")] if r.merged_from else []
    return [
        *merged,
        ("Class", t["class"]),
        ("Subject", clean_line(t["subject"], 200) or "(no subject)"),
        ("From", clean_line(f"{t['requester_name']} <{t['requester']}>".strip(), 200)),
        ("First contact", when),
        ("Assigned to", texts.person_name(cfg, t["assignee"]) if t["assignee"] else "nobody yet"),
        ("Also paged", ", ".join(others) or "nobody else"),
    ]


def _invalid() -> Page:
    return Page(403, "This link is not valid", [], "It may have been mistyped or cut short. "
                "Acknowledge in the console or with `support-console ack`.")


def _done(cfg: Config, r: verify.Resolved) -> Page:
    t = r.ticket
    who = texts.person_name(cfg, t["acknowledged_by"]) or "someone"
    verb = "resolved" if t["status"] == "resolved" else "acknowledged"
    at = _when(cfg, t["resolved_at"] if verb == "resolved" else t["acknowledged_at"])
    merged = [("Paged for", f"#{r.merged_from}, since merged into #{t['id']}")] if r.merged_from else []
    return Page(410, f"#{t['id']} was already {verb}", [*merged, ("By", who), ("At", at)],
                "This link has been used up: nothing more to do here.")


def _expired(cfg: Config, r: verify.Resolved) -> Page:
    tid = r.ticket["id"]
    return Page(410, "This link has expired", [("Ticket", f"#{tid}"), ("Expired", _when(cfg, r.claim.expires))],
                f"#{tid} is still waiting: acknowledge it in the console or with `support-console ack {tid}`.")


def _bundle_line(cfg: Config, t: dict, now: datetime) -> str:
    subject = clean_line(t["subject"], 80) or "(no subject)"
    who = clean_line(t["requester"], 60)
    if t["status"] != "new":
        by = texts.person_name(cfg, t["acknowledged_by"]) if t["acknowledged_by"] else "someone"
        return f"{subject}, from {who}: already {t['status']} by {by}"
    due_at = parse_iso(t["due_at"])
    if due_at is None:
        return f"{subject}, from {who}: waiting"
    left = due_at - now
    due = f"due in {timefmt.span(left)}" if left.total_seconds() >= 0 else f"OVERDUE by {timefmt.span(left)}"
    return f"{subject}, from {who}: waiting, {due}"


def _bundle_done(r: verify.Resolved, bundle: list[dict]) -> Page:
    return Page(410, f"All {len(bundle)} tickets of this page were already answered",
                [("Tickets", " ".join(f"#{t['id']}" for t in bundle))],
                "This link has been used up: nothing more to do here.")


class Handlers:
    """The two routes. Database work runs on a small thread pool (sqlite waits for locks; the event loop
    must not), each thread with its own connection."""

    def __init__(self, cfg: Config, clock: Clock, limiter: RateLimit | None = None, tally: Tally | None = None):
        self.cfg, self.clock = cfg, clock
        self.failures = limiter or RateLimit(FAIL_LIMIT, FAIL_WINDOW)
        self.tally = tally or Tally(lambda text: log.warning("acknowledge links: %s", text))
        self.guard: ConnectionGuard | None = None  # told when a connection's request has begun
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ack-db")
        self._local = threading.local()
        self._key: tuple[tuple, bytes | None] | None = None
        self._trusted: tuple[tuple[str, ...], tuple[ratelimit.Network, ...]] = ((), ())

    def trusted(self) -> tuple[ratelimit.Network, ...]:
        specs = self.cfg.alerts.trusted_proxies  # the config may be reloaded
        if self._trusted[0] != specs:
            self._trusted = (specs, ratelimit.networks(specs))
        return self._trusted[1]

    def client(self, request: web.Request) -> str:
        return ratelimit.client_address(request.remote, request.headers.getall("X-Forwarded-For", []),
                                        self.trusted())

    def signing_key(self) -> bytes | None:
        """The key, read again only when its file changes (a stat, no open file): a flood of junk costs an
        HMAC each, not a file read. keyfile.KeyFileError when it cannot be used."""
        path = keyfile.key_path(self.cfg.store_path)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._key = None
            return None
        except OSError:
            return keyfile.load(path)  # raises the KeyFileError that says why
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode, st.st_uid)
        if self._key is None or self._key[0] != stamp:
            self._key = (stamp, keyfile.load(path))
        return self._key[1]

    def screen(self, request: web.Request, token: str) -> Page | None:
        """Before any database work: None when the token carries this desk's signature (always served);
        otherwise the answer, 403, or 429 once this client has failed FAIL_LIMIT times in FAIL_WINDOW."""
        if self.guard is not None:
            self.guard.started(request.transport)
        try:
            key = self.signing_key()
        except keyfile.KeyFileError as exc:
            self.tally.note("requests while the key file is unusable", f"links cannot be checked: {exc}")
            return Page(503, "Links cannot be checked right now", [], "Nothing was changed. Use the console.")
        if key is not None:
            try:
                tokens.read(key, token)
                return None
            except tokens.InvalidToken:
                pass
        return self.failed(self.client(request))

    def failed(self, client: str, page: Page | None = None) -> Page:
        """Count a failed attempt from `client`; the page to answer with (429 once over the limit)."""
        if self.failures.allow(client):
            self.tally.note("failed attempts", f"a link this desk did not sign was tried, from {client}")
            return page or _invalid()
        self.tally.note("failed attempts refused", f"more than {FAIL_LIMIT} failed attempts a minute from "
                        f"{client}: refusing its failures for a while (valid links still work)")
        return Page(429, "Too many tries", [], "Wait a minute and try again.")

    def _db(self):
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = open_db(self.cfg.store_path, migrate=False)
        return db

    async def _run(self, fn, token: str) -> Page:
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, fn, token)
        except Exception as exc:  # noqa: BLE001 - one generic page; the log names the error, never the token
            log.error("acknowledge link failed: %s", type(exc).__name__)
            return Page(500, "Something went wrong", [], "Nothing was changed. Use the console.")

    def _live(self, token: str):
        """(db, now, the resolved token) while the link still works; otherwise the Page that says why not."""
        db, now = self._db(), self.clock.now()
        try:
            r = verify.resolve(db, self.cfg, token, now)
        except verify.InvalidToken:
            return _invalid()
        except keyfile.KeyFileError as exc:
            log.error("acknowledge links cannot be checked: %s", exc)
            return Page(503, "Links cannot be checked right now", [], "Nothing was changed. Use the console.")
        bundle = self._bundle(db, r)
        waiting = [t for t in bundle if t["status"] == "new"]
        if r.state == "used" and not waiting:
            return _bundle_done(r, bundle) if bundle else _done(self.cfg, r)
        if r.state == "expired" or r.claim.expired(now):
            return _expired(self.cfg, r)
        return db, now, r, bundle

    def _bundle(self, db, r: verify.Resolved) -> list[dict]:
        """A bundle page's tickets, its own first (empty for a page of one ticket)."""
        carried = [i for i in outbox.carried_tickets(db, r.alert["id"]) if i != r.ticket["id"]]
        if not carried:
            return []
        from store import tickets

        return [r.ticket, *(tickets.get_ticket(db, i) for i in carried)]

    def show_bundle(self, r: verify.Resolved, bundle: list[dict], now: datetime) -> Page:
        waiting = [t for t in bundle if t["status"] == "new"]
        name = texts.person_name(self.cfg, r.claim.handle)
        return Page(200, f"{len(waiting)} of {len(bundle)} tickets need first contact",
                    [(f"#{t['id']} Class {t['class']}", _bundle_line(self.cfg, t, now)) for t in bundle],
                    "One press acknowledges each waiting ticket as you, one by one, as the console would.",
                    button=f"Acknowledge all {len(waiting)} as {name}")

    def act_bundle(self, db, r: verify.Resolved, bundle: list[dict], now: datetime) -> Page:
        """Each waiting ticket through console.actions, as the person paged, each with its own audit event."""
        from console import actions

        handle, done, refused = r.claim.handle, [], []
        for t in bundle:
            if t["status"] != "new":
                continue
            try:
                actions.acknowledge(db, self.cfg, t["id"], handle, now,
                                    via={"via": "bundle link", "page": r.claim.alert_id})
                done.append(t["id"])
            except actions.ActionRefused as exc:
                refused.append(f"#{t['id']}: {exc}")
            except StoreError as exc:
                log.error("bundle link: #%s not acknowledged: %s", t["id"], exc)
                refused.append(f"#{t['id']}: the desk's database is busy; try again")
        facts = [("Acknowledged", " ".join(f"#{i}" for i in done) or "none")]
        if refused:
            facts.append(("Not acknowledged", "; ".join(refused)))
        name = texts.person_name(self.cfg, handle)
        return Page(200 if done else 409, f"{len(done)} of {len(bundle)} acknowledged by {name}", facts,
                    "The pages for these have stopped; the others paged are told to stand down."
                    if done else "Nothing was acknowledged.")

    def show(self, token: str) -> Page:
        live = self._live(token)
        if isinstance(live, Page):
            return live
        db, now, r, bundle = live
        if bundle:
            return self.show_bundle(r, bundle, now)
        name = texts.person_name(self.cfg, r.claim.handle)
        return Page(200, f"#{r.ticket['id']} needs first contact", summary(db, self.cfg, r, now),
                    button=f"Acknowledge as {name}")

    def act(self, token: str) -> Page:
        from console import actions

        live = self._live(token)
        if isinstance(live, Page):
            return live
        db, now, r, bundle = live
        if bundle:
            return self.act_bundle(db, r, bundle, now)
        tid, handle = r.ticket["id"], r.claim.handle  # the ticket merged into, for a page of a merged one
        via = {"via": "page link", "page": r.claim.alert_id,
               **({"merged_from": r.merged_from} if r.merged_from else {})}
        try:
            actions.acknowledge(db, self.cfg, tid, handle, now, via=via)
        except actions.ActionRefused as exc:
            return Page(409, f"#{tid} was not acknowledged", [], str(exc))
        except StoreError as exc:
            log.error("acknowledge link for #%s failed: %s", tid, exc)
            return Page(503, f"#{tid} was not acknowledged", [], "The desk's database is busy; try again.")
        told = [texts.person_name(self.cfg, h) for h in outbox.paged_targets(db, tid) if h != handle]
        return Page(200, f"#{tid} acknowledged by {texts.person_name(self.cfg, handle)}",
                    [("Told to stand down", ", ".join(told) or "nobody else was paged")],
                    "The pages have stopped. Contact the customer now.")

    async def _answer(self, request: web.Request, fn: Callable[[str], Page], screened: bool = False) -> Page:
        token = request.match_info["token"]
        page = None if screened else self.screen(request, token)
        if page is not None:
            return page
        page = await self._run(fn, token)
        if page.status == 403:  # signed, but not for a page of this database (an old key's, a deleted page)
            page = self.failed(self.client(request), page)
        return page

    async def get(self, request: web.Request) -> web.Response:
        return _response(await self._answer(request, self.show))

    async def post(self, request: web.Request) -> web.Response:
        page = self.screen(request, request.match_info["token"])
        if page is not None:
            return _response(page)
        try:
            # The body's bytes must come within the request timeout too (the headers' is the guard's).
            async with asyncio.timeout(self.cfg.alerts.ack_request_timeout.total_seconds()):
                form = await request.post()
        except web.HTTPException:
            raise
        except TimeoutError:
            self.tally.note("requests whose body was too slow", "a request's body did not arrive in time; closed")
            return _response(Page(408, "Too slow", [], "Try again."))
        except Exception:  # noqa: BLE001 - a malformed body is the client's problem
            return _response(Page(400, "Bad request", []))
        if form.get("action") != "ack":
            return _response(Page(400, "Bad request", [], "Use the button on the page."))
        return _response(await self._answer(request, self.act, screened=True))


def _response(page: Page) -> web.Response:
    headers = dict(_HEADERS)
    if page.status == 429:
        headers["Retry-After"] = str(int(FAIL_WINDOW))
    resp = web.Response(status=page.status, text=render(page), content_type="text/html", charset="utf-8",
                        headers=headers)
    resp.force_close()  # one request per connection: an idle keep-alive connection would hold a slot
    return resp


HANDLERS = web.AppKey("handlers", Handlers)


def make_app(cfg: Config, clock: Clock, limiter: RateLimit | None = None) -> web.Application:
    h = Handlers(cfg, clock, limiter)
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[HANDLERS] = h
    route = links.route_prefix(cfg) + "{token:" + tokens.PATTERN + "}"
    app.router.add_get(route, h.get)
    app.router.add_post(route, h.post)

    async def close_pool(_app):
        h.pool.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(close_pool)
    return app


def connection_cap(configured: int) -> int:
    """`ack_max_connections`, but never more than a quarter of the process's open-file limit: the rest is
    for intake, the scheduler's senders and SQLite (a flood once left intake "unable to open database
    file")."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(4, min(configured, soft // FILES_SHARE))


class ConnectionGuard:
    """Wraps aiohttp's protocol factory: counts open connections, closes one whose request has not begun
    within `timeout` seconds (aiohttp itself would wait forever for slow headers), and at `cap` closes the
    oldest connection still waiting for its request to make room (else, all busy, the new one).

    Runs on the server's event loop only."""

    def __init__(self, loop: asyncio.AbstractEventLoop, factory: Callable[[], asyncio.Protocol], cap: int,
                 timeout: Callable[[], float], tally: Tally):
        self.loop, self.factory, self.cap, self.timeout, self.tally = loop, factory, cap, timeout, tally
        self.open: set[_Guarded] = set()
        self.waiting: dict[asyncio.Transport, _Guarded] = {}  # no request begun yet, oldest first

    def protocol(self) -> asyncio.Protocol:
        return _Guarded(self, self.factory())

    def made(self, conn: _Guarded, transport: asyncio.Transport) -> bool:
        """A new connection; False when it was closed at once (the cap, with nothing to make room)."""
        if len(self.open) >= self.cap:
            if not self.waiting:
                self.tally.note("connections refused at the cap", f"{self.cap} connections are open and busy; "
                                "refusing new ones until some finish")
                transport.abort()
                return False
            _, oldest = next(iter(self.waiting.items()))
            self.tally.note("connections closed at the cap", f"{self.cap} connections are open (the cap): closing "
                            "the oldest that has not sent its request to make room")
            self._drop(oldest)
        self.open.add(conn)
        self.waiting[transport] = conn
        conn.timer = self.loop.call_later(self.timeout(), self._expire, conn)
        return True

    def started(self, transport: asyncio.Transport | None) -> None:
        """The connection's request has begun (its headers arrived): it is no longer at the timeout's mercy."""
        conn = self.waiting.pop(transport, None) if transport is not None else None
        if conn is not None and conn.timer is not None:
            conn.timer.cancel()

    def lost(self, conn: _Guarded) -> None:
        self.open.discard(conn)
        if conn.transport is not None:
            self.waiting.pop(conn.transport, None)
        if conn.timer is not None:
            conn.timer.cancel()

    def _expire(self, conn: _Guarded) -> None:
        if conn.transport is not None and conn.transport in self.waiting:
            self.tally.note("connections closed for sending no request in time",
                            f"a connection sent no request within {self.timeout():g}s; closed")
            self._drop(conn)

    def _drop(self, conn: _Guarded) -> None:
        self.lost(conn)  # counted out now: abort() reports connection_lost only on the loop's next turn
        if conn.transport is not None:
            conn.transport.abort()


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, with the guard told when it starts and ends."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol):
        self.guard, self.inner = guard, inner
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # a TCP connection's
        self.transport = transport
        if not self.guard.made(self, transport):
            self.refused = True
            return
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self.refused:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None if self.refused else self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.lost(self)
        if not self.refused:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class AckServer:
    """The app on [alerts] ack_listen, in a daemon thread with its own event loop."""

    def __init__(self, cfg: Config, clock: Clock, host: str | None = None, port: int | None = None):
        self._cfg, self.clock = cfg, clock
        self.host = host if host is not None else cfg.alerts.ack_host
        self.port = port if port is not None else cfg.alerts.ack_port
        self.error: str | None = None
        self.handlers: Handlers | None = None
        self.guard: ConnectionGuard | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="ack-http", daemon=True)

    @property
    def cfg(self) -> Config:
        return self._cfg

    @cfg.setter
    def cfg(self, new: Config) -> None:
        """A reloaded config reaches the handlers (staff, trusted proxies, the request timeout) at once."""
        self._cfg = new
        if self.handlers is not None:
            self.handlers.cfg = new

    def start(self) -> bool:
        """Listen; True once serving, False (logged, self.error set) when it cannot."""
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            self.error = "did not start in time"
        if self.error:
            log.error("acknowledge links are not served on %s:%s: %s; pages still go out, but their links "
                      "will not work until this is fixed", self.host, self.port, self.error)
            return False
        log.info("acknowledge links served on http://%s:%s%s", self.host, self.port, links.route_prefix(self.cfg))
        return True

    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        runner = None
        listening: asyncio.Server | None = None
        try:
            app = make_app(self.cfg, self.clock)
            h = self.handlers = app[HANDLERS]
            # asyncio's own complaints (accept() out of files under a flood) are summed up like the rest.
            loop.set_exception_handler(lambda _loop, ctx: h.tally.note(
                "event-loop errors", f"{ctx.get('message', 'error')}: {type(ctx.get('exception')).__name__}"))
            runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                   shutdown_timeout=2.0, max_line_size=MAX_LINE, max_field_size=MAX_LINE,
                                   max_headers=MAX_HEADERS)
            loop.run_until_complete(runner.setup())
            assert runner.server is not None
            cap = connection_cap(self.cfg.alerts.ack_max_connections)
            self.guard = h.guard = ConnectionGuard(
                loop, runner.server, cap, lambda: self.cfg.alerts.ack_request_timeout.total_seconds(), h.tally)
            listening = loop.run_until_complete(loop.create_server(self.guard.protocol, self.host, self.port,
                                                                   backlog=128, reuse_address=True))
            self._stopping = asyncio.Event()
            loop.call_later(h.tally.every, self._summarise)
        except OSError as exc:
            self.error = exc.strerror or type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - never let the HTTP side take the poller down
            self.error = type(exc).__name__
        self._ready.set()
        try:
            if self.error is None and self._stopping is not None:
                loop.run_until_complete(self._stopping.wait())
        except Exception:  # noqa: BLE001
            log.exception("acknowledge link server stopped")
        finally:
            try:
                if listening is not None:
                    listening.close()
                if runner is not None:
                    loop.run_until_complete(runner.cleanup())
            except Exception:  # noqa: BLE001
                pass
            if self.handlers is not None:
                self.handlers.tally.flush(force=True)
            loop.close()

    def _summarise(self) -> None:
        """Once a minute on the server's loop: the sums of what the flood did, if anything happened."""
        if self.handlers is not None and self._loop is not None and not self._loop.is_closed():
            self.handlers.tally.flush()
            self._loop.call_later(self.handlers.tally.every, self._summarise)

    def stop(self, timeout: float = 5.0) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stopping.set)
        if self._thread.is_alive():
            self._thread.join(timeout)


def start(cfg: Config, clock: Clock) -> AckServer | None:
    """For the poller: serve links when ack_base_url is set. Never raises: None when not serving."""
    if cfg.alerts.ack_base_url is None:
        return None
    try:
        server = AckServer(cfg, clock)
        return server if server.start() else None
    except Exception as exc:  # noqa: BLE001
        log.error("acknowledge links are not served: %s", type(exc).__name__)
        return None
