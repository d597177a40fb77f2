"""[replicate] in the config, and the Litestream config generated from it: no secret ever written."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from console import replication
from console.config import ConfigError, from_dict

BASE = {"store": {"path": "/var/lib/desk/support.db"}, "staff": [{"handle": "ann", "role": "supervisor"}]}


def cfg(**rep):
    return from_dict({**BASE, "replicate": rep}, path=Path("/etc/desk/config.toml"))


def test_defaults_and_no_table():
    assert from_dict(BASE).replicate is None
    r = cfg(url="s3://bucket/desk").replicate
    assert r.max_lag == timedelta(minutes=1) and r.sync_interval == timedelta(seconds=1) and r.scheme == "s3"


@pytest.mark.parametrize("rep, message", [
    ({"url": "ftp://host/x"}, "expected an s3://, sftp:// or file:/// URL"),
    ({"url": "sftp://desk:hunter2@backup.example/desk"}, "no password in the URL (value not shown)"),
    ({"url": "file://relative/dir"}, "needs an absolute path"),
    ({"url": "s3://b/d", "password_env": "X"}, "are for sftp:// URLs"),
    ({"url": "file:///x", "endpoint": "https://minio"}, "are for s3:// URLs"),
    ({"url": "s3://b/d", "max_lagg": "1m"}, "replicate.max_lagg: unknown key (did you mean max_lag?)"),
    ({}, "replicate.url: required key is missing"),
])
def test_bad_replicate_tables_are_one_clear_error(rep, message):
    with pytest.raises(ConfigError, match=".*".join(map(__import__("re").escape, [message]))) as info:
        cfg(**rep)
    assert "hunter2" not in str(info.value)


def test_the_litestream_config_names_credentials_by_variable_only(tmp_path):
    c = from_dict({**BASE, "store": {"path": str(tmp_path / "support.db")},
                   "replicate": {"url": "sftp://desk@backup.example/srv/desk", "password_env": "DESK_SFTP_PASSWORD",
                                 "key_path": "/etc/desk/id_ed25519", "sync_interval": "5s"}})
    path = replication.write_config(c, control=True)
    data = json.loads(path.read_text())  # JSON is YAML: what Litestream reads
    [db] = data["dbs"]
    assert db["path"] == str(tmp_path / "support.db")
    assert db["replica"] == {"url": "sftp://desk@backup.example/srv/desk", "sync-interval": "5000ms",
                             "key-path": "/etc/desk/id_ed25519", "password": "${DESK_SFTP_PASSWORD}"}
    assert data["socket"] == {"enabled": True, "path": str(tmp_path / ".support.db.litestream.sock")}
    assert path == tmp_path / "support.db.litestream.yml" and oct(path.stat().st_mode & 0o777) == "0o640"


def test_s3_keys_are_left_to_litestreams_environment(tmp_path):
    c = from_dict({**BASE, "store": {"path": str(tmp_path / "support.db")},
                   "replicate": {"url": "s3://bucket/desk", "endpoint": "https://minio.internal:9000",
                                 "region": "eu-1"}})
    rep = replication.litestream_config(c)["dbs"][0]["replica"]
    assert rep == {"url": "s3://bucket/desk", "sync-interval": "1000ms", "endpoint": "https://minio.internal:9000",
                   "region": "eu-1"}


def test_pages_do_not_wait_for_a_replicator_that_is_not_running(tmp_path):
    c = from_dict({**BASE, "store": {"path": str(tmp_path / "support.db")}, "replicate": {"url": "file:///r"}})
    assert "Litestream is not running" in replication.barrier(c)
    assert replication.barrier(from_dict(BASE)) is None  # no [replicate]: nothing to wait for


def test_a_long_database_path_gets_a_socket_path_a_unix_socket_can_have(tmp_path):
    deep = tmp_path / ("d" * 90) / "support.db"
    c = from_dict({**BASE, "store": {"path": str(deep)}, "replicate": {"url": "file:///r"}})
    assert len(str(replication.socket_path(c))) < 100
