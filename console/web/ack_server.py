"""The acknowledge links' HTTP side: aiohttp, in a thread of the poller, serving only the ack routes.

    GET  <path of ack_base_url>/<token>   shows the ticket's summary and a button; changes nothing
    POST <path of ack_base_url>/<token>   acknowledges as the person paged, through console.actions

Link previewers and mail scanners fetch every link they see, so only a POST acts. A used or expired
link says so (410); a token this desk did not sign, or that was altered, gets 403 and changes nothing.
Requests are small and bounded; POSTs are rate-limited per client address (behind a reverse proxy
that is the proxy's). The page shows the ticket's summary and nothing else from the database; all
text from mail is HTML-escaped. No access log: the path holds the token.

A failure here (port in use, a crash) is logged and never stops intake or paging: the server runs in
its own thread with its own event loop and database connections.
"""
from __future__ import annotations

import asyncio
import html
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from console import timefmt
from console.ack import keyfile, links, texts, tokens, verify
from console.web.ratelimit import RateLimit
from console.clock import Clock
from console.config import Config
from console.safe_text import clean_line
from store import open_db, outbox
from store.db import StoreError
from store.times import parse_iso

log = logging.getLogger("support_console.ack")

MAX_REQUEST_BYTES = 2048  # a POST carries one small form field
MAX_LINE = 2048
MAX_HEADERS = 40
POST_LIMIT = 10  # POSTs per client address ...
POST_WINDOW = 60.0  # ... per this many seconds
START_TIMEOUT = 10.0

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
    left = parse_iso(t["due_at"]) - now
    when = (f"due in {timefmt.span(left)}" if left.total_seconds() >= 0
            else f"OVERDUE by {timefmt.span(left)}") + f" ({_when(cfg, t['due_at'])})"
    others = [texts.person_name(cfg, h) for h in outbox.paged_targets(db, t["id"]) if h != handle]
    return [
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
    return Page(410, f"#{t['id']} was already {verb}", [("By", who), ("At", at)],
                "This link has been used up: nothing more to do here.")


def _expired(cfg: Config, r: verify.Resolved) -> Page:
    tid = r.ticket["id"]
    return Page(410, "This link has expired", [("Ticket", f"#{tid}"), ("Expired", _when(cfg, r.claim.expires))],
                f"#{tid} is still waiting: acknowledge it in the console or with `support-console ack {tid}`.")


class Handlers:
    """The two routes. Database work runs on a small thread pool (sqlite waits for locks; the event loop
    must not), each thread with its own connection."""

    def __init__(self, cfg: Config, clock: Clock, limiter: RateLimit | None = None):
        self.cfg, self.clock = cfg, clock
        self.limiter = limiter or RateLimit(POST_LIMIT, POST_WINDOW)
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ack-db")
        self._local = threading.local()

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
        if r.state == "used":
            return _done(self.cfg, r)
        if r.state == "expired":
            return _expired(self.cfg, r)
        return db, now, r

    def show(self, token: str) -> Page:
        live = self._live(token)
        if isinstance(live, Page):
            return live
        db, now, r = live
        name = texts.person_name(self.cfg, r.claim.handle)
        return Page(200, f"#{r.ticket['id']} needs first contact", summary(db, self.cfg, r, now),
                    button=f"Acknowledge as {name}")

    def act(self, token: str) -> Page:
        from console import actions

        live = self._live(token)
        if isinstance(live, Page):
            return live
        db, now, r = live
        tid, handle = r.claim.ticket_id, r.claim.handle
        try:
            actions.acknowledge(db, self.cfg, tid, handle, now, via={"via": "page link", "page": r.claim.alert_id})
        except actions.ActionRefused as exc:
            return Page(409, f"#{tid} was not acknowledged", [], str(exc))
        except StoreError as exc:
            log.error("acknowledge link for #%s failed: %s", tid, exc)
            return Page(503, f"#{tid} was not acknowledged", [], "The desk's database is busy; try again.")
        told = [texts.person_name(self.cfg, h) for h in outbox.paged_targets(db, tid) if h != handle]
        return Page(200, f"#{tid} acknowledged by {texts.person_name(self.cfg, handle)}",
                    [("Told to stand down", ", ".join(told) or "nobody else was paged")],
                    "The pages have stopped. Contact the customer now.")

    async def get(self, request: web.Request) -> web.Response:
        return _response(await self._run(self.show, request.match_info["token"]))

    async def post(self, request: web.Request) -> web.Response:
        if not self.limiter.allow(request.remote or "?"):
            return _response(Page(429, "Too many tries", [], "Wait a minute and try again."), retry_after=True)
        try:
            form = await request.post()
        except web.HTTPException:
            raise
        except Exception:  # noqa: BLE001 - a malformed body is the client's problem
            return _response(Page(400, "Bad request", []))
        if form.get("action") != "ack":
            return _response(Page(400, "Bad request", [], "Use the button on the page."))
        return _response(await self._run(self.act, request.match_info["token"]))


def _response(page: Page, retry_after: bool = False) -> web.Response:
    headers = dict(_HEADERS)
    if retry_after:
        headers["Retry-After"] = str(int(POST_WINDOW))
    return web.Response(status=page.status, text=render(page), content_type="text/html", charset="utf-8",
                        headers=headers)


def make_app(cfg: Config, clock: Clock, limiter: RateLimit | None = None) -> web.Application:
    h = Handlers(cfg, clock, limiter)
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    route = links.route_prefix(cfg) + "{token:" + tokens.PATTERN + "}"
    app.router.add_get(route, h.get)
    app.router.add_post(route, h.post)

    async def close_pool(_app):
        h.pool.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(close_pool)
    return app


class AckServer:
    """The app on [alerts] ack_listen, in a daemon thread with its own event loop."""

    def __init__(self, cfg: Config, clock: Clock, host: str | None = None, port: int | None = None):
        self.cfg, self.clock = cfg, clock
        self.host = host if host is not None else cfg.alerts.ack_host
        self.port = port if port is not None else cfg.alerts.ack_port
        self.error: str | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="ack-http", daemon=True)

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
        try:
            runner = web.AppRunner(make_app(self.cfg, self.clock), access_log=None, handle_signals=False,
                                   shutdown_timeout=2.0, max_line_size=MAX_LINE, max_field_size=MAX_LINE,
                                   max_headers=MAX_HEADERS)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port)
            loop.run_until_complete(site.start())
            self._stopping = asyncio.Event()
        except OSError as exc:
            self.error = exc.strerror or type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - never let the HTTP side take the poller down
            self.error = type(exc).__name__
        self._ready.set()
        try:
            if self.error is None:
                loop.run_until_complete(self._stopping.wait())
        except Exception:  # noqa: BLE001
            log.exception("acknowledge link server stopped")
        finally:
            try:
                if runner is not None:
                    loop.run_until_complete(runner.cleanup())
            except Exception:  # noqa: BLE001
                pass
            loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:
                pass  # the loop closed meanwhile
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
