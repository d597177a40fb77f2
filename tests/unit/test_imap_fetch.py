"""fetch_batch: the FETCH reply is read by the keys we asked for; anything else is ignored."""
from datetime import datetime, timedelta, timezone, UTC

from imapclient.fixed_offset import FixedOffset

from console.intake import imap


class FakeClient:
    """Stands in for IMAPClient.fetch only: the reply shape is what imapclient returns."""

    def __init__(self, reply):
        self.reply, self.calls = reply, []

    def fetch(self, uids, keys):
        self.calls.append((uids, keys))
        return self.reply


def test_unrequested_keys_and_expunged_uids_are_ignored():
    tz = timezone(timedelta(hours=-7))
    reply = {
        10: {b"SEQ": 1, b"FLAGS": (b"\\Recent",), b"MODSEQ": (5,), b"BODY[]": b"Subject: a\r\n\r\nx",
             b"INTERNALDATE": datetime(2026, 3, 2, 9, 0, tzinfo=tz)},
        11: {b"SEQ": 2, b"FLAGS": ()},  # a reply without the body (e.g. an unsolicited FLAGS update)
        13: {b"BODY[]": b"Subject: c\r\n\r\nz", b"INTERNALDATE": datetime(2026, 3, 2, 9, 5)},  # naive: unknown
        99: {b"BODY[]": b"not asked for"},
    }
    client = FakeClient(reply)
    got = imap.fetch_batch(client, [10, 11, 12, 13])
    assert client.calls == [([10, 11, 12, 13], [b"BODY.PEEK[]", b"INTERNALDATE"])]  # ints, and PEEK
    assert [(f.uid, f.raw) for f in got] == [(10, b"Subject: a\r\n\r\nx"), (13, b"Subject: c\r\n\r\nz")]
    assert got[0].internaldate == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    assert got[1].internaldate is None


def test_internaldates_that_cannot_be_converted_are_unknown():
    # imapclient reads "+2400" into a zone datetime refuses to use, and year 1 with +0100 overflows.
    reply = {1: {b"BODY[]": b"a", b"INTERNALDATE": datetime(2026, 3, 2, tzinfo=FixedOffset(24 * 60))},
             2: {b"BODY[]": b"b", b"INTERNALDATE": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))},
             3: {b"BODY[]": b"c", b"INTERNALDATE": b"not a date"},
             4: {b"BODY[]": b"d", b"INTERNALDATE": datetime(2026, 3, 2, 9, 0, tzinfo=FixedOffset(-90))}}
    got = imap.fetch_batch(FakeClient(reply), [1, 2, 3, 4])
    assert [(f.uid, f.internaldate) for f in got] == [
        (1, None), (2, None), (3, None), (4, datetime(2026, 3, 2, 10, 30, tzinfo=UTC))]


def test_new_uids_filters_the_uid_star_quirk():
    class Searcher:
        def search(self, criteria):
            assert criteria == ["UID", "43:*"]
            return [42]  # `UID 43:*` answers the highest UID even when it is below 43

    assert imap.new_uids(Searcher(), 42) == []
