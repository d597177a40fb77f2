
import pytest

from console.safe_text import clean_block, clean_line


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("plain text", "plain text"),
        ("  lots   of\t\tspace \r\n and\nlines  ", "lots of space and lines"),
        ("\x1b[31mred\x1b[0m text", "red text"),
        ("\x1b[1;31;42mstyled\x1b[m", "styled"),
        ("a\x1b]0;evil title\x07b", "ab"),
        ("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),
        ("a\x1bPdcs-payload\x1b\\b", "ab"),
        ("clear\x1b[2J\x1b[Hscreen", "clearscreen"),
        ("esc\x1bc reset", "esc reset"),
        ("8-bit csi \x9b31mx", "8-bit csi x"),
        ("nul\x00bell\x07del\x7fend", "nulbelldelend"),
        ("c1\x85next\x80\x9ax", "c1 nextx"),
        ("8-bit apc \x9fpayload\x9c end", "8-bit apc end"),
        ("bidi \u202egnp.exe\u202c file", "bidi gnp.exe file"),
        ("\u202a\u202b\u202d\u2066\u2067\u2068\u2069\u200e\u200fok", "ok"),
        ("[bold red]x[/] [@click=app.quit]q[/]", "[bold red]x[/] [@click=app.quit]q[/]"),
        ("lone surrogate \udcff", "lone surrogate \ufffd"),
        ("unicode\u2028line\u2029para", "unicode line para"),
        ("", ""),
    ],
)
def test_clean_line(raw, expected):
    assert clean_line(raw) == expected


@pytest.mark.parametrize(
    "raw, limit, expected",
    [
        ("abcdef", 10, "abcdef"),
        ("abcdef", 6, "abcdef"),
        ("abcdef", 5, "abcd\u2026"),
        ("abc def", 5, "abc\u2026"),
        ("abcdef", 1, "\u2026"),
        ("abcdef", 0, ""),
        ("abcdef", None, "abcdef"),
    ],
)
def test_clean_line_limit(raw, limit, expected):
    out = clean_line(raw, limit)
    assert out == expected
    if limit is not None:
        assert len(out) <= limit


def test_unterminated_osc_stops_at_line_end():
    assert clean_block("a\x1b]0;title\nnext line") == "a\nnext line"
    assert clean_line("a\x1b]0;title\nnext") == "a next"


def test_non_str_input():
    assert clean_line(None) == ""
    assert clean_block(None) == ""
    assert clean_line(42) == "42"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("a\r\nb\rc\nd", "a\nb\nc\nd"),
        ("\tindented", "    indented"),
        ("  keep indent\n    more", "  keep indent\n    more"),
        ("trailing   \nspace\t", "trailing\nspace"),
        ("\n\n  \nbody\n\n", "body"),
        ("para one\n\n\npara two", "para one\n\n\npara two"),
        ("\x1b[31mred\x1b[0m\nline\x00two", "red\nlinetwo"),
        ("\u202eevil\u202c\nok", "evil\nok"),
        ("[bold]kept[/bold]\n[@click=app.quit]", "[bold]kept[/bold]\n[@click=app.quit]"),
        ("form\x0cfeed\x0bvt", "form\nfeed\nvt"),
        ("", ""),
    ],
)
def test_clean_block(raw, expected):
    assert clean_block(raw) == expected


@pytest.mark.parametrize("fn", [clean_line, clean_block])
def test_no_control_chars_survive(fn):
    hostile = "".join(chr(c) for c in range(0xA0)) + "\u202a\u202e\u2066\u2069\u200e\u200f"
    out = fn(hostile * 3)
    allowed = {"\n"} if fn is clean_block else set()
    for ch in out:
        o = ord(ch)
        assert not (o < 0x20 and ch not in allowed), repr(ch)
        assert not (0x7F <= o <= 0x9F), repr(ch)
        assert ch not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
