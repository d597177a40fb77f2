"""fetch_batch: the FETCH reply is read by the keys we asked for; anything else is ignored."""
from datetime import datetime, timedelta, timezone

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
    assert got[0].internaldate == datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc)
    assert got[1].internaldate is None


def test_new_uids_filters_the_uid_star_quirk():
    class Searcher:
        def search(self, criteria):
            assert criteria == ["UID", "43:*"]
            return [42]  # `UID 43:*` answers the highest UID even when it is below 43

    assert imap.new_uids(Searcher(), 42) == []
