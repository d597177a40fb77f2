"""Acknowledge tokens (console/ack/tokens.py): pure, signed, bound to ticket, person, page and expiry."""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, UTC

import pytest

from console.ack import tokens
from console.ack.tokens import Claim, InvalidToken

KEY = bytes(range(32))
T = datetime(2026, 3, 2, 3, 0, 0, tzinfo=UTC)
CLAIM = Claim(ticket_id=42, alert_id=7, handle="bob", issued=T, expires=T + timedelta(hours=24))


def test_a_token_reads_back_as_its_claim():
    tok = tokens.make(KEY, CLAIM)
    assert tokens.read(KEY, tok) == CLAIM
    assert tok.isascii() and "=" not in tok and "/" not in tok and "+" not in tok
    assert len(tok) <= 60  # short enough for an SMS beside the essentials


def test_every_altered_character_is_refused():
    tok = tokens.make(KEY, CLAIM)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i, ch in enumerate(tok):
        for other in (alphabet[(alphabet.index(ch) + 1) % 64], alphabet[(alphabet.index(ch) + 32) % 64]):
            altered = tok[:i] + other + tok[i + 1:]
            with pytest.raises(InvalidToken):
                tokens.read(KEY, altered)


def test_changing_the_claim_without_the_key_is_refused():
    # Re-encode the payload with bob -> ann, keeping the old signature: a forgery.
    raw = base64.urlsafe_b64decode(tokens.make(KEY, CLAIM) + "==")
    forged = raw[:-16 - 3] + b"ann" + raw[-16:]
    with pytest.raises(InvalidToken):
        tokens.read(KEY, base64.urlsafe_b64encode(forged).rstrip(b"=").decode())


def test_other_keys_truncation_and_garbage_are_refused():
    tok = tokens.make(KEY, CLAIM)
    for bad in (tok[:-1], tok[:-4], tok + "A", "", "x" * 40, "../../etc/passwd", tok.upper(), None, "é" * 40):
        with pytest.raises(InvalidToken):
            tokens.read(KEY, bad)
    with pytest.raises(InvalidToken):
        tokens.read(bytes(32), tok)


def test_expiry_is_in_the_signed_claim():
    past = Claim(42, 7, "bob", T - timedelta(days=2), T - timedelta(days=1))
    claim = tokens.read(KEY, tokens.make(KEY, past))
    assert claim.expired(T) and not CLAIM.expired(T)
    assert CLAIM.expired(CLAIM.expires)  # the expiry instant itself is too late


def test_handles_are_bounded():
    with pytest.raises(ValueError):
        tokens.make(KEY, Claim(1, 1, "", T, T))
    with pytest.raises(ValueError):
        tokens.make(KEY, Claim(1, 1, "x" * 65, T, T))
    long = Claim(1, 1, "x" * 64, T, T)
    assert tokens.read(KEY, tokens.make(KEY, long)) == long
