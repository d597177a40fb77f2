"""The CLI's last-resort error line: one line, the right exit status, and never a secret from the config."""
from console import cli
from console.cli import errors
from store import tickets

TOKEN = "Zk7TopicToken99"


def test_an_unexpected_error_is_one_line_with_the_configs_secrets_masked(tmp_path, monkeypatch, capsys):
    conf = tmp_path / "config.toml"
    conf.write_text(f"""\
[store]
path = "support.db"

[[staff]]
handle = "ann"
role = "supervisor"
notify = ["ntfy://ntfy.example.com/{TOKEN}"]
""")

    def boom(*args, **kwargs):  # an exception whose text quotes a notify URL (apprise's errors do)
        raise RuntimeError(f"could not reach ntfy://ntfy.example.com/{TOKEN} (timed out)")

    monkeypatch.setattr(tickets, "list_tickets", boom)
    code = cli.main(["--config", str(conf), "tickets"])
    err = capsys.readouterr().err
    assert code == errors.EX_SOFTWARE and err.startswith("support-console: internal error (RuntimeError: ")
    assert len(err.strip().splitlines()) == 1 and TOKEN not in err


def test_the_debug_traceback_masks_the_configs_secrets_too(tmp_path, monkeypatch, capsys):
    conf = tmp_path / "config.toml"
    conf.write_text(f'[store]\npath = "support.db"\n\n[[staff]]\nhandle = "ann"\nrole = "supervisor"\n'
                    f'notify = ["ntfy://ntfy.example.com/{TOKEN}"]\n')

    def boom(*args, **kwargs):
        raise RuntimeError(f"could not reach ntfy://ntfy.example.com/{TOKEN} (timed out)")

    monkeypatch.setattr(tickets, "list_tickets", boom)
    monkeypatch.setenv("SUPPORT_CONSOLE_DEBUG", "1")
    code = cli.main(["--config", str(conf), "tickets"])
    err = capsys.readouterr().err
    assert code == errors.EX_SOFTWARE  # more to read, the same status
    assert "Traceback (most recent call last)" in err and "RuntimeError: could not reach *** (timed out)" in err
    assert TOKEN not in err
