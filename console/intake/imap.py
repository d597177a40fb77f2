"""IMAP intake with imapclient: connect, sync new UIDs in batches, IDLE for push.

Facts this code relies on (imapclient 4.1, see shared/NOTES.md):
- fetch() wants a list of ints; range strings raise after the command ran;
- `UID n:*` returns the highest UID even when it is below n, so filter uid > last_uid here;
- BODY.PEEK[] leaves \\Seen alone and its reply key is b"BODY[]";
- after EOF idle_check() returns [] exactly as on a timeout: only noop()/idle_done() raise.
"""
from __future__ import annotations

import contextlib
import logging
import re
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from datetime import datetime, UTC
from typing import NamedTuple
from collections.abc import Callable

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from console import connect_errors, passwords
from console.safe_text import clean_line
from console.config import ImapConfig
from store.errors import NeedsFixing

log = logging.getLogger("support_console.imap")

FETCH_KEYS = [b"BODY.PEEK[]", b"INTERNALDATE"]


class IntakeError(NeedsFixing):
    """A connection or login problem, phrased for the operator (never holds the password).

    `permanent` marks problems that retrying cannot fix (wrong credentials, a folder that does not exist
    or cannot be selected): a long-running poller stops on these instead of retrying forever."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass
class Fetched:
    uid: int
    raw: bytes
    internaldate: datetime | None


def resolve_password(cfg: ImapConfig) -> str:
    try:
        return passwords.resolve("imap", cfg.password_env, cfg.password_command)
    except passwords.PasswordError as exc:
        raise IntakeError(str(exc)) from None


def secret(store_path: Path, cfg: ImapConfig) -> str:
    """What this mailbox logs in with: its password, or (auth = "oauth2") an access token, fresh from the
    token file (console.oauth) and refreshed first when due."""
    if cfg.auth != "oauth2":
        return resolve_password(cfg)
    from console import oauth  # noqa: PLC0415 - msal is loaded only where a mailbox uses it

    try:
        return oauth.credential(store_path, cfg.label, cfg).access_token()
    except (oauth.SignInLost, oauth.TokenUnavailable) as exc:
        raise IntakeError(str(exc)) from None


def tls_context(cfg: ImapConfig) -> ssl.SSLContext:
    """Verified TLS: the system's CAs, or only `[imap] ca_file` (a desk's private CA, a self-signed server)."""
    try:
        return connect_errors.tls_context(cfg.ca_file, "imap")
    except connect_errors.CaFileError as exc:
        raise IntakeError(str(exc), permanent=True) from None


def connect(cfg: ImapConfig, password: str) -> IMAPClient:
    """A logged-in client. TLS is verified; plain text only for loopback (checked by config)."""
    where = f"{cfg.host}:{cfg.port}"
    context = tls_context(cfg) if cfg.security != "none" else None
    try:
        if cfg.security == "tls":
            client = IMAPClient(cfg.host, port=cfg.port, ssl=True, ssl_context=context, timeout=cfg.timeout_seconds)
        else:
            client = IMAPClient(cfg.host, port=cfg.port, ssl=False, timeout=cfg.timeout_seconds)
            if cfg.security == "starttls":
                client.starttls(context)
    except (OSError, IMAPClientError) as exc:
        said = (connect_errors.describe(exc, "IMAP server", cfg.host, cfg.port, cfg.timeout_seconds)
                or f"IMAP server {where}: cannot connect ({type(exc).__name__}: {exc})")
        if isinstance(exc, ssl.SSLCertVerificationError) and not cfg.ca_file:
            said += "; for a private CA or a self-signed server set [imap] ca_file"
        raise IntakeError(said) from None
    client.normalise_times = False  # keep INTERNALDATE timezone-aware
    try:
        if cfg.auth == "oauth2":  # `password` is then a fresh access token (console.oauth)
            client.oauth2_login(cfg.username, password)
        else:
            client.login(cfg.username, password)
    except LoginError as exc:
        _quietly(client.logout)
        if "[unavailable]" in str(exc).lower():
            # RFC 5530 [UNAVAILABLE]: the server's auth backend is down; the credentials may be fine.
            raise IntakeError(f"IMAP server {where}: login temporarily unavailable") from None
        if cfg.auth == "oauth2":  # a token the provider just gave: the server's side (IMAP off, no access)
            raise IntakeError(f"IMAP XOAUTH2 login refused for {cfg.username!r} at {where} (the sign-in works; "
                              "check that IMAP is enabled for this mailbox and the account may open it)") from None
        raise IntakeError(f"IMAP login failed for user {cfg.username!r} at {where}: wrong username or password",
                          permanent=True) from None
    except (OSError, IMAPClientError) as exc:
        _quietly(client.shutdown)
        raise IntakeError(f"IMAP server {where}: login failed ({type(exc).__name__})") from None
    # After LOGIN: below level 4 imaplib keeps each command line in memory, and that one holds the password
    silence_imaplib_debug(client)
    return client


def silence_imaplib_debug(client: IMAPClient) -> None:
    """Stop imaplib formatting debug text nobody reads.

    imapclient sets imaplib's debug level to 5 and sends it to the "imapclient.imaplib" logger. imaplib
    then formats the repr of every line and of every message it reads, and of each whole FETCH reply,
    before that logger drops it: ~40 % of the CPU of a FETCH of small mail. At level 0 imaplib only keeps
    its last ten lines in memory (printed only at level 1 and up). Whoever turns that logger on keeps 5.
    """
    conn = getattr(client, "_imap", None)
    if conn is not None and not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        conn.debug = 0


class Selected(NamedTuple):
    uidvalidity: int
    uidnext: int | None  # None: the server did not say (then `exists` tells whether mail arrived)
    exists: int


def select(client: IMAPClient, cfg: ImapConfig) -> int:
    """Select the folder (read-only unless we tag processed mail) and return its UIDVALIDITY."""
    return select_state(client, cfg).uidvalidity


def select_state(client: IMAPClient, cfg: ImapConfig) -> Selected:
    """Select the folder afresh: a new view of it, whose UIDNEXT says whether mail arrived since the last."""
    try:
        info = client.select_folder(cfg.folder, readonly=not cfg.processed_keyword)
    except IMAPClientAbortError:
        raise  # the connection died: transient, handled by the caller's reconnect
    except IMAPClientError as exc:
        text = str(exc).lower()
        if "doesn't exist" in text or "nonexistent" in text or "not exist" in text or "no such" in text:
            raise IntakeError(f"imap.folder: folder {cfg.folder!r} does not exist on {cfg.host}",
                              permanent=True) from None
        # A NO to SELECT (invalid name, no permission): the server will say the same next time.
        raise IntakeError(f"imap.folder: cannot select {cfg.folder!r}: {_server_text(exc)}", permanent=True) from None
    uidnext = info.get(b"UIDNEXT")
    return Selected(int(info[b"UIDVALIDITY"]), int(uidnext) if uidnext is not None else None,
                    int(info.get(b"EXISTS") or 0))


def _server_text(exc: Exception) -> str:
    """The server's words without imapclient's prefix or Dovecot's timing suffix such as "(0.001 + 0.000 secs)"."""
    text = str(exc)
    for prefix in ("select failed: ", "examine failed: "):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    return _server_text_of(text)


def _server_text_of(text: str) -> str:
    return re.sub(r"\s*\([0-9.]+ \+ [0-9.]+(?: \+ [0-9.]+)? secs\)\.?$", "", text).strip()


def new_uids(client: IMAPClient, last_uid: int) -> list[int]:
    uids = client.search(["UID", f"{last_uid + 1}:*"])
    return sorted(u for u in uids if u > last_uid)


# RFC 5530 codes that say "not now" about the server, not "never" about the message: the batch is retried.
_TRANSIENT_CODES = ("[unavailable]", "[inuse]", "[limit]", "[overquota]", "[contactadmin]")


class FetchRefused(Exception):
    """The server would not give the messages of a FETCH: something in them, such as a file it cannot read.
    `answer` is the server's words, safe to show. `hung_up`: it also closed the connection (Dovecot answers
    an internal error with `* BYE FETCH failed: ...`), so the caller needs a new one."""

    def __init__(self, answer: str, *, hung_up: bool = False):
        super().__init__(answer)
        self.answer, self.hung_up = answer, hung_up


def _fetch(client: IMAPClient, uids: list[int], keys: list) -> dict:
    """client.fetch, its refusals sorted: FetchRefused when the server will not give these messages (a
    dropped connection with "fetch failed", as Dovecot says for a file it cannot read, hung up as well);
    IntakeError when it says it is busy or unavailable (RFC 5530), to be retried whole."""
    try:
        return client.fetch(list(uids), keys)
    except IMAPClientAbortError as exc:
        if "fetch failed" not in str(exc).lower():
            raise  # the connection dropped: nothing to do with the messages
        raise FetchRefused(clean_answer(exc), hung_up=True) from None
    except IMAPClientError as exc:
        answer = clean_answer(exc)
        if any(code in answer.lower() for code in _TRANSIENT_CODES):
            raise IntakeError(f"the server cannot give mail now: {answer}") from None
        raise FetchRefused(answer) from None


def fetch_batch(client: IMAPClient, uids: list[int]) -> list[Fetched]:
    """Fetch raw bytes without touching \\Seen. Unrequested keys in the reply are ignored.

    Raises FetchRefused when the server refuses the FETCH; a refusal that says the server is busy or
    unavailable (RFC 5530) is an IntakeError instead, retried whole like a dropped connection."""
    data = _fetch(client, uids, FETCH_KEYS)
    out = []
    for uid in uids:
        item = data.get(uid)
        if item is None:  # expunged between SEARCH and FETCH
            continue
        raw = item.get(b"BODY[]")
        if raw is None:
            continue
        out.append(Fetched(uid, bytes(raw), _utc(item.get(b"INTERNALDATE"))))
    return out


def fetch_sizes(client: IMAPClient, uids: list[int]) -> dict[int, int]:
    """RFC822.SIZE of each message (cheap: from the server's index), so batches can be bounded by bytes.
    Raises FetchRefused like fetch_batch (a server may read a file to learn its size)."""
    data = _fetch(client, uids, [b"RFC822.SIZE"])
    out = {}
    for uid, item in data.items():
        size = item.get(b"RFC822.SIZE")
        if isinstance(size, int):
            out[uid] = size
    return out


RECIPIENT_HEADERS = b"BODY.PEEK[HEADER.FIELDS (TO CC DELIVERED-TO X-ORIGINAL-TO)]"


def fetch_recipients(client: IMAPClient, uids: list[int]) -> list[tuple[int, bytes, int | None]]:
    """[(uid, its recipient header fields, its size)] without the bodies: what routing needs to find urgent
    mail in a backlog. Raises FetchRefused like fetch_batch."""
    data = _fetch(client, uids, [b"RFC822.SIZE", RECIPIENT_HEADERS])
    out = []
    for uid in uids:
        item = data.get(uid)
        if item is None:
            continue
        block = next((bytes(v) for k, v in item.items() if isinstance(k, bytes) and k.startswith(b"BODY[HEADER")
                      and isinstance(v, (bytes, bytearray))), b"")
        size = item.get(b"RFC822.SIZE")
        out.append((uid, block, size if isinstance(size, int) else None))
    return out


def by_bytes(uids: list[int], sizes: dict[int, int] | None, limit: int) -> list[list[int]]:
    """Split UIDs (in order) into batches of at most `limit` bytes by the server's sizes. A message bigger
    than the limit goes alone; one of unknown size too (with no sizes at all, every message goes alone)."""
    batches: list[list[int]] = []
    current: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid) if sizes is not None else None
        if size is None or size >= limit:
            if current:
                batches.append(current)
            batches.append([uid])
            current, total = [], 0
            continue
        if current and total + size > limit:
            batches.append(current)
            current, total = [], 0
        current.append(uid)
        total += size
    if current:
        batches.append(current)
    return batches


def fetch_each(client: IMAPClient, uids: list[int], renew: Callable[[], None]
               ) -> tuple[list[Fetched], list[tuple[int, str]]]:
    """After a refused batch: one message at a time, so that one the server will not give stops nothing
    else; `renew()` replaces the connection when the server hangs up on one. Returns what was fetched
    and [(uid, the server's answer)] for each message it refused."""
    fetched: list[Fetched] = []
    refused: list[tuple[int, str]] = []
    for uid in uids:
        try:
            fetched.extend(fetch_batch(client, [uid]))
        except FetchRefused as exc:
            refused.append((uid, exc.answer))
            if exc.hung_up:
                renew()
    return fetched, refused


def clean_answer(exc: Exception) -> str:
    """A server's NO/BAD/BYE text for people: without imaplib's and imapclient's prefixes ("command: FETCH
    => ", "fetch failed: ") and Dovecot's timing or time-stamp suffix."""
    text = re.sub(r"^(command: \w+ => )?(\w+ failed: )?", "", str(exc).strip(), flags=re.IGNORECASE)
    text = re.sub(r"\s*\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\]$", "", text)
    return clean_line(_server_text_of(text), 300) or type(exc).__name__


def _utc(idate) -> datetime | None:
    """INTERNALDATE in UTC, or None when the server gave none, no zone, or one that cannot be (+2400)."""
    if not isinstance(idate, datetime) or idate.tzinfo is None:
        return None
    try:
        return idate.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _quietly(fn: Callable, *args) -> None:
    with contextlib.suppress(Exception):  # best-effort cleanup of a connection we are dropping anyway
        fn(*args)


class Backoff:
    """Capped exponential backoff for reconnects."""

    def __init__(self, first: float = 1.0, cap: float = 60.0):
        self.first, self.cap, self.delay = first, cap, 0.0

    def next(self) -> float:
        self.delay = self.first if self.delay == 0 else min(self.cap, self.delay * 2)
        return self.delay

    def reset(self) -> None:
        self.delay = 0.0


def monotonic() -> float:
    return time.monotonic()


