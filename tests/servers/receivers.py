"""Real notification receivers for tests: an HTTP server (apprise json://) and an
SMTP sink (apprise mailto://, via aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlencode

from . import LOOPBACK, free_port


class _Recorder:
    """Thread-safe list of records plus a Condition to wait on."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._records: list = []

    def _add(self, rec) -> None:
        with self._cond:
            self._records.append(rec)
            self._cond.notify_all()

    @property
    def records(self) -> list:
        with self._cond:
            return list(self._records)

    def clear(self) -> None:
        with self._cond:
            self._records.clear()

    def wait_for(self, n: int, timeout: float = 10.0) -> list:
        """Block until at least *n* records arrived; return a snapshot of all.

        Raises TimeoutError (with what did arrive) if they don't in time."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._records) >= n, timeout):
                raise TimeoutError(
                    f"{type(self).__name__}: wanted {n} records within {timeout}s, "
                    f"got {len(self._records)}: {self._records!r}"
                )
            return list(self._records)


# --- HTTP --------------------------------------------------------------------

@dataclass
class HTTPRecord:
    mono: float               # time.monotonic() on arrival (before any delay)
    wall: float               # time.time() on arrival
    path: str
    body: Any                 # parsed JSON, or None if the body was not JSON
    headers: dict[str, str]
    raw: bytes = b""


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True   # restart on the same port despite TIME_WAIT
    daemon_threads = True
    receiver: HTTPReceiver


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers after stop()
    server: _Server

    def log_message(self, fmt, *args) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        rcv = self.server.receiver
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rcv._add(HTTPRecord(time.monotonic(), time.time(), self.path, body,
                            dict(self.headers.items()), raw))
        delay = rcv.delay
        if delay:
            rcv._release.wait(delay)  # stop() releases hung responses at once
        status = rcv.status_code
        payload = json.dumps({"ok": 200 <= status < 300}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # client gave up (timeout) or we are stopping

    def do_GET(self) -> None:
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()


class HTTPReceiver(_Recorder):
    """Threaded HTTP server on 127.0.0.1 that records every POST.

    - ``status_code``: answer with this (e.g. 500) from now on;
    - ``delay``: seconds to hold each response (simulate a hung pager);
    - ``stop()`` frees the port (connections refused), ``start()`` re-binds the
      SAME port, so a test can simulate an outage.
    """

    host = LOOPBACK

    def __init__(self, port: int | None = None) -> None:
        super().__init__()
        self.port: int = port or 0
        self.status_code = 200
        self.delay = 0.0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._release = threading.Event()

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("HTTPReceiver already running")
        self._release.clear()
        srv = _Server((self.host, self.port), _Handler)
        srv.receiver = self
        self.port = srv.server_address[1]
        self._server = srv
        self._thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"HTTPReceiver:{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        srv, self._server = self._server, None
        if srv is None:
            return
        self._release.set()
        srv.shutdown()
        srv.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def url(self, path: str = "/hook", scheme: str = "json") -> str:
        """apprise URL, e.g. json://127.0.0.1:PORT/hook."""
        return f"{scheme}://{self.host}:{self.port}/{path.lstrip('/')}"

    def http_url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}/{path.lstrip('/')}"

    def __enter__(self) -> HTTPReceiver:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# --- SMTP --------------------------------------------------------------------

@dataclass
class SMTPRecord:
    mono: float
    wall: float
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    subject: str | None = None
    login: str | None = None  # SMTP AUTH user name, if the client logged in
    message: Any = field(default=None, repr=False)  # email.message.EmailMessage
    mail_options: list[str] = field(default_factory=list)  # MAIL FROM parameters, e.g. ["SMTPUTF8", "SIZE=300"]


class _SMTPHandler:
    def __init__(self, sink: SMTPSink) -> None:
        self.sink = sink

    async def auth_XOAUTH2(self, server, args):  # noqa: N802 - aiosmtpd finds mechanisms by this name
        """AUTH XOAUTH2 <base64 "user=U^Aauth=Bearer T^A^A">: accepted when sink.token_check(U, T) says so."""
        import base64

        from aiosmtpd.smtp import AuthResult, LoginPassword

        user, token = "", ""
        try:
            fields = base64.b64decode(args[1]).decode().split("\x01")
            user = next(f[5:] for f in fields if f.startswith("user="))
            token = next(f[len("auth=Bearer "):] for f in fields if f.startswith("auth=Bearer "))
        except Exception:  # noqa: BLE001 - malformed: refused below
            pass
        check = self.sink.token_check
        ok = bool(user and token and check is not None and check(user, token))
        self.sink.logins.append((user, ok))
        return AuthResult(success=ok, handled=False, auth_data=LoginPassword(user.encode(), b""))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        answer = self.sink.rcpt_replies.get(address.lower())
        if answer is not None and not answer.startswith("2"):
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        import asyncio

        sink = self.sink
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        msg = email.message_from_bytes(content, policy=email.policy.default)
        login = getattr(getattr(session, "auth_data", None), "login", None)
        if isinstance(login, bytes):
            login = login.decode(errors="replace")
        rec = SMTPRecord(time.monotonic(), time.time(), envelope.mail_from, list(envelope.rcpt_tos), content,
                         str(msg["Subject"]) if msg["Subject"] is not None else None, login, msg)
        rec.mail_options = list(envelope.mail_options or [])
        answer = sink.data_reply
        sink.transactions.append(rec)  # every mail handed over, whatever the answer
        if sink.delay:
            await asyncio.sleep(sink.delay)  # a server that takes the mail and is slow to say so
        if sink.drop_after_data:
            server.transport.close()  # the answer is lost: the client cannot know whether it was taken
            return "250 never seen"
        if answer.startswith("250"):
            sink._add(rec)
        return answer


class _DropLoginDataWarning(logging.Filter):
    # aiosmtpd 1.4 logs "Session.login_data is deprecated" on every AUTH.
    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_DropLoginDataWarning())


class SMTPSink(_Recorder):
    """aiosmtpd on 127.0.0.1 (free port) recording every message it accepts (``records``).

    AUTH PLAIN/LOGIN is offered without TLS and accepts any credentials (or, with ``password`` set, only
    that password), so apprise URLs with or without ``user:pass@`` both work. To make it misbehave:

    - ``data_reply``: the answer to the end of DATA, e.g. "451 4.3.0 Try later" or "550 5.7.1 Refused"
      (only a 250 puts the mail in ``records``; ``transactions`` holds every mail handed over);
    - ``rcpt_replies``: address -> the answer to its RCPT TO, e.g. "550 5.1.1 No such user";
    - ``delay``: seconds before answering DATA; ``drop_after_data``: close the connection instead;
    - ``stop()`` frees the port (connections refused), ``start()`` binds the SAME port again: an outage.

    ``tls_context`` offers STARTTLS (and with ``require_starttls`` insists on it); ``ssl_context`` makes
    it an implicit-TLS server (port 465 style). ``smtputf8=False`` stops it offering SMTPUTF8 (aiosmtpd's
    Controller offers it by default)."""

    host = LOOPBACK

    def __init__(self, port: int | None = None, *, password: str | None = None, tls_context=None,
                 require_starttls: bool = False, ssl_context=None, smtputf8: bool = True) -> None:
        super().__init__()
        self.smtputf8 = smtputf8
        self.port: int = port or 0
        self.password = password
        self.tls_context, self.require_starttls, self.ssl_context = tls_context, require_starttls, ssl_context
        self.data_reply = "250 2.0.0 Message accepted for delivery"
        self.rcpt_replies: dict[str, str] = {}
        self.delay = 0.0
        self.drop_after_data = False
        self.transactions: list[SMTPRecord] = []
        self.logins: list[tuple[str, bool]] = []  # (user name, accepted) for every AUTH
        self.token_check: Any = None  # (user, bearer token) -> bool: AUTH XOAUTH2 accepted when it says so
        self._controller = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = True
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode(errors="replace")
            ok = self.password is None or auth_data.password.decode(errors="replace") == self.password
            self.logins.append((user, ok))
        # handled=False on a failure: aiosmtpd then answers 535 itself (True would leave the client waiting).
        return AuthResult(success=ok, handled=ok, auth_data=auth_data)  # keeps .login for the record

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        if self._controller is not None:
            raise RuntimeError("SMTPSink already running")
        # Controller(port=0) cannot work: it probes the port to know it is ready.
        if not self.port:
            self.port = free_port(self.host)
        kwargs = {}
        if self.tls_context is not None:
            kwargs.update(tls_context=self.tls_context, require_starttls=self.require_starttls)
        if self.ssl_context is not None:
            kwargs.update(ssl_context=self.ssl_context)
        kwargs.update(enable_SMTPUTF8=self.smtputf8)
        self._controller = Controller(
            _SMTPHandler(self), hostname=self.host, port=self.port,
            authenticator=self._authenticate, auth_require_tls=False,
            ready_timeout=10, **kwargs,
        )
        self._controller.start()

    def stop(self) -> None:
        ctl, self._controller = self._controller, None
        if ctl is not None:
            ctl.stop()

    def mailto_url(self, to: str = "ann@example.com", from_: str = "desk@example.com",
                   user: str | None = "desk", password: str | None = "pw") -> str:
        """apprise mailto:// URL for this sink (plain SMTP, ``mode=insecure``)."""
        auth = ""
        if user:
            auth = quote(user, safe="")
            if password:
                auth += ":" + quote(password, safe="")
            auth += "@"
        q = urlencode({"mode": "insecure", "from": from_, "to": to})
        return f"mailto://{auth}{self.host}:{self.port}?{q}"

    def __enter__(self) -> SMTPSink:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
