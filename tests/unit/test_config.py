"""Config: the fixed keys load into read-only records, and every error names its key."""
import re
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


def test_no_table_shows_a_secret_key_in_its_repr():
    # A repr reaches tracebacks and logs: every key marked secret (pager URLs, client secrets) stays out of it.
    from console import config

    checked = []
    for _, cls, _ in config.TABLES:
        keys = [f for _, f in config.table_keys(cls)]
        secret = {f.name for f in keys if f.metadata["secret"]}
        if not secret:
            continue
        values = {f.name: "x" for f in keys if f.default is config.MISSING}
        values |= {n: ("tok-SECRET",) if isinstance(cls._field_defaults.get(n), tuple) else "tok-SECRET"
                   for n in secret}
        record = cls(**values)
        assert all("tok-SECRET" in str(getattr(record, n)) for n in secret)
        assert "tok-SECRET" not in repr(record), cls.__name__
        checked.append(cls.__name__)
    assert sorted(checked) == ["AlertsConfig", "ImapConfig", "SmtpConfig", "Staff"]


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


# --- strictness (issue 12): typos, unitless durations and contradictions are refused, naming the key --

@pytest.mark.parametrize("path,value,message", [
    ("sla.III_escalte_after", "5m", "sla.III_escalte_after: unknown key (did you mean III_escalate_after?)"),
    ("imap.hots", "x", "imap.hots: unknown key (did you mean host?)"),
    ("alerts.chanels", [], "alerts.chanels: unknown key (did you mean channels?)"),
    ("oncall.hand_off", "mon 09:00", "oncall.hand_off: unknown key (did you mean handoff?)"),
    ("routing.Urgent", [], "routing.Urgent: unknown key (did you mean urgent?)"),
    ("console.operater", "ann", "console.operater: unknown key (did you mean operator?)"),
    ("store.pth", "x.db", "store.pth: unknown key (did you mean path?)"),
    ("replies.reciept", True, "replies.reciept: unknown key (did you mean receipt?)"),
    ("sla.II", 8, 'sla.II: a duration needs a unit: write "8h", "8m" or "8s" (got 8)'),
    ("sla.III_escalate_after", "20m",
     "sla.III_escalate_after: must be shorter than the Class III target (sla.III = 15m), got 20m"),
    ("sla.warn_fraction", 1.5, "sla.warn_fraction: must be between 0 and 1, got 1.5"),
    ("routing.support", ["urgent@example.com"],
     "routing.support: urgent@example.com is also in routing.urgent; an address has one class"),
    ("alerts.intake_stale_after", 300, 'alerts.intake_stale_after: a duration needs a unit: write "300h", "300m" '
                                       'or "300s" (got 300)'),
    ("alerts.ack_listen", "8025", 'alerts.ack_listen: expected host:port such as "127.0.0.1:8025", got \'8025\''),
    ("alerts.trusted_proxy", ["127.0.0.1"], "alerts.trusted_proxy: unknown key (did you mean trusted_proxies?)"),
    ("alerts.trusted_proxies", ["proxy.example"], 'alerts.trusted_proxies: expected IP addresses or networks such as '
                                                  '"127.0.0.1" or "10.0.0.0/8", got \'proxy.example\''),
    ("alerts.ack_request_timeout", "10m", "alerts.ack_request_timeout: must be at most 300s, got 10m"),
    ("alerts.ack_max_connections", 2, "alerts.ack_max_connections: must be at least 4, got 2"),
    ("alerts.ack_base_url", "ftp://x/ack", "alerts.ack_base_url: expected an http:// or https:// URL, got 'ftp://x/ack'"),
    ("imap.ca_file", "/nonexistent/ca.pem", "imap.ca_file: no such file: /nonexistent/ca.pem"),
    ("xyzzy", 1, "xyzzy: unknown key (known keys: timezone, store, imap, smtp, routing, sla, staff, oncall, "
                 "alerts, replies, reports, console, replicate)"),
])
def test_mistakes_are_refused_with_the_exact_message(path, value, message):
    with pytest.raises(ConfigError) as exc:
        from_dict(with_(path, value))
    assert str(exc.value) == message


def test_unknown_staff_key_names_the_entry():
    d = with_("staff", [{"handle": "ann", "notfy": ["json://127.0.0.1:9/x"]}])
    d["oncall"]["rotation"] = ["ann"]
    with pytest.raises(ConfigError) as exc:
        from_dict(d)
    assert str(exc.value) == "staff[0].notfy: unknown key (did you mean notify?)"


def test_business_hours_keys_are_checked():
    with pytest.raises(ConfigError) as exc:
        from_dict(with_("sla.business_hours", {"II": {"days": "mon-fri", "hour": "09:00-17:00"}}))
    assert str(exc.value) == "sla.business_hours.II.hour: unknown key (did you mean hours?)"


@pytest.mark.parametrize("attr,first,second", [
    ("handle", {"handle": "ann"}, {"handle": "ann"}),
    ("login", {"handle": "ann", "login": "ann"}, {"handle": "bob", "login": "ann"}),
    ("email", {"handle": "ann", "email": "a@x.org"}, {"handle": "bob", "email": "A@x.org"}),
])
def test_staff_identities_are_unique(attr, first, second):
    d = with_("staff", [first, second])
    d["oncall"]["rotation"] = []
    with pytest.raises(ConfigError) as exc:
        from_dict(d)
    assert str(exc.value).startswith(f"staff[1].{attr}: ") and "already ann's" in str(exc.value)


def test_notify_urls_apprise_refuses_are_an_error():
    d = with_("staff", [{"handle": "ann", "notify": ["ntfy://ntfy.example.com/ok", "nosuchservice://x/y"]}])
    d["oncall"]["rotation"] = ["ann"]
    from_dict(d)  # the cheap check only looks for a scheme
    with pytest.raises(ConfigError) as exc:
        from_dict(d, check_urls=True)
    assert str(exc.value).startswith("staff[0].notify: apprise cannot use this nosuchservice:// URL")
    assert from_dict(GOOD, check_urls=True).person("ann").notify == ("ntfy://ntfy.example.com/ann-pager",)


def test_durations_with_units_load():
    cfg = from_dict(with_("sla.II", "4h") | {"alerts": {"intake_stale_after": "90s"},
                                             "replies": {"receipt": True, "receipt_window": "30m"}})
    assert cfg.sla.targets["II"] == timedelta(hours=4)
    assert cfg.alerts.intake_stale_after == timedelta(seconds=90)
    assert cfg.replies.receipt and cfg.replies.receipt_window == timedelta(minutes=30)


def test_new_tables_have_the_designs_defaults():
    cfg = from_dict(GOOD)
    assert cfg.smtp is None and cfg.replies.receipt is False and cfg.replies.details_request is False
    assert cfg.replies.receipt_window == timedelta(hours=1)
    assert cfg.alerts.intake_stale_after == timedelta(minutes=5)
    assert (cfg.alerts.ack_host, cfg.alerts.ack_port, cfg.alerts.ack_base_url) == ("127.0.0.1", 8025, None)
    assert cfg.imap.ca_file is None


def test_smtp_section(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    d = with_("imap.ca_file", "ca.pem") | {"smtp": {"host": "mail.example.com",
                                                     "from": "Example Support <Support@Example.com>",
                                                     "username": "support", "password_env": "SMTP_PASSWORD"}}
    cfg = from_dict(d, path=tmp_path / "config.toml")
    assert cfg.imap.ca_file == ca  # relative to the config file
    s = cfg.smtp
    assert (s.port, s.security, s.from_addr, s.from_name) == (587, "starttls", "support@example.com", "Example Support")
    assert s.ca_file == ca  # [imap] ca_file trusts the CA for SMTP too
    assert "support@example.com" in cfg.desk_addresses
    for bad, message in [
        ({"from": "nobody"}, "smtp.from: expected the desk's address"),
        ({"security": "none"}, "smtp.security: \"none\" is only allowed for a loopback host"),
        ({"password": "x"}, "smtp.password: plain passwords are not read"),
        ({"password_env": None}, "smtp.password_env: expected a string"),
    ]:
        dd = with_("smtp", d["smtp"] | bad)
        with pytest.raises(ConfigError) as exc:
            from_dict(dd, path=tmp_path / "config.toml")
        assert str(exc.value).startswith(message), str(exc.value)


def test_staff_login_and_email():
    d = with_("staff", [{"handle": "ann", "role": "supervisor", "login": "annx", "email": "Ann@Example.org"},
                        {"handle": "bob"}])
    cfg = from_dict(d)
    assert cfg.uses_logins and cfg.by_login("annx").handle == "ann" and cfg.by_email("ann@example.org").handle == "ann"
    assert cfg.person("bob").name == "bob"
    d = with_("staff", [{"handle": "ann", "email": "support@example.com"}])
    d["oncall"]["rotation"] = ["ann"]
    with pytest.raises(ConfigError, match=r"^staff\[0\]\.email: support@example.com is one of the desk's own"):
        from_dict(d)


def test_smtp_retry_keys_and_save_to():
    smtp = {"host": "mail.example.com", "from": "Support <support@example.com>"}
    s = from_dict(with_("smtp", smtp)).smtp
    assert (s.backoff_seconds, s.backoff_max_seconds, s.give_up_after) == (30.0, 600.0, timedelta(days=2))
    s = from_dict(with_("smtp", smtp | {"backoff_seconds": 5, "backoff_max_seconds": 60, "give_up_after": "6h",
                                        "save_to": "Sent"})).smtp
    assert (s.backoff_seconds, s.backoff_max_seconds, s.give_up_after, s.save_to) == (5.0, 60.0, timedelta(hours=6),
                                                                                       "Sent")
    for bad, message in [
        ({"backoff_seconds": 60, "backoff_max_seconds": 5}, "smtp.backoff_max_seconds: must not be below"),
        ({"give_up_after": 3600}, "smtp.give_up_after: a duration needs a unit"),
    ]:
        with pytest.raises(ConfigError, match="^" + re.escape(message)):
            from_dict(with_("smtp", smtp | bad))
    no_imap = with_("imap", KeyError)
    no_imap["smtp"] = smtp | {"save_to": "Sent"}
    with pytest.raises(ConfigError, match=r"^smtp.save_to: saving a copy of sent mail needs an \[imap\] table"):
        from_dict(no_imap)


def test_the_link_servers_defences_have_defaults_and_take_networks():
    a = from_dict(GOOD).alerts
    assert (a.trusted_proxies, a.ack_request_timeout.total_seconds(), a.ack_max_connections) == ((), 10.0, 128)
    a = from_dict(with_("alerts.trusted_proxies", ["127.0.0.1", "10.0.0.0/8", "::1", "192.168.1.7/24"])).alerts
    assert a.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8", "::1/128", "192.168.1.0/24")


def test_call_urls_are_checked_like_notify_urls_and_kept_secret():
    from console import redact

    sid, token = "AC" + "0123456789abcdef" * 2, "5ec4e7" + "f" * 26  # the shapes Twilio issues
    call = f"twilio://{sid}:{token}@+15205550100/+15205550123?method=call"
    d = with_("staff", [{"handle": "ann", "notify": ["ntfy://ntfy.example.com/ok"], "call": [call]}])
    d["oncall"]["rotation"] = ["ann"]
    cfg = from_dict(d, check_urls=True)  # apprise knows twilio://
    assert cfg.person("ann").call == (call,) and token not in repr(cfg)
    assert token in redact.config_secrets(cfg)
    d["staff"][0]["call"] = ["nosuchservice://x/y"]
    with pytest.raises(ConfigError, match=r"^staff\[0\]\.call: apprise cannot use this nosuchservice:// URL"):
        from_dict(d, check_urls=True)
    d["staff"][0]["calls"] = d["staff"][0].pop("call")
    with pytest.raises(ConfigError, match=r"calls: unknown key \(did you mean call\?\)"):
        from_dict(d)


def test_reports_weekly_is_a_weekday_and_a_time_and_needs_smtp(tmp_path):
    from console.config import ConfigError
    from tests.factories import desk_config

    smtp = {"host": "127.0.0.1", "port": 25, "security": "none", "from": "Desk <support@desk.example>"}
    cfg = desk_config(tmp_path, smtp=smtp, reports={"weekly": "mon 08:00"})
    assert (cfg.reports.weekly_weekday, cfg.reports.weekly_time.hour) == (0, 8)
    assert desk_config(tmp_path).reports.weekly is None  # off by default
    with pytest.raises(ConfigError, match="reports.weekly: .*"):
        desk_config(tmp_path, smtp=smtp, reports={"weekly": "someday"})
    with pytest.raises(ConfigError, match=r"reports.weekly: the digest is mailed: it needs an \[smtp\] table"):
        desk_config(tmp_path, reports={"weekly": "mon 08:00"})
    with pytest.raises(ConfigError, match="reports.weekley: unknown key .did you mean weekly"):
        desk_config(tmp_path, reports={"weekley": "mon 08:00"})
