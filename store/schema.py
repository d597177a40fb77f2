"""The schema, one sqlite-utils migration per change. Never edit an applied one; add another.

The migrations are registered here in order and handed to sqlite-utils' Migrations when some are to be
applied (`migrations`, built on first use): a process that finds the database up to date (`pending`, one
SQL read) never imports sqlite-utils."""
from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils

SET = "support-console"  # sqlite-utils' migration set: the names applied are in _sqlite_migrations
_STEPS: list[tuple[Callable[[Any], None], bool]] = []  # (migration, transactional), in the order they apply


def _migration(*, transactional: bool = True) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    def register(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        _STEPS.append((fn, transactional))
        return fn

    return register


def pending(conn: sqlite3.Connection) -> list[str]:
    """The names of the migrations this database has not had, in order (all of them for a new database)."""
    try:
        done = {r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [SET])}
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):  # a busy or unreadable database says so, as anywhere else
            raise
        done = set()  # a new database
    return [fn.__name__ for fn, _ in _STEPS if fn.__name__ not in done]


_built: sqlite_utils.Migrations | None = None


def __getattr__(name: str) -> Any:
    """`migrations`: sqlite-utils' Migrations holding every migration here, made on first use."""
    global _built
    if name != "migrations":
        raise AttributeError(name)
    if _built is None:
        from sqlite_utils import Migrations

        _built = Migrations(SET)
        for fn, transactional in _STEPS:
            _built(transactional=transactional)(fn)
    return _built


def _run_script(db, script: str) -> None:
    # executescript() would COMMIT behind the migration's transaction, so run statement by statement.
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""


@_migration()
def m001_initial(db):
    _run_script(db, """
        CREATE TABLE tickets (
            id INTEGER PRIMARY KEY,
            class TEXT NOT NULL CHECK (class IN ('I', 'II', 'III')),
            class_reason TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'acknowledged', 'resolved')),
            subject TEXT NOT NULL DEFAULT '',
            requester TEXT NOT NULL DEFAULT '',
            requester_name TEXT NOT NULL DEFAULT '',
            received_at TEXT NOT NULL,
            due_at TEXT NOT NULL,
            acknowledged_at TEXT,
            acknowledged_by TEXT,
            assignee TEXT,
            resolved_at TEXT,
            panic_mode INTEGER NOT NULL DEFAULT 0,
            needs_details INTEGER NOT NULL DEFAULT 0,
            quarantined INTEGER NOT NULL DEFAULT 0,
            -- escalation bookkeeping: last step time already written to the outbox, and the next one
            step_cursor TEXT,
            next_step_at TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_message_at TEXT
        );
        CREATE INDEX tickets_status ON tickets(status, due_at);
        CREATE INDEX tickets_next_step ON tickets(next_step_at) WHERE next_step_at IS NOT NULL;

        CREATE TABLE ticket_participants (
            ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
            address TEXT NOT NULL,
            PRIMARY KEY (ticket_id, address)
        ) WITHOUT ROWID;

        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER REFERENCES tickets(id),
            kind TEXT NOT NULL CHECK (kind IN ('new', 'reply', 'autoreply', 'bounce')),
            message_id TEXT,
            sha256 TEXT NOT NULL,
            -- Message-ID alone is not trusted: a reused or forged id with other bytes is another message
            dedup_key TEXT NOT NULL UNIQUE,
            raw BLOB NOT NULL,
            size INTEGER NOT NULL,
            oversize INTEGER NOT NULL DEFAULT 0,
            unparseable INTEGER NOT NULL DEFAULT 0,
            defects TEXT NOT NULL DEFAULT '[]',
            from_addr TEXT NOT NULL DEFAULT '',
            from_name TEXT NOT NULL DEFAULT '',
            recipients TEXT NOT NULL DEFAULT '[]',
            subject TEXT NOT NULL DEFAULT '',
            sent_date TEXT,
            body_text TEXT NOT NULL DEFAULT '',
            attachments TEXT NOT NULL DEFAULT '[]',
            in_reply_to TEXT,
            refs TEXT NOT NULL DEFAULT '[]',
            received_at TEXT NOT NULL,
            stored_at TEXT NOT NULL,
            source TEXT NOT NULL
        );
        CREATE INDEX messages_ticket ON messages(ticket_id);
        CREATE INDEX messages_message_id ON messages(message_id) WHERE message_id IS NOT NULL;

        -- every (account, folder, uidvalidity, uid) ever fetched, pointing at the stored message
        CREATE TABLE message_sources (
            account TEXT NOT NULL,
            folder TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            message_row INTEGER NOT NULL REFERENCES messages(id),
            seen_at TEXT NOT NULL,
            PRIMARY KEY (account, folder, uidvalidity, uid)
        ) WITHOUT ROWID;

        CREATE TABLE mailboxes (
            account TEXT NOT NULL,
            folder TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            last_uid INTEGER NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (account, folder)
        ) WITHOUT ROWID;

        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER REFERENCES tickets(id),
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_ticket ON events(ticket_id);

        -- who may act. Notify URLs stay in the config file (they often hold tokens)
        CREATE TABLE staff (
            handle TEXT PRIMARY KEY,
            name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL DEFAULT 'staff' CHECK (role IN ('staff', 'supervisor'))
        );

        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            dedup_key TEXT NOT NULL UNIQUE,
            ticket_id INTEGER REFERENCES tickets(id),
            cls TEXT,
            step TEXT NOT NULL,
            audience TEXT NOT NULL DEFAULT '',
            target TEXT NOT NULL,
            urgent INTEGER NOT NULL DEFAULT 1,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'expired', 'cancelled')),
            due_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            send_deadline TEXT,
            sent_at TEXT,
            last_error TEXT,
            claimed_by TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX alerts_state ON alerts(state, next_attempt_at);
        CREATE INDEX alerts_ticket ON alerts(ticket_id);

        CREATE TABLE alert_results (
            id INTEGER PRIMARY KEY,
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            at TEXT NOT NULL,
            service TEXT NOT NULL,
            ok INTEGER NOT NULL,
            status TEXT NOT NULL,
            elapsed REAL,
            error TEXT
        );
        CREATE INDEX alert_results_alert ON alert_results(alert_id);

        CREATE TABLE oncall_overrides (
            id INTEGER PRIMARY KEY,
            start TEXT NOT NULL,
            "end" TEXT NOT NULL,
            position TEXT NOT NULL CHECK (position IN ('primary', 'secondary')),
            handle TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        );

        CREATE TABLE heartbeats (
            name TEXT PRIMARY KEY,
            at TEXT NOT NULL,
            pid INTEGER,
            host TEXT,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        """)


# --- intake (issue 11): m101-m199 -----------------------------------------------------------------

@_migration()
def m101_ticket_automated(db):
    # Mail to an urgent address from a machine (monitoring, a bounce) opens a ticket flagged as such.
    db.execute("ALTER TABLE tickets ADD COLUMN automated INTEGER NOT NULL DEFAULT 0")


_KINDS_OLD = "CHECK (kind IN ('new', 'reply', 'autoreply', 'bounce'))"
_KINDS_NEW = "CHECK (kind IN ('new', 'reply', 'autoreply', 'bounce', 'outgoing', 'note'))"


@_migration(transactional=False)
def m102_message_kinds(db):
    """Messages may also be 'outgoing' (mail the desk sent) and 'note' (internal, never sent).

    SQLite cannot change a CHECK in place: the table is rebuilt (SQLite's documented "12 steps") with
    foreign keys off, which a transaction cannot do, hence transactional=False. Idempotent: a run cut
    short is rolled back by SQLite and simply runs again."""
    with _rebuilding(db.conn):
        _rebuild(db.conn, "messages", _KINDS_OLD, _KINDS_NEW)


@_migration()
def m103_content_dedup_keys(db):
    # The dedup key now ignores trace fields (Received, Delivered-To, ...) and line endings.
    from store.messages import rekey_all

    rekey_all(db)


# --- trust (issue 12): m301-m399 ------------------------------------------------------------------

@_migration()
def m301_staff_active(db):
    # A person removed from the config stays in the table (old tickets and events name them) but may
    # no longer act: every process that loads the config marks who is gone.
    db.execute("ALTER TABLE staff ADD COLUMN active INTEGER NOT NULL DEFAULT 1")


@_migration()
def m302_target_names(db):
    """Pager targets are stored by a stable name (scheme, host and a keyed hash), never by URL.

    The key is random per database. Rows written before this migration held apprise's "privacy"
    URLs, which keep ntfy topics and webhook paths: they are cut down to scheme and host, with
    secure_delete on so the old text does not linger in freed pages.
    """
    import re
    import secrets

    db.execute("CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO settings (name, value) VALUES ('target_key', ?)", [secrets.token_hex(32)])
    db.execute("PRAGMA secure_delete = ON")
    url = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://[^\s,;]*")

    def cut(text):
        if text is None:
            return None
        return url.sub(lambda m: f"{m.group(1).lower()}://(redacted)", text)

    for table, cols in (("alert_results", ("service", "error")), ("alerts", ("last_error",))):
        for row in db.execute(f"SELECT id, {', '.join(cols)} FROM {table}").fetchall():
            new = [cut(v) for v in row[1:]]
            if new != list(row[1:]):
                db.execute(f"UPDATE {table} SET {', '.join(c + ' = ?' for c in cols)} WHERE id = ?", [*new, row[0]])
    db.execute("PRAGMA secure_delete = OFF")  # the rest of this connection's life runs as before


# --- replies (issue 14): m401-m499 ----------------------------------------------------------------

@_migration()
def m402_mail_outbox(db):
    # One row per mail the desk sends (a reply, a receipt, a "we need details" request), written in the
    # transaction that stores the mail itself as a messages row of kind 'outgoing'.
    _run_script(db, """
        CREATE TABLE mail_outbox (
            id INTEGER PRIMARY KEY,
            message_row INTEGER NOT NULL UNIQUE REFERENCES messages(id),
            ticket_id INTEGER REFERENCES tickets(id),
            purpose TEXT NOT NULL CHECK (purpose IN ('reply', 'receipt', 'details')),
            actor TEXT NOT NULL,
            automatic INTEGER NOT NULL DEFAULT 0,
            mail_from TEXT NOT NULL,
            to_addr TEXT NOT NULL,
            rcpt_to TEXT NOT NULL DEFAULT '[]',
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'expired')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            send_deadline TEXT,
            claimed_by TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            last_error TEXT,
            smtp_reply TEXT,
            refused TEXT NOT NULL DEFAULT '[]',
            saved TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX mail_outbox_due ON mail_outbox(state, next_attempt_at);
        CREATE INDEX mail_outbox_ticket ON mail_outbox(ticket_id);
        CREATE INDEX mail_outbox_automatic ON mail_outbox(to_addr, created_at) WHERE automatic = 1;
        """)


@_migration()
def m403_mail_retry_since(db):
    # A person's resend of a failed mail gets its own give_up_after, counted from the resend.
    db.execute("ALTER TABLE mail_outbox ADD COLUMN retry_since TEXT")


# --- mailsafe (issue 20): m2001-m2099 -------------------------------------------------------------


@_migration()
def m2001_automatic_mail_caps(db):
    # The caps on automatic mail count the last hour's rows; status counts the automatic mail withheld.
    db.executescript("""
        CREATE INDEX IF NOT EXISTS mail_outbox_automatic_at ON mail_outbox(created_at) WHERE automatic = 1;
        CREATE INDEX IF NOT EXISTS events_kind_at ON events(kind, at);
    """)


# ---- pager (issue 19) ------------------------------------------------------------------------------

@_migration()
def m1901_first_syncs(db):
    # A mailbox's first sync (a new desk, a new mailbox, a database started afresh): the UIDs that were
    # already in it are its history, filed without a page each. Kept until the history is filed (a restart
    # mid-way goes on treating them so) and then for good: a restored replica carries it, so mail it re-reads
    # is recent mail.
    _run_script(db, """
        CREATE TABLE first_syncs (
            account TEXT NOT NULL,
            folder TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            history_top INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            summarised_at TEXT,
            PRIMARY KEY (account, folder)
        ) WITHOUT ROWID;
        """)


# --- history (issue 22): m2201-m2299 --------------------------------------------------------------

@_migration()
def m2201_history_indexes(db):
    """Indexes for what the console, `status` and the scheduler re-read on a timer, so that each costs the
    same with years of history as on the first day: "changed since" (and the newest update), the resolved
    view in its order (a partial index: only resolved rows), and panic-mode tickets for the report."""
    _run_script(db, """
        CREATE INDEX IF NOT EXISTS tickets_updated ON tickets(updated_at);
        CREATE INDEX IF NOT EXISTS tickets_resolved ON tickets(resolved_at, id) WHERE status = 'resolved';
        CREATE INDEX IF NOT EXISTS tickets_panic ON tickets(requester) WHERE panic_mode = 1;
        """)


@_migration(transactional=False)
def m2202_message_search(db):
    """Search through SQLite's full-text index: messages_fts (FTS5, sqlite-utils' enable_fts with its triggers)
    over subject, sender and body, plus search_extra, the folded spellings unicode61 does not make itself
    (store.messages.search_extra). Built here for the mail already stored.

    Not one transaction: sqlite-utils creates the index and its triggers in scripts that commit. Each step
    is idempotent, and a message filed between the index's first fill and its triggers (by a process that
    did not wait for this migration) is caught by comparing the index's document count with the table's."""
    from store.messages import FTS_COLUMNS, FTS_TOKENIZE, SEARCH_BODY_CHARS, search_extra

    conn = db.conn
    if "search_extra" not in {c.name for c in db["messages"].columns}:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if "search_extra" not in {c.name for c in db["messages"].columns}:
                conn.execute("ALTER TABLE messages ADD COLUMN search_extra TEXT NOT NULL DEFAULT ''")
                rows = conn.execute("SELECT id, subject, from_addr, from_name, substr(body_text, 1, ?) FROM messages",
                                    [SEARCH_BODY_CHARS])
                for row_id, *texts in rows.fetchall():
                    extra = search_extra(*(t or "" for t in texts))
                    if extra:
                        conn.execute("UPDATE messages SET search_extra = ? WHERE id = ?", [extra, row_id])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    db["messages"].enable_fts(FTS_COLUMNS, fts_version="FTS5", create_triggers=True, tokenize=FTS_TOKENIZE,
                              replace=True)
    indexed = conn.execute("SELECT count(*) FROM messages_fts_docsize").fetchone()[0]
    if indexed != conn.execute("SELECT count(*) FROM messages").fetchone()[0]:
        db["messages"].rebuild_fts()


@_migration()
def m2203_raw_apart(db):
    """Raw mail moves out of messages into message_raw, zlib-compressed when that is smaller: a messages row
    with its ~2 kB of raw bytes beside the parsed fields no longer fits a page, so each spilled onto an
    overflow page of its own, and every read of message metadata walked over mail. The desk's own mail
    (kind 'outgoing') stays where store.outgoing reads it. One message at a time: a desk holds gigabytes.
    The pages freed are reused by new mail; `VACUUM` (see the README) gives them back to the file system."""
    from store.messages import RAW_INLINE_KINDS, pack_raw

    _run_script(db, """
        CREATE TABLE message_raw (
            message_id INTEGER PRIMARY KEY REFERENCES messages(id),
            codec TEXT NOT NULL DEFAULT '' CHECK (codec IN ('', 'zlib')),
            raw BLOB NOT NULL
        );
        """)
    # Emptying messages.raw changes nothing the full-text index holds: its update trigger is set aside
    # meanwhile (same transaction), or every message would be indexed again.
    trigger = db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'messages_au'").fetchone()
    if trigger:
        db.execute("DROP TRIGGER messages_au")
    inline = sorted(RAW_INLINE_KINDS)
    marks = ", ".join("?" * len(inline))
    ids = [r[0] for r in db.execute(f"SELECT id FROM messages WHERE kind NOT IN ({marks}) ORDER BY id", inline)]
    for row_id in ids:
        (raw,) = db.execute("SELECT raw FROM messages WHERE id = ?", [row_id]).fetchone()
        codec, data = pack_raw(bytes(raw))
        db.execute("INSERT INTO message_raw (message_id, codec, raw) VALUES (?, ?, ?)", [row_id, codec, data])
        db.execute("UPDATE messages SET raw = x'' WHERE id = ?", [row_id])
    if trigger:
        db.execute(trigger[0])


# --- intake (issue 21): m2101-m2199 ---------------------------------------------------------------


@_migration()
def m2101_unreadable(db):
    # Mail the server would not give (a FETCH answered NO): a placeholder ticket now, retried later.
    _run_script(db, """
        CREATE TABLE unreadable (
            account TEXT NOT NULL,
            folder TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            ticket_id INTEGER REFERENCES tickets(id),
            answer TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            first_failed_at TEXT NOT NULL,
            last_tried_at TEXT NOT NULL,
            next_try_at TEXT,
            state TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'filed', 'gone')),
            filed_message INTEGER,
            PRIMARY KEY (account, folder, uidvalidity, uid)
        );
        CREATE INDEX unreadable_due ON unreadable(account, folder, state, next_try_at);
        """)


@_migration()
def m2102_messages_in_reply_to(db):
    # An original that arrives after its reply finds the reply's ticket by the reply's In-Reply-To.
    db.execute("CREATE INDEX IF NOT EXISTS messages_in_reply_to ON messages(in_reply_to) WHERE in_reply_to IS NOT NULL")


# --- outbox (issues 18, 19): m1801-m1899 ----------------------------------------------------------

@_migration()
def m1801_outbox_timer_indexes(db):
    # Every query the senders and the scheduler run on a timer is answered by an index, however many
    # pages the table has kept: the rows waiting for a try (a small part of the table), and the desk's
    # own intake-trouble pages (looked up on every scheduler turn).
    _run_script(db, """
        CREATE INDEX alerts_waiting ON alerts(next_attempt_at) WHERE state IN ('pending', 'failed');
        CREATE INDEX alerts_sending ON alerts(send_deadline) WHERE state = 'sending';
        CREATE INDEX alerts_desk_steps ON alerts(step, dedup_key) WHERE ticket_id IS NULL;
        CREATE INDEX mail_outbox_sending ON mail_outbox(send_deadline) WHERE state = 'sending';
        """)


@_migration()
def m1802_alerts_recent(db):
    # The pages of the last minutes, which the claim's priority counts per sender group and person.
    db.execute("CREATE INDEX alerts_recent ON alerts(updated_at) WHERE state IN ('sent', 'sending')")


_ALERT_STATES_OLD = "CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'expired', 'cancelled'))"
_ALERT_STATES_NEW = "CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'expired', 'cancelled', 'bundled'))"


@contextlib.contextmanager
def _rebuilding(conn) -> Iterator[None]:
    """The frame of a table rebuild (SQLite's "12 steps"): foreign keys off, one immediate
    transaction, the foreign keys checked before the commit, rolled back whole on any error."""
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            bad = conn.execute("PRAGMA foreign_key_check").fetchall()
            if bad:
                raise sqlite3.IntegrityError(f"foreign keys broken by the rebuild: {bad[:3]}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _rebuild(conn, table: str, old_check: str, new_check: str) -> bool:
    """Rebuild `table` with `new_check` in place of `old_check` (SQLite cannot change a CHECK in place),
    keeping every row and index; inside _rebuilding(). False when the table no longer holds `old_check`:
    another process did it while we waited for the lock."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone()
    if row is None or old_check not in row[0]:
        return False
    indexes = [r[0] for r in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", [table])]
    # After a rebuild's rename, SQLite keeps the name quoted: CREATE TABLE "alerts".
    conn.execute(re.sub(rf'^CREATE TABLE "?{table}"?', f"CREATE TABLE {table}_new",
                        row[0].replace(old_check, new_check), count=1))
    conn.execute(f"INSERT INTO {table}_new SELECT * FROM {table}")
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    for index in indexes:
        conn.execute(index)
    return True


@_migration(transactional=False)
def m1803_alert_bundles(db):
    """A page may be 'bundled': carried by another page (carried_by) that told the person about it with
    others of its sender group. SQLite cannot change a CHECK in place: the table is rebuilt as in m102."""
    with _rebuilding(db.conn):
        if _rebuild(db.conn, "alerts", _ALERT_STATES_OLD, _ALERT_STATES_NEW):
            db.conn.execute("ALTER TABLE alerts ADD COLUMN carried_by INTEGER REFERENCES alerts(id)")
            db.conn.execute("CREATE INDEX alerts_carried ON alerts(carried_by) WHERE carried_by IS NOT NULL")


# --- shaping (issue 25: merge and split): m2501-m2549 ---------------------------------------------

@_migration()
def m2501_merge_and_split(db):
    # A merged ticket points at the one it joined (it is resolved meanwhile, and unmerge restores it); a
    # split ticket at the one it came from. Each merge keeps what it moved and what it changed, so that
    # unmerge puts back exactly that: the tickets' rows as they were, and the ids of the moved rows.
    _run_script(db, """
        ALTER TABLE tickets ADD COLUMN merged_into INTEGER REFERENCES tickets(id);
        ALTER TABLE tickets ADD COLUMN split_from INTEGER REFERENCES tickets(id);
        CREATE INDEX tickets_merged_into ON tickets(merged_into) WHERE merged_into IS NOT NULL;
        CREATE INDEX tickets_split_from ON tickets(split_from) WHERE split_from IS NOT NULL;
        CREATE TABLE merges (
            id INTEGER PRIMARY KEY,
            target INTEGER NOT NULL REFERENCES tickets(id),
            ticket INTEGER NOT NULL REFERENCES tickets(id),
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            ticket_before TEXT NOT NULL,      -- the merged ticket's row before (JSON)
            target_before TEXT NOT NULL,      -- the target's row before (JSON)
            moved_messages TEXT NOT NULL DEFAULT '[]',
            moved_events TEXT NOT NULL DEFAULT '[]',
            added_participants TEXT NOT NULL DEFAULT '[]',
            undone_at TEXT,
            undone_by TEXT
        );
        CREATE INDEX merges_ticket ON merges(ticket) WHERE undone_at IS NULL;
        """)


@_migration()
def m2502_merge_cancelled_pages(db):
    # The merged ticket's unsent pages that the merge cancelled: unmerge queues them again, so that the
    # ticket's own clock is back as it was (a cancelled step's dedup key would otherwise keep it from going out).
    db.execute("ALTER TABLE merges ADD COLUMN cancelled_alerts TEXT NOT NULL DEFAULT '[]'")


# --- report (issue 24): m2401-m2449 ---------------------------------------------------------------

@_migration()
def m2401_first_contact(db):
    # What the first contact was: 'reply' (a mail), 'ack' (contact another way: a call, a chat),
    # 'details' (the call-me mail answered by a details request) or 'none' (resolved without contact).
    # clock_from/clock_no: when the running first-contact clock started (NULL: at arrival) and which clock
    # it is (a customer's answer to a details request starts clock 2).
    db.execute("ALTER TABLE tickets ADD COLUMN first_contact TEXT")
    db.execute("ALTER TABLE tickets ADD COLUMN clock_from TEXT")
    db.execute("ALTER TABLE tickets ADD COLUMN clock_no INTEGER NOT NULL DEFAULT 1")


@_migration()
def m2402_report_indexes(db):
    # The SLA report reads a period's arrivals and the clocks started in it without scanning the year.
    db.execute("CREATE INDEX IF NOT EXISTS tickets_received ON tickets(received_at)")
    db.execute("CREATE INDEX IF NOT EXISTS events_kind_at ON events(kind, at)")


@_migration()
def m2403_report_digests(db):
    # One row per weekly digest: the week's key makes it once per week even across restarts.
    db.execute("CREATE TABLE report_digests (week TEXT PRIMARY KEY, queued_at TEXT NOT NULL, sends TEXT NOT NULL"
               " DEFAULT '[]')")


_PURPOSES_OLD = "CHECK (purpose IN ('reply', 'receipt', 'details'))"
_PURPOSES_NEW = "CHECK (purpose IN ('reply', 'receipt', 'details', 'digest'))"


@_migration(transactional=False)
def m2404_mail_outbox_digest(db):
    """The mail outbox also carries the weekly SLA digest to the supervisors (purpose 'digest', no ticket).

    The CHECK is widened by rebuilding the table as m102 does (foreign keys off, outside a transaction).
    Idempotent, and a no-op if the table no longer has that CHECK (another migration reshaped it)."""
    row = db.conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'mail_outbox'").fetchone()
    if row is None or _PURPOSES_OLD not in row[0]:
        return
    with _rebuilding(db.conn):
        _rebuild(db.conn, "mail_outbox", _PURPOSES_OLD, _PURPOSES_NEW)


# --- silences (issue 19 item 4): m1951-m1999 -------------------------------------------------------

_ALERT_STATES_BUNDLED = _ALERT_STATES_NEW
_ALERT_STATES_SILENCED = ("CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'expired', 'cancelled', 'bundled',"
                          " 'silenced'))")


@_migration(transactional=False)
def m1951_silences(db):
    """Silences (maintenance windows): a supervisor holds the pages of tickets from a sender, a domain or a
    subject pattern until a time at most a day ahead. A held page is 'silenced' and names its silence
    (silenced_by); a page released when the silence ended keeps the name. The CHECK on alerts changes, so
    the table is rebuilt as in m1803."""
    conn = db.conn
    with _rebuilding(conn):
        conn.execute("""CREATE TABLE IF NOT EXISTS silences (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('sender', 'domain', 'subject')),
            pattern TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,
            ended_at TEXT,
            ended_by TEXT,
            released_at TEXT
        )""")
        conn.execute("CREATE INDEX IF NOT EXISTS silences_unreleased ON silences(ends_at)"
                     " WHERE released_at IS NULL")
        if _rebuild(conn, "alerts", _ALERT_STATES_BUNDLED, _ALERT_STATES_SILENCED):
            conn.execute("ALTER TABLE alerts ADD COLUMN silenced_by INTEGER REFERENCES silences(id)")
            conn.execute("CREATE INDEX alerts_silenced ON alerts(silenced_by) WHERE silenced_by IS NOT NULL")


@_migration()
def m1804_alerts_per_person(db):
    # (Registered last: m1803 and m1951 rebuild the alerts table.)
    # When a person was last paged for a sender group, or sent a stand-down: asked for each page claimed.
    # Without it SQLite answers these from alerts_state, every sent page the desk has kept.
    db.execute("CREATE INDEX alerts_person_recent ON alerts(target, updated_at) WHERE state IN ('sent', 'sending')")
