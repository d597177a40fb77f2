"""Whether a sender is who it says, by the desk's own receiving MTA's Authentication-Results (RFC 8601). Pure.

An automatic mail (a receipt, a details request) goes to the From address of a mail nobody has read yet.
Without a check, anyone can make the desk write to any third party (backscatter) by forging From. The
desk's MTA checks SPF, DKIM and DMARC as mail arrives and writes its verdict at the top of the header,
in an Authentication-Results field that starts with its authserv-id ([replies] trusted_authserv_id).

Which fields count: only those with that id that stand above the Received line of the SMTP hop on which
the mail reached us (the topmost Received "with SMTP/ESMTP/ESMTPS/..."; the local delivery's own
Received "with LMTP" above it does not count as that hop; without any SMTP hop, the first Received line
of all). A sender can put any field it likes in its own header, our MTA's id and Received lines
included, but only below that line. (RFC 8601 section 5 asks the MTA to remove such fields; not every
MTA does.)

What passes: dmarc=pass for the From domain; or, where the domain publishes no DMARC policy (dmarc=none,
or no dmarc result), spf=pass for an envelope sender of the From domain or dkim=pass signed by it
("aligned", relaxed: the same domain or a parent or child of it). Anything else, including no verdict
at all, does not: the automatic mail is withheld and the ticket says why.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_FIELDS = 50  # Authentication-Results fields looked at
MAX_VALUE = 8 * 1024  # characters of one field read
_COMMENT = re.compile(r"\([^()]*\)")
# A hop over SMTP (RFC 3848's protocol types: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP...), not LMTP.
_SMTP_HOP = re.compile(r"\bwith\s+(?:E?SMTP|UTF8SMTP)[A-Z]*\b", re.IGNORECASE)
_PROP = re.compile(r"([a-z0-9-]+)\.([a-z0-9._-]+)=(\"[^\"]*\"|[^\s;]+)")
_RESULT = re.compile(r"([a-z0-9_-]+)(?:/[0-9]+)?=([a-z]+)")


@dataclass(frozen=True)
class Result:
    method: str  # "dmarc", "spf", "dkim", ...
    result: str  # "pass", "fail", "none", ...
    props: dict[str, str]  # "header.from" -> "bank.test", "smtp.mailfrom" -> "a@bank.test", ...


@dataclass(frozen=True)
class Verdict:
    ok: bool
    why: str  # "dmarc=pass" or why the sender is not taken as authentic, for the ticket


def _strip_comments(value: str) -> str:
    for _ in range(5):  # nested comments, a few levels; deeper ones are not what an MTA writes
        value, n = _COMMENT.subn(" ", value)
        if not n:
            break
    return value


def parse(value: str) -> tuple[str, list[Result]]:
    """An Authentication-Results value -> (authserv-id, results). Lower-cased; comments dropped."""
    text = _strip_comments(" ".join(value[:MAX_VALUE].split())).lower()
    parts = [p.strip() for p in text.split(";")]
    head = parts[0].split()
    authserv = head[0] if head else ""
    results: list[Result] = []
    for part in parts[1:]:
        m = _RESULT.match(part)
        if m is None or m.group(1) == "none":
            continue
        props = {f"{p}.{q}": v.strip('"') for p, q, v in _PROP.findall(part[m.end():])}
        results.append(Result(m.group(1), m.group(2), props))
    return authserv, results


def trusted_results(fields: Iterable[tuple[str, str]], authserv_id: str) -> list[Result] | None:
    """The results our MTA wrote, from header fields in order (name, unfolded value); None when it wrote
    no Authentication-Results field above its Received line."""
    want = authserv_id.strip().lower()
    seen = [(name.strip().lower(), value) for name, value in fields]
    received = [i for i, (n, _) in enumerate(seen) if n == "received"]
    hops = [i for i in received if _SMTP_HOP.search(_strip_comments(seen[i][1][:MAX_VALUE]))]
    limit = (hops or received or [len(seen)])[0]
    found: list[Result] | None = None
    for _, value in [f for f in seen[:limit] if f[0] == "authentication-results"][:MAX_FIELDS]:
        authserv, results = parse(value)
        if authserv == want:
            found = (found or []) + results
    return found


def _domain(value: str) -> str:
    return value.rpartition("@")[2].strip().strip("<>").rstrip(".").lower()


def aligned(a: str, b: str) -> bool:
    """Relaxed alignment, approximated without the public suffix list: one domain is the other or a
    subdomain of it."""
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return bool(a and b) and (a == b or a.endswith("." + b) or b.endswith("." + a))


def judge(results: list[Result] | None, sender: str, authserv_id: str) -> Verdict:
    """Whether our MTA's verdict makes `sender` (the From address) authentic."""
    if results is None:
        return Verdict(False, f"no Authentication-Results from {authserv_id} (the sender is not authenticated)")
    domain = _domain(sender)
    dmarc = [r for r in results if r.method == "dmarc"]
    for r in dmarc:
        if r.result == "pass" and aligned(r.props.get("header.from", domain), domain):
            return Verdict(True, "dmarc=pass")
    bad = [r.result for r in dmarc if r.result not in ("pass", "none")]
    if bad:
        return Verdict(False, f"dmarc={bad[0]} at {authserv_id}")
    if any(r.result == "pass" for r in dmarc):
        return Verdict(False, f"dmarc=pass at {authserv_id} is for another domain than {domain}")
    for r in results:
        if r.method == "spf" and r.result == "pass" and \
                aligned(_domain(r.props.get("smtp.mailfrom", "")), domain):
            return Verdict(True, "spf=pass, aligned, no DMARC policy")
        if r.method == "dkim" and r.result == "pass" and \
                aligned(r.props.get("header.d") or _domain(r.props.get("header.i", "")), domain):
            return Verdict(True, "dkim=pass, aligned, no DMARC policy")
    said = ", ".join(f"{r.method}={r.result}" for r in results[:6]) or "no results"
    return Verdict(False, f"no DMARC pass nor aligned SPF or DKIM pass for {domain} at {authserv_id} ({said})")
