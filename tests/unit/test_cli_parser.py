"""The parser (console/cli/parser.py): built for the one command named, it parses exactly as the full one;
help and a mistyped command still see every command; each command's function is imported only when it runs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.cli.parser import Lazy, build

ROOT = Path(__file__).resolve().parents[2]

ARGVS = [
    ["ingest"], ["--config", "c.toml", "ingest"], ["--as", "ann", "tickets", "--open", "--class", "III"],
    ["--conf", "ingest", "tickets"], ["--as=ann", "take", "#4"], ["show", "4", "--json", "--config", "c.toml"],
    ["reclassify", "4", "II", "--reason", "not urgent"], ["reply", "4", "--body-file", "-"],
    ["oncall", "--set", "primary", "bob", "--until", "8h"], ["alerts", "--resend", "7"], ["serve", "--demo"],
    ["report", "panic"], [],
]


def _plain(ns) -> dict:
    d = dict(vars(ns))
    f = d.pop("func")
    return d | {"func": (f.module, f.name)}


@pytest.mark.parametrize("argv", ARGVS, ids=" ".join)
def test_the_parser_for_one_command_parses_as_the_full_one(argv):
    assert _plain(build(argv).parse_args(argv)) == _plain(build(None).parse_args(argv))


def test_every_command_names_a_function_that_exists():
    import importlib

    parser = build(None)
    [sub] = [a for a in parser._actions if a.dest == "command"]  # noqa: SLF001 - argparse has no public walk
    for name, p in sub.choices.items():
        func = p.get_default("func")
        assert isinstance(func, Lazy), name
        assert callable(getattr(importlib.import_module(f"console.cli.{func.module}"), func.name)), name


def test_help_and_a_mistyped_command_list_every_command(capsys):
    with pytest.raises(SystemExit):
        build(["ingest", "--help"]).parse_args(["ingest", "--help"])
    with pytest.raises(SystemExit):
        build(["tickts"]).parse_args(["tickts"])
    err = capsys.readouterr().err
    assert "invalid choice: 'tickts'" in err and "'ingest'" in err and "'serve'" in err


@pytest.mark.parametrize(("argv", "prog", "unknown"), [
    (["alerts", "--state", "bogus"], "support-console alerts", "--state bogus"),
    (["--config", "c.toml", "unfiled", "9"], "support-console unfiled", "9"),
    (["silence", "list", "--bogus"], "support-console silence list", "--bogus"),
])
def test_words_a_command_does_not_know_are_reported_under_its_own_usage(capsys, argv, prog, unknown):
    for parser in (build(argv), build(None)):
        with pytest.raises(SystemExit) as stop:
            parser.parse_args(argv)
        assert stop.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert lines[0].startswith(f"usage: {prog} ")
        assert lines[-1] == f"{prog}: error: unrecognized arguments: {unknown}"


def test_a_class_is_checked_where_it_is_typed(capsys):
    assert build(["reclassify", "4", "iii"]).parse_args(["reclassify", "4", "iii"]).cls == "III"
    with pytest.raises(SystemExit) as stop:
        build(["reclassify", "4", "IV"]).parse_args(["reclassify", "4", "IV"])
    assert stop.value.code == 2
    assert "argument CLASS: invalid choice: 'IV'" in capsys.readouterr().err


def test_version_is_read_only_when_asked():
    code = ("import sys; from console.cli import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "print('importlib.metadata' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["support-console", out.stdout.split()[1], "True"], out.stderr


@pytest.mark.parametrize("argv, collecting", [
    (["--config", "c.toml", "ingest"], False),  # one mail, then the process ends: no cycle collector
    (["--config", "ingest", "status"], True),  # the word in a path is only a guess, put right once parsed
])
def test_only_ingest_runs_without_the_cycle_collector_and_main_puts_it_back(monkeypatch, argv, collecting):
    import gc

    from console import cli

    seen = []
    module = "console.cli.ingest" if argv[-1] == "ingest" else "console.cli.service"
    monkeypatch.setattr(f"{module}.{argv[-1]}", lambda args: seen.append(gc.isenabled()) or 0)
    assert gc.isenabled()
    assert cli.main(argv) == 0
    assert seen == [collecting]
    assert gc.isenabled()  # called with argv (in this process), as it was
