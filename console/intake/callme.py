"""Spot "please call me at 555-1212" mail that describes no problem.

The policy says such mail never gets a call back; the desk flags it ``needs_details`` and asks the
customer to describe the problem in writing. False positives annoy a customer who did describe the
problem, so the heuristic is conservative: it needs an explicit call request AND almost nothing else.
"""

from __future__ import annotations

from console.safe_text import has_word_prefix

__all__ = ["needs_details"]

# Only the start of a long mail is read: a call-only mail is short, and this bounds the work.
_MAX_CHARS = 20_000
# In every alternative of call_request's _CALL_REQUEST one of these begins a word (it follows \b or \s):
# text in which none does cannot hold a call request.
_CALL_WORDS = ("call", "phone", "ring", "tel", "buzz")


def _mentions_call(text: str) -> bool:
    """False when ``text`` cannot hold a call request (see _CALL_WORDS)."""
    return has_word_prefix(text, _CALL_WORDS)


def needs_details(subject: str, body: str) -> bool:
    """True when the mail asks to be called and says (almost) nothing about the problem.

    Quoted lines (">") and anything after a "-- " signature line are ignored. After removing the call
    request, phone numbers, greetings, thanks, sign-off names and filler words, fewer than
    ``call_request.MIN_MEANINGFUL_WORDS`` words must remain.
    """
    head, text = (subject or "")[:_MAX_CHARS], body or ""
    both_str = isinstance(head, str) and isinstance(text, str)
    if both_str and not _mentions_call(head) and not _mentions_call(text[:_MAX_CHARS]):
        return False  # most mail: no call request can be found, and call_request is never loaded
    from console.intake import call_request

    return call_request.asks_only_for_call(head, text[:_MAX_CHARS])

