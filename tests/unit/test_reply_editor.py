"""Composing in $EDITOR: a script stands in for the editor."""
import os
import sys

import pytest

from console.replies import editor


def script_editor(tmp_path, body: str) -> dict:
    """An 'editor' that records the file's mode and content, then runs `body` (Python) on it."""
    script = tmp_path / "fake-editor.py"
    script.write_text("import os, stat, sys\np = sys.argv[1]\n"
                      f"open({str(tmp_path / 'seen')!r}, 'w').write(p + '\\n' + oct(stat.S_IMODE(os.stat(p).st_mode))"
                      " + '\\n' + open(p).read())\n" + body)
    return {"EDITOR": f"{sys.executable} {script}", "PATH": os.environ.get("PATH", "")}


def test_the_editor_gets_the_draft_in_a_private_file_and_its_text_comes_back(tmp_path):
    env = script_editor(tmp_path, "open(p, 'a').write('My answer.\\n')\n")
    out = editor.edit("> quoted\n\n-- \nAnn\n", env=env)
    assert out == "> quoted\n\n-- \nAnn\nMy answer.\n"
    path, mode, draft = (tmp_path / "seen").read_text().split("\n", 2)
    assert mode == "0o600" and draft == "> quoted\n\n-- \nAnn\n"
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))  # removed afterwards


@pytest.mark.parametrize("body", ["pass\n", "open(p, 'w').write('  \\n')\n", "sys.exit(1)\n"])
def test_unchanged_empty_or_failed_sends_nothing(tmp_path, body):
    assert editor.edit("draft\n", env=script_editor(tmp_path, body)) is None


def test_visual_wins_and_no_editor_is_a_clear_error(tmp_path):
    env = script_editor(tmp_path, "open(p, 'w').write('from visual')\n")
    env = {"VISUAL": env["EDITOR"], "EDITOR": "/nonexistent/editor", "PATH": env["PATH"]}
    assert editor.edit("x", env=env) == "from visual"
    with pytest.raises(editor.EditorError, match=r"set \$VISUAL or \$EDITOR"):
        editor.edit("x", env={"PATH": "/usr/bin"})
    with pytest.raises(editor.EditorError, match="cannot run the editor"):
        editor.edit("x", env={"EDITOR": "/nonexistent/editor"})


def test_run_gives_back_the_files_text_as_it_is_and_none_when_the_editor_fails(tmp_path):
    """The console decides for itself what an unchanged text means (after an edit from the review, it
    keeps the text); run() only reports what is in the file, or None for a non-zero exit."""
    assert editor.run("draft\n", env=script_editor(tmp_path, "pass\n")) == "draft\n"
    assert editor.run("draft\n", env=script_editor(tmp_path, "open(p, 'w').write('')\n")) == ""
    assert editor.run("draft\n", env=script_editor(tmp_path, "sys.exit(3)\n")) is None
