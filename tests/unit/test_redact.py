"""Target names and masking (console/redact.py), config errors that never echo a pager URL, and the
migration that cuts old stored URLs down."""
from __future__ import annotations


import pytest

from console.config import ConfigError, from_dict
from console.redact import (Redactor, config_secrets, host_of, is_network_host, redact, secret_parts, secrets_of,
                            target_name)
from store import open_db
from store.schema import migrations

KEY = bytes(range(32))


@pytest.mark.parametrize("url, name", [
    ("ntfy://ntfy.example.com/ann-pager", "ntfy://ntfy.example.com"),
    ("NTFYS://user:pw@ntfy.example.com:8443/topic?priority=high", "ntfys://ntfy.example.com:8443"),
    ("json://127.0.0.1:8080/secret/path?token=abc", "json://127.0.0.1:8080"),
    ("mailto://user:pw@[::1]:2525?to=a@b.example", "mailto://[::1]:2525"),
    # Where apprise keeps a token in the host's place, there is no host to show.
    ("ntfy://ann-pager-topic", "ntfy://"),
    ("tgram://123456789:ABCdefGHIjklMNOpqr/12345", "tgram://"),
    ("discord://1234567/abcdefTOKEN", "discord://"),
    ("pbul://o.gn5kj6nfhv736I7jC3cj0QLRa1qR5FoD", "pbul://"),
    ("pover://userkey@apptoken", "pover://"),
])
def test_a_target_name_is_scheme_host_and_a_keyed_hash(url, name):
    full = target_name(url, KEY)
    assert full.startswith(name + "#") and len(full) == len(name) + 9
    assert target_name(url, None) == name


def test_target_names_are_stable_per_key_and_tell_urls_apart():
    a, b = "json://127.0.0.1:9/ann", "json://127.0.0.1:9/bob"
    assert target_name(a, KEY) == target_name(a, KEY)
    assert target_name(a, KEY) != target_name(b, KEY)
    assert target_name(a, KEY) != target_name(a, bytes(32))  # another database, another name


def test_network_hosts():
    assert all(map(is_network_host, ["localhost", "127.0.0.1", "::1", "mail.example.com", "a-b.example.org"]))
    assert not any(map(is_network_host, ["", "ann-pager", "123456789", "o.gn5kj6nfhv736I7jC3cj0QLRa1qR5FoD",
                                         "T1JJ3T3L2", "-bad.example.com"]))
    assert host_of("tgram://123456789:ABCdef/1") == ""


def test_secret_parts_cover_path_query_userinfo_and_fake_hosts():
    parts = secret_parts("json://user:PassWord1@127.0.0.1:8080/hook%2Dtoken/x?token=QueryTok&mode=post")
    assert {"PassWord1", "hook%2Dtoken", "hook-token", "QueryTok", "user"} <= parts
    assert not parts & {"127.0.0.1", "8080", "token", "mode"}  # host, port and option names are not secrets
    assert "ann-pager-topic" in secret_parts("ntfy://ann-pager-topic")


def test_an_option_that_is_a_setting_is_not_masked():
    """A Twilio call URL's method=call: its token is masked, the word "call" everywhere else is not."""
    url = "twilio://AC0123456789abcdef0123456789abcdef:5ec4e7ffffffffffffffffffffffffff@+15205550100/+15205550123" \
          "?method=call&format=text"
    parts = secret_parts(url)
    assert "5ec4e7ffffffffffffffffffffffffff" in parts and not parts & {"call", "text", "method"}
    assert Redactor(secrets_of([url]))("only a supervisor may change who is on call") == \
        "only a supervisor may change who is on call"


def test_redaction_masks_whole_parts_only():
    r = Redactor(["notify", "s3cr3t-token"])
    assert r("POST /notify failed; notifying s3cr3t-token.") == "POST /*** failed; notifying ***."
    assert redact("to http://127.0.0.1:9/ann-pager: refused", ["ntfy://127.0.0.1:9/ann-pager"]) == \
        "to http://127.0.0.1:9/***: refused"
    assert Redactor()("unchanged") == "unchanged"


def test_the_config_lists_its_secrets(tmp_path):
    cfg = from_dict({"staff": [{"handle": "ann", "notify": ["json://127.0.0.1:9/AnnToken"]}],
                     "alerts": {"channels": ["json://127.0.0.1:9/ChanToken"],
                                "heartbeat_url": "https://hc.example.com/ping/BeatToken"}})
    assert {"AnnToken", "ChanToken", "BeatToken"} <= set(config_secrets(cfg))


@pytest.mark.parametrize("data, message", [
    ({"staff": [{"handle": "a", "notify": ["json:/127.0.0.1/MistypedToken"]}]},
     "staff[0].notify: expected a list of apprise URLs (scheme://...) (value not shown: it may hold a token)"),
    ({"alerts": {"heartbeat_url": "hc.example.com/ping/MistypedToken"}},
     "alerts.heartbeat_url: expected a URL (scheme://...) (value not shown: it may hold a token)"),
    ({"alerts": {"channels": [{"url": "MistypedToken"}]}},
     "alerts.channels: expected a list of strings (value not shown: it may hold a token)"),
])
def test_a_mistyped_pager_url_is_never_echoed(data, message):
    with pytest.raises(ConfigError) as exc:
        from_dict(data)
    assert str(exc.value) == message


def test_the_migration_cuts_old_stored_urls_and_leaves_no_trace(tmp_path):
    path = tmp_path / "old.db"
    db = open_db(path, migrate=False)
    migrations.apply(db, stop_before="m302_target_names")
    db.execute("INSERT INTO alerts (id, dedup_key, step, target, title, body, state, due_at, created_at,"
               " next_attempt_at, updated_at, last_error) VALUES (1, 'k', 'arrival', 'ann', 't', 'b', 'failed',"
               " 'x', 'x', 'x', 'x', 'failed: ntfy://ntfy.example.com/OldTopicToken, json://127.0.0.1:9/OldPath')")
    db.execute("INSERT INTO alert_results (alert_id, at, service, ok, status, error) VALUES"
               " (1, 'x', 'ntfy://ntfy.example.com/OldTopicToken', 0, 'FAILURE', 'sending to json://h/OldPath')")
    db.conn.commit()
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the old text is in the database file itself
    migrations.apply(db)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert db.execute("SELECT service, error FROM alert_results").fetchone() == (
        "ntfy://(redacted)", "sending to json://(redacted)")
    assert db.execute("SELECT last_error FROM alerts").fetchone()[0] == "failed: ntfy://(redacted), json://(redacted)"
    assert len(db.execute("SELECT value FROM settings WHERE name = 'target_key'").fetchone()[0]) == 64
    db.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("old.db*"))
    assert b"OldTopicToken" not in blob and b"OldPath" not in blob


def test_mask_urls_keeps_scheme_and_network_host_only():
    from console.redact import mask_urls

    assert mask_urls("Could not load Slack URL: slack://T0SECRET/B0SECRET.") == "Could not load Slack URL: slack://."
    assert mask_urls("Unparseable Telegram URL tgram://123:ABC/456") == "Unparseable Telegram URL tgram://"
    assert mask_urls("(json://user:pw@127.0.0.1:8080/Tok?x=1)") == "(json://127.0.0.1:8080)"
    assert mask_urls("no url here") == "no url here"
