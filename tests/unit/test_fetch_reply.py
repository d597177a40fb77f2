"""fetch_reply.read_reply must read every FETCH reply exactly as imapclient's parse_fetch_response does."""

import random
from datetime import datetime

import pytest
from imapclient.response_parser import parse_fetch_response

from console.intake import fetch_reply

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
# Dates a server might send, and some it should not: each must come out as imapclient reads it.
ODD_DATES = [
    b" 1-Jan-2026 00:00:00 +0000", b"01-Jan-2026 00:00:00 +0000", b"29-Feb-2024 12:00:00 +0530",
    b"29-Feb-2026 12:00:00 +0000", b"31-Apr-2026 12:00:00 +0000", b"30-Nov-2026 24:00:00 +0000",
    b"30-Nov-2026 23:59:60 +0000", b"30-Nov-2026 23:59:59 -0000", b"30-Nov-2026 23:59:59 -0800",
    b"30-Nov-2026 23:59:59 +2359", b"30-Nov-2026 23:59:59 +2400", b"30-Nov-2026 23:59:59 +0160",
    b"30-Nov-0099 10:00:00 +0000", b"30-Nov-0999 10:00:00 +0000", b"30-nov-2026 10:00:00 +0000",
    b"30-November-2026 10:00:00 +0000", b"30-Nov-26 10:00:00 +0000", b"00-Nov-2026 10:00:00 +0000",
    b"30-Nov-2026 10:00 +0000", b"30-Nov-2026 10:00:00", b"30-Nov-2026 10:00:00 UTC", b"garbage",
    b"Mon, 30 Nov 2026 10:00:00 +0000", b"30-Nov-2026 10.00.00 +0000", b"", b"9-Nov-2026 10:00:00 +0000",
]
# Replies the common shape does not cover: read by parse_fetch_response, or refused by it just the same.
ODD_ENTRIES = [
    [b"9 (FLAGS (\\Seen))"],  # unsolicited flag change
    [b'9 (UID 9 INTERNALDATE "30-Nov-2026 10:00:00 +0000" BODY[] NIL)'],  # gone between SEARCH and FETCH
    [b'9 (UID 9 INTERNALDATE "30-Nov-2026 10:00:00 +0000" BODY[] "quoted body")'],
    [(b'9 (UID 9 FLAGS () INTERNALDATE "30-Nov-2026 10:00:00 +0000" BODY[] {3}', b"abc"), b")"],
    [(b'9 (uid 9 internaldate "30-Nov-2026 10:00:00 +0000" body[] {3}', b"abc"), b")"],
    [(b'9 (INTERNALDATE "30-Nov-2026 10:00:00 +0000" UID 9 BODY[] {3}', b"abc"), b")"],
    [(b'9 (UID 9 BODY[] {3}', b"abc"), b' INTERNALDATE "30-Nov-2026 10:00:00 +0000" FLAGS ())'],
    [(b'9 (UID 9 BODY[] {3}', b"abc"), b")"],
    [(b'9 (UID 9 INTERNALDATE "30-Nov-2026 10:00:00 +0000" BODY[] {3}', b"abc"), b" FLAGS (\\Seen))"],
    [(b'9 (UID 9 INTERNALDATE "30-Nov-2026 10:00:00 +0000" BODY[] {3}', b"abc"), b" UID 10)"],
    [(b'9 (UID 9 INTERNALDATE "30-Nov-2026 10:00:00 +0000" BODY[] {3}', b"abc"), b" )"],
    [(b'9 (UID "9" INTERNALDATE "30-Nov-2026 10:00:00 +0000" BODY[] {3}', b"abc"), b")"],
    [(b'9 (UID 9 INTERNALDATE "30-Nov-2026 10:00:00 +0000" BODY[] {4}', b"abc"), b")"],
    [(b'9 (UID 9 INTERNALDATE "30-Nov-2026 10:00:00 +0000" BODY[]<0> {3}', b"abc"), b")"],
    [(b'9 (UID 9 INTERNALDATE "30-Nov-2026 10:00:00 +0000" BODY[] {3}', b"abc")],
    [(b'x (UID 9 INTERNALDATE "30-Nov-2026 10:00:00 +0000" BODY[] {3}', b"abc"), b")"],
    [(b'9 (UID 9 INTERNALDATE "30-Nov-2026 10:00:00 +0000" BODY[] {3}', b"abc", b"x"), b")"],
    [(b'9 (UID 9 INTERNALDATE "30-Nov-2026 10:00:00 +0000" BODY[] {3}', bytearray(b"abc")), b")"],
    [None],
]


def _date(rng: random.Random) -> bytes:
    if rng.random() < 0.15:
        return rng.choice(ODD_DATES)
    day = rng.randint(1, 31)
    zone = rng.choice([b"+0000", b"-0500", b"+0530", b"+1345", b"-1200", b"+0100"])
    return b"%s-%s-%d %02d:%02d:%02d %s" % (
        (b"%2d" if rng.random() < 0.5 else b"%02d") % day, rng.choice(MONTHS).encode(), rng.randint(1970, 2099),
        rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), zone)


def _message(rng: random.Random, seq: int, uid: int) -> list:
    body = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 40, 300])))
    date = _date(rng)
    if rng.random() < 0.5:  # Dovecot's order
        return [(b'%d (UID %d INTERNALDATE "%s" BODY[] {%d}' % (seq, uid, date, len(body)), body), b")"]
    return [(b"%d (UID %d BODY[] {%d}" % (seq, uid, len(body)), body), b' INTERNALDATE "%s")' % date]


def _reply(rng: random.Random) -> list:
    data: list = []
    uids = rng.sample(range(1, 10_000), rng.randint(0, 6))
    for seq, uid in enumerate(uids, 1):
        data += _message(rng, seq, uid)
    r = rng.random()
    if r < 0.1:
        at = rng.randint(0, len(data) // 2) * 2
        data[at:at] = rng.choice(ODD_ENTRIES)
    elif r < 0.15 and uids:
        data += _message(rng, 99, uids[0])  # the same UID twice: imapclient merges the two
    return data


def _offset(d: datetime):
    try:
        return d.utcoffset()
    except ValueError as exc:  # imapclient's FixedOffset takes +2400, which datetime then refuses
        return str(exc)


def _read(fn, data):
    """The result, with each datetime's UTC offset beside it (aware datetimes compare equal across zones)."""
    try:
        got = fn(data)
    except Exception as exc:  # noqa: BLE001 - both must refuse the same replies the same way
        return ("raised", type(exc).__name__, str(exc))
    return {uid: {k: (v.replace(tzinfo=None), _offset(v)) if isinstance(v, datetime) else v for k, v in item.items()}
            for uid, item in got.items()}


def test_read_reply_gives_what_parse_fetch_response_gives():
    rng = random.Random(20261129)
    common = 0
    for _ in range(6000):
        data = _reply(rng)
        assert _read(fetch_reply.read_reply, data) == _read(lambda d: parse_fetch_response(d, False, True), data), data
        common += fetch_reply._read_common(data) is not None
    assert 3000 < common < 6000  # both ways were taken, many times


@pytest.mark.parametrize("date", ODD_DATES)
def test_each_odd_date_is_read_as_imapclient_reads_it(date):
    for data in ([(b'4 (UID 7 INTERNALDATE "%s" BODY[] {2}' % date, b"hi"), b")"],
                 [(b"4 (UID 7 BODY[] {2}", b"hi"), b' INTERNALDATE "%s")' % date]):
        assert _read(fetch_reply.read_reply, data) == _read(lambda d: parse_fetch_response(d, False, True), data)


@pytest.mark.parametrize("entries", ODD_ENTRIES)
def test_each_odd_entry_is_read_as_imapclient_reads_it(entries):
    # between two messages in the common shape, one in each order: the odd entry alone sends it to imapclient
    first = [(b'1 (UID 5 INTERNALDATE "30-Nov-2026 10:00:00 +0100" BODY[] {2}', b"hi"), b")"]
    last = [(b"2 (UID 6 BODY[] {3}", b"h\r\n"), b' INTERNALDATE " 1-Dec-2026 10:00:00 -0230")']
    assert fetch_reply._read_common(first + last) is not None
    data = first + entries + last
    assert fetch_reply._read_common(data) is None
    assert _read(fetch_reply.read_reply, data) == _read(lambda d: parse_fetch_response(d, False, True), data)


def test_the_common_shape_does_not_go_through_imapclients_parser(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("parse_fetch_response was called")

    monkeypatch.setattr(fetch_reply, "parse_fetch_response", refuse)
    data = [(b'1 (UID 41 INTERNALDATE " 2-Mar-2026 09:00:00 -0700" BODY[] {5}', b"a\r\nb\r"), b")",
            (b"2 (UID 42 BODY[] {0}", b""), b' INTERNALDATE "02-Mar-2026 16:00:01 +0000")']
    got = fetch_reply.read_reply(data)
    assert got == {41: {b"SEQ": 1, b"INTERNALDATE": datetime.fromisoformat("2026-03-02T09:00:00-07:00"),
                        b"BODY[]": b"a\r\nb\r"},
                   42: {b"SEQ": 2, b"INTERNALDATE": datetime.fromisoformat("2026-03-02T16:00:01+00:00"),
                        b"BODY[]": b""}}
    assert got[41][b"INTERNALDATE"].utcoffset().total_seconds() == -7 * 3600
