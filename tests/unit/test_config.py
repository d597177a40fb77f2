"""Config: the fixed keys load into dataclasses, and every error names its key."""
from datetime import timedelta
from pathlib import Path

import pytest

from console.config import ConfigError, from_dict, load

GOOD = {
    "timezone": "America/Phoenix",
    "store": {"path": "support.db"},
    "imap": {"host": "mail.example.com", "port": 993, "security": "tls", "username": "support",
             "password_env": "IMAP_PASSWORD", "folder": "INBOX"},
    "routing": {"urgent": ["urgent@example.com"], "support": ["Support@Example.com"]},
    "sla": {"I": "72h", "II": "8h", "III": "15m", "III_escalate_after": "10m"},
    "staff": [{"handle": "ann", "name": "Ann Example", "role": "supervisor",
               "notify": ["ntfy://ntfy.example.com/ann-pager"]},
              {"handle": "bob", "role": "staff"}],
    "oncall": {"rotation": ["ann", "bob"], "handoff": "mon 09:00"},
}


def with_(path: str, value):
    import copy

    d = copy.deepcopy(GOOD)
    *head, last = path.split(".")
    t = d
    for k in head:
        t = t.setdefault(k, {})
    if value is KeyError:
        del t[last]
    else:
        t[last] = value
    return d


def test_design_example_loads():
    cfg = from_dict(GOOD, path=Path("/etc/sc/config.toml"))
    assert cfg.store_path == Path("/etc/sc/support.db")  # relative to the config file
    assert cfg.imap.port == 993 and cfg.imap.security == "tls" and cfg.imap.folder == "INBOX"
    assert cfg.routing.support == ("support@example.com",)
    assert cfg.sla.targets["III"] == timedelta(minutes=15)
    assert cfg.sla.escalate_after == timedelta(minutes=10)
    assert cfg.person("ann").role == "supervisor"
    assert cfg.oncall.rotation == ("ann", "bob") and cfg.oncall.handoff_weekday == 0


def test_defaults_follow_the_policy():
    cfg = from_dict({})
    assert cfg.imap is None
    assert [cfg.sla.targets[c] for c in ("I", "II", "III")] == [timedelta(hours=72), timedelta(hours=8),
                                                                   timedelta(minutes=15)]
    assert cfg.routing.default_class == "I"


@pytest.mark.parametrize("path,value,key", [
    ("imap.port", "abc", "imap.port"),
    ("imap.port", 70000, "imap.port"),
    ("imap.security", "ssl3", "imap.security"),
    ("imap.host", KeyError, "imap.host"),
    ("imap.password_env", KeyError, "imap.password_env"),
    ("imap.password", "hunter2", "imap.password"),
    ("sla.III", "fifteen", "sla.III"),
    ("sla.II", "-5m", "sla.II"),
    ("timezone", "Mars/Olympus", "timezone"),
    ("routing.urgent", ["not-an-address"], "routing.urgent"),
    ("oncall.rotation", ["ann", "zed"], "oncall.rotation"),
    ("oncall.handoff", "someday", "oncall.handoff"),
    ("staff", [{"handle": "ann", "role": "boss"}], "staff[0].role"),
])
def test_bad_values_name_the_key(path, value, key):
    with pytest.raises(ConfigError) as exc:
        from_dict(with_(path, value))
    assert str(exc.value).startswith(key), str(exc.value)


def test_plain_text_imap_only_on_loopback():
    with pytest.raises(ConfigError, match="loopback"):
        from_dict(with_("imap.security", "none"))
    cfg = from_dict(with_("imap.host", "127.0.0.1") | {})
    assert cfg.imap.host == "127.0.0.1"
    d = with_("imap.security", "none")
    d["imap"]["host"] = "127.0.0.1"
    assert from_dict(d).imap.security == "none"


def test_password_never_kept_in_config(monkeypatch):
    monkeypatch.setenv("IMAP_PASSWORD", "s3cret-value")
    cfg = from_dict(GOOD)
    assert "s3cret-value" not in repr(cfg)


def test_load_reports_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[imap\nhost = 1")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load(bad)


def test_idle_is_reissued_at_least_every_ten_minutes():
    assert from_dict(GOOD).imap.idle_refresh_seconds <= 600
    with pytest.raises(ConfigError, match="^imap.idle_refresh"):
        from_dict(with_("imap.idle_refresh", "11m"))
