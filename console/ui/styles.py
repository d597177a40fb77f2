"""Styled pieces of text for the console, as Textual Content with the theme's `$variables`.

Text from mail or the config goes in through `Content(...)`/`Content.styled(...)`, which never parse
markup; it is cleaned with console.safe_text before it gets here.
"""
from __future__ import annotations

from textual.content import Content

from console.ui import format as fmt


def badge(cls: str) -> Content:
    info = fmt.class_info(cls)
    return Content.styled(info.badge, f"bold $background on ${info.css}")


def class_word(cls: str) -> Content:
    info = fmt.class_info(cls)
    return Content.styled(f"Class {info.code}", f"bold ${info.css}")


LEVEL_STYLES = {"ok": "", "warn": "bold $urgency-warn", "breached": "bold $background on $urgency-breached",
                "acked": "$text-muted"}


def left(secs: int | None, lvl: str) -> Content:
    return Content.styled(fmt.left_cell(secs, lvl), LEVEL_STYLES.get(lvl, ""))


def alarm(text: str) -> Content:
    return Content.styled(text, "bold $background on $urgency-breached")


def good(text: str) -> Content:
    return Content.styled(text, "$success")


def muted(text: str) -> Content:
    return Content.styled(text, "$text-muted")


def bold(text: str) -> Content:
    return Content.styled(text, "bold")


def heading(text: str) -> Content:
    return Content.styled(text, "bold underline")


def join(*parts: Content | str) -> Content:
    out = Content("")
    for p in parts:
        out = out + (p if isinstance(p, Content) else Content(p))
    return out
