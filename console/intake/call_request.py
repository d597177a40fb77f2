"""The reading behind callme.needs_details, for mail that mentions a call: the call request itself, and
what else the mail says once greetings, sign-offs, quoted text, numbers and filler words are set aside.
Apart from callme so that its patterns are compiled only for such mail."""

from __future__ import annotations

import re

# needs_details only when fewer than this many meaningful words remain. Filler, greetings and
# vague words ("problem", "issue", "help") are not counted, so 4 here is about 6 plain words.
MIN_MEANINGFUL_WORDS = 4

_CALL_REQUEST = re.compile(
    r"""
    \b(?:please\s+|pls\s+|plz\s+|kindly\s+)?
    (?:
        (?:call|phone|ring|telephone|tel)\s+(?:me|us)(?:\s+back)?
      | call\s*back
      | give\s+(?:me|us)\s+a\s+(?:call|ring|buzz|phone\s+call|quick\s+call)
      | (?:can|could|would|will)\s+(?:you|someone|somebody|anyone|one\s+of\s+you)\s+(?:please\s+)?
            (?:call|phone|ring|give\s+(?:me|us)\s+a\s+(?:call|ring))
      | (?:i|we)\s+(?:need|want|would\s+like|'d\s+like)\s+(?:a\s+)?(?:call|phone\s+call|callback|call\s+back)
      | call\s+(?:at|on)\s+\+?\d
    )\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_PHONE = re.compile(
    r"(?:\+|\b)\d[\d\s().\-/]{4,30}\d\b(?:\s*(?:ext\.?|extension|x)\s*\d+)?"
    r"|\(\d{3}\)\s*\d{3}[\s.-]?\d{4}",
    re.IGNORECASE,
)
_EMAIL_OR_URL = re.compile(r"\S+@\S+|\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)
_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|sv)\s*:\s*|\[[^\]]*\]\s*)+", re.IGNORECASE)
_GREETING_LINE = re.compile(
    r"^\s*(?:hi|hello|hey|dear|greetings|good\s+(?:morning|afternoon|evening|day)|hiya|howdy|yo)\b[\w\s,.!-]{0,40}$",
    re.IGNORECASE,
)
_SIGNOFF_LINE = re.compile(
    r"^\s*(?:thanks|thank\s+you|thx|cheers|regards|best|best\s+regards|kind\s+regards|warm\s+regards|"
    r"sincerely|yours|many\s+thanks|ta|br)\b[\w\s,.!]{0,30}$",
    re.IGNORECASE,
)
_ORIGINAL_MESSAGE = re.compile(r"-{2,}\s*original message\s*-{2,}", re.IGNORECASE)
_WROTE_LINE = re.compile(r"on .{0,200}wrote:\s*$", re.IGNORECASE)
_NAME_LINE = re.compile(r"^\s*[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,2}\s*[.,]?\s*$")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")

# Words that say nothing about a problem: function words, pleasantries, call vocabulary, vague
# "I have an issue" words and the customer's own class marks.
_STOP = frozenset(
    """
    a an the and or but so if then than to of in on at by for from with about as into up out
    over i me my mine we us our ours you your yours he she it its it's they them their this that
    these those there here is am are was were be been being do does did done have has had having
    will would shall should can could may might must let lets let's i'm i've i'd i'll we're
    we've we'd we'll you're don't doesn't didn't can't cannot won't isn't aren't wasn't hi hello
    hey dear greetings morning afternoon evening day good hiya howdy yo team support folks all
    everyone guys sir madam thanks thank thx cheers regards best kind warm sincerely yours many
    appreciated appreciate ta br please pls plz kindly call called calling calls phone phoned
    phoning ring ringing telephone tel cell mobile number num no ext extension office desk home
    work direct line reach reached contact touch back callback asap soon possible quickly quick
    urgent urgently immediately now today tonight tomorrow anytime any time when whenever
    convenience earliest available between until before after pm am problem problems issue
    issues question questions something thing things stuff help need needs needed want like
    would talk speak discuss discussing chat regarding re concerning matter get got just some
    someone somebody anyone one class ii iii fwd fw call-back
    """.split()  # noqa: SIM905 - a word list reads better as text
)


def _relevant_lines(body: str) -> list[str]:
    lines: list[str] = []
    for line in (body or "").splitlines():
        stripped = line.strip()
        if line.rstrip() in ("--", "-- ") or _ORIGINAL_MESSAGE.match(stripped):
            break  # signature or quoted original below
        if _WROTE_LINE.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        lines.append(line)
    return lines


def _strip_sign_off(lines: list[str]) -> list[str]:
    """Drop greeting lines, the sign-off and the name lines after it, and a trailing name line."""
    kept = [ln for ln in lines if ln.strip()]
    out: list[str] = []
    for ln in kept:
        if _SIGNOFF_LINE.match(ln):
            break  # "Thanks,\nBob" and everything after it
        if _GREETING_LINE.match(ln) and len(ln.split()) <= 4:
            continue
        out.append(ln)
    while out and _NAME_LINE.match(out[-1]) and len(out[-1].split()) <= 3:
        out.pop()
    return out


def _meaningful_words(text: str) -> list[str]:
    text = _EMAIL_OR_URL.sub(" ", text)
    text = _PHONE.sub(" ", text)
    text = _CALL_REQUEST.sub(" ", text)
    words = []
    for w in _WORD.findall(text):
        lw = w.lower().replace("\u2019", "'")
        if lw in _STOP or any(c.isdigit() for c in lw) or len(lw) < 2:
            continue
        words.append(lw)
    return words


def asks_only_for_call(head: str, text: str) -> bool:
    """callme.needs_details for a subject and the start of a body (both already cut to callme's bound)."""
    subject = _SUBJECT_PREFIX.sub("", head)
    lines = _relevant_lines(text)
    text_for_request = subject + "\n" + "\n".join(lines)
    if not _CALL_REQUEST.search(text_for_request):
        return False
    body_lines = _strip_sign_off(lines)
    words = _meaningful_words(subject) + _meaningful_words("\n".join(body_lines))
    return len(words) < MIN_MEANINGFUL_WORDS
