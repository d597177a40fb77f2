"""`[console.keys]`: remapping keys by binding id, checked strictly when the config loads (issue 25 item 4)."""
from __future__ import annotations

import copy

import pytest

from console import keymap
from console.config import ConfigError, from_dict
from tests.ui.conftest import CFG


def _cfg(keys: dict):
    data = copy.deepcopy(CFG)
    data["console"] = {"keys": keys}
    return from_dict(data)


def test_a_remapping_loads_with_keys_as_textual_names_them():
    cfg = _cfg({"acknowledge": "K", "help": "?,f1", "composer": {"review": "ctrl+r"}, "refresh": ["R", "f5"]})
    assert dict(cfg.console.keys) == {"acknowledge": "K", "help": "question_mark,f1", "composer.review": "ctrl+r",
                                      "refresh": "R,f5"}
    assert from_dict(copy.deepcopy(CFG)).console.keys == ()


@pytest.mark.parametrize(("keys", "error"), [
    ({"acknowlege": "A"}, "console.keys.acknowlege: unknown binding id (did you mean acknowledge?)"),
    ({"ack": "A"}, "console.keys.ack: unknown binding id (did you mean acknowledge?)"),
    ({"frobnicate": "z"}, "console.keys.frobnicate: unknown binding id (binding ids: open, close, help,"),
    ({"palette": "f2"}, "console.keys.palette: unknown binding id"),  # a key Textual binds, not the console
    ({"acknowledge": "t"}, "console.keys.acknowledge: t is also 'Take' (take) in ticket list; a key does one "
                           "thing per screen (move take too)"),
    ({"acknowledge": "y", "take": "y"}, "console.keys.acknowledge: y is also 'Take' (take)"),
    ({"acknowledge": "q"}, "console.keys.acknowledge: q is also 'Quit' (quit)"),
    ({"acknowledge": "a,a"}, "console.keys.acknowledge: a is given twice"),
    ({"acknowledge": "tab"}, "console.keys.acknowledge: tab is kept for moving between fields"),
    ({"acknowledge": "ctrl+blah"}, "console.keys.acknowledge: 'ctrl+blah' is not a key name"),
    ({"acknowledge": ""}, "console.keys.acknowledge: expected a key such as"),
    ({"acknowledge": 1}, "console.keys.acknowledge: expected a key such as"),
])
def test_mistakes_are_config_errors_that_name_the_entry(keys, error):
    with pytest.raises(ConfigError) as exc:
        _cfg(keys)
    assert str(exc.value).startswith(error)


def test_swapping_two_keys_is_allowed_and_shared_defaults_are_left_alone():
    cfg = _cfg({"acknowledge": "t", "take": "a"})
    assert dict(cfg.console.keys) == {"acknowledge": "t", "take": "a"}
    # review.send and review.add share y by design (a screen shows one of them): no error unless touched
    assert _cfg({"review.edit": "E"}).console.keys == (("review.edit", "E"),)


def test_unknown_keys_in_console_are_still_refused():
    data = copy.deepcopy(CFG)
    data["console"] = {"kyes": {"acknowledge": "K"}}
    with pytest.raises(ConfigError, match=r"console.kyes: unknown key \(did you mean keys\?\)"):
        from_dict(data)


def test_labels_follow_the_remapping():
    k = keymap.remappable()["help"]
    assert keymap.key_label(k, {"help": "question_mark,f1"}) == "?/f1"
    assert keymap.key_label(k, {}) == "?"
