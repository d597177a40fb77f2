"""Which support class a new mail belongs to. Pure code.

The policy (support-policy.txt): mail to ``urgent@`` is Class III; mail to ``support@`` is Class I
unless the customer marks it Class II (or III) themselves.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import NamedTuple

from console.safe_text import has_word_prefix

__all__ = ["CLASSES", "Classification", "classify", "customer_mark", "is_urgent"]

CLASSES = ("I", "II", "III")
_RANK = {c: i for i, c in enumerate(CLASSES)}
_BODY_LINES = 5


class Classification(NamedTuple):
    cls: str  # "I" | "II" | "III"
    reason: str  # short, human: "sent to urgent@example.com"


_NUMERAL = {"iii": "III", "ii": "II", "i": "I", "3": "III", "2": "II", "1": "I",
            "three": "III", "two": "II", "one": "I"}
# "Class II", "class-2", "Class: III", "CLASS THREE". Word boundaries on both sides: "classic",
# "Class 12" and "Class IIb" do not match, and "Class III" is never read as "Class I"/"II".
_CLASS_WORD = r"(?i)(?<![\w])class[\s:#-]*(iii|ii|i|3|2|1|three|two|one)(?![\w])"
# "[II]", "[ III ]": the whole bracket, so "[II]" is never found inside "[III]".
_BRACKET = r"(?i)\[\s*(iii|ii|i)\s*\]"


def _may_have_mark(text: str) -> bool:
    """False when neither _CLASS_WORD (needs a word starting "class") nor _BRACKET (needs "[") can match."""
    return "[" in text or has_word_prefix(text, ("class",))


def _marks(text: str) -> list[str]:
    # re.IGNORECASE also matches "İ", "ı" and "ſ"; their lower() is no numeral we know, so they are skipped
    found = [_NUMERAL.get(m.group(1).lower()) for m in re.finditer(_CLASS_WORD, text)]
    found += [_NUMERAL.get(m.group(1).lower()) for m in re.finditer(_BRACKET, text)]
    return [f for f in found if f is not None]


def _body_head(body: str) -> list[str]:
    lines: list[str] = []
    for line in (body or "").splitlines():
        if line.rstrip() in ("--", "-- "):
            break  # signature
        stripped = line.strip()
        if not stripped or stripped.startswith(">"):
            continue  # blank or quoted
        lines.append(stripped)
        if len(lines) >= _BODY_LINES:
            break
    return lines


def _find_mark(subject: str, body: str) -> tuple[str, str] | None:
    head, text = subject or "", body or ""
    if isinstance(head, str) and isinstance(text, str) and not _may_have_mark(head) and not _may_have_mark(text):
        return None  # most mail: the body lines below hold no mark either
    marks = _marks(head)
    if marks:
        return max(marks, key=_RANK.__getitem__), "subject"
    for line in _body_head(body):
        marks = _marks(line)
        if marks:
            return max(marks, key=_RANK.__getitem__), "body"
    return None


def customer_mark(subject: str, body: str) -> str | None:
    """The class the customer gave the mail ("I", "II" or "III"), or None.

    Looks at the subject first, then at the first five non-empty, unquoted lines of the body (up to a
    "-- " signature line). Recognises "Class II", "Class 2", "class ii", "Class-III", "Class three" and
    bracketed "[II]" forms. When one place carries several marks, the highest wins.
    """
    found = _find_mark(subject, body)
    return found[0] if found else None


def _norm(addrs: Iterable[str] | str | None) -> list[str]:
    if addrs is None:
        return []
    if isinstance(addrs, str):
        addrs = [addrs]
    out = []
    for a in addrs:
        a = str(a or "").strip().strip("<>").strip().lower()
        if a:
            out.append(a)
    return out


def _address_set(addrs: Iterable[str] | str | None) -> frozenset[str]:
    """set(_norm(addrs)); cached for the configured routing tuples, which are the same on every call.
    Only tuples of str: equal tuples of other values, (1,) and (True,), normalise differently."""
    if type(addrs) is tuple and all(type(a) is str for a in addrs):
        return _address_set_of_tuple(addrs)
    return frozenset(_norm(addrs))


@functools.lru_cache(maxsize=64)
def _address_set_of_tuple(addrs: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_norm(addrs))


def is_urgent(recipients: Iterable[str], urgent: Iterable[str]) -> bool:
    """Whether any recipient is one of the urgent addresses (case-insensitive)."""
    urgent_set = _address_set(urgent)
    return any(r in urgent_set for r in _norm(recipients))


def classify(
    recipients: Iterable[str],
    subject: str,
    body: str,
    *,
    urgent: Iterable[str],
    support: Iterable[str],
    default_class: str = "I",
) -> Classification:
    """Classify one new mail.

    1. Any recipient in ``urgent`` (case-insensitive) -> Class III.
    2. Else any recipient in ``support`` -> the customer's own mark (see :func:`customer_mark`), else
       Class I.
    3. Else (mail reached us through an address that is in neither list) -> the customer's mark if
       there is one, else ``default_class``. The mark may raise or lower the class here: a customer who
       wrote "Class II" told us what they need, whichever address they used.
    """
    if default_class not in _RANK:
        raise ValueError(f"default_class must be one of {CLASSES}, not {default_class!r}")
    rcpts = _norm(recipients)
    urgent_set = _address_set(urgent)
    support_set = _address_set(support)

    for r in rcpts:
        if r in urgent_set:
            return Classification("III", f"sent to {r}")

    found = _find_mark(subject, body)
    for r in rcpts:
        if r in support_set:
            if found:
                return Classification(found[0], f"customer marked Class {found[0]} in {found[1]}")
            return Classification("I", f"sent to {r}")

    if found:
        return Classification(found[0], f"customer marked Class {found[0]} in {found[1]} (unknown address)")
    return Classification(default_class, "default class for unknown address")
