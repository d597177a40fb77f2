from console.web.ratelimit import RateLimit


def test_limit_per_key_in_a_sliding_window():
    now = [0.0]
    rl = RateLimit(3, 60.0, clock=lambda: now[0])
    assert [rl.allow("a") for _ in range(4)] == [True, True, True, False]
    assert rl.allow("b")  # another address has its own budget
    now[0] = 59.9
    assert not rl.allow("a")
    now[0] = 60.0
    assert rl.allow("a")


def test_memory_stays_bounded_under_many_addresses():
    now = [0.0]
    rl = RateLimit(1, 10.0, clock=lambda: now[0], max_keys=100)
    for i in range(1000):
        assert rl.allow(f"10.0.{i // 256}.{i % 256}")
    assert len(rl) <= 100


# ---- who the client is (issue 19 item 6): X-Forwarded-For only from trusted proxies

from console.web.ratelimit import Tally, client_address, networks  # noqa: E402

PROXY = networks(["127.0.0.1", "10.1.0.0/16", "::1"])


def test_a_direct_client_is_its_peer_whatever_it_writes_in_the_header():
    assert client_address("203.0.113.7", ["10.0.0.9"], PROXY) == "203.0.113.7"
    assert client_address("127.0.0.1", ["10.0.0.9"], ()) == "127.0.0.1"  # no proxy trusted: not believed


def test_a_trusted_proxy_is_believed_from_the_right_past_other_trusted_proxies():
    assert client_address("127.0.0.1", ["198.51.100.4"], PROXY) == "198.51.100.4"
    assert client_address("127.0.0.1", ["198.51.100.4, 10.1.2.3"], PROXY) == "198.51.100.4"  # two proxies
    assert client_address("127.0.0.1", ["6.6.6.6, 198.51.100.4"], PROXY) == "198.51.100.4"  # client-written left
    assert client_address("127.0.0.1", ["6.6.6.6", "198.51.100.4"], PROXY) == "198.51.100.4"  # two header lines
    assert client_address("::1", ["[2001:db8::5]:4711"], PROXY) == "2001:db8::5"
    assert client_address("127.0.0.1", ["198.51.100.4:5555"], PROXY) == "198.51.100.4"
    assert client_address("127.0.0.1", [], PROXY) == "127.0.0.1"  # the proxy says nothing: the proxy it is
    assert client_address("127.0.0.1", ["10.1.0.1"], PROXY) == "10.1.0.1"  # only proxies: the farthest one
    assert client_address("127.0.0.1", ["junk, 198.51.100.4"], PROXY) == "198.51.100.4"
    assert client_address("127.0.0.1", ["198.51.100.4, junk"], PROXY) == "127.0.0.1"  # garbage from the proxy side
    assert client_address(None, ["198.51.100.4"], PROXY) == "?"


def test_a_flood_of_events_is_a_few_log_lines():
    now, lines = [0.0], []
    tally = Tally(lines.append, every=60.0, clock=lambda: now[0])
    for i in range(788_000):
        now[0] = i * (150 / 788_000)  # 788,000 events in 2.5 minutes
        tally.note("connections closed at the cap", "at the cap: closing the oldest")
    tally.flush(force=True)
    assert len(lines) <= 5, lines
    assert lines[0].startswith("at the cap: closing the oldest (further such events are summed up")
    assert sum(int(x.split(": ", 1)[1].split(" ")[0].replace(",", "")) for x in lines[1:]) == 788_000 - 1
    assert all(x.startswith("in the last ") for x in lines[1:])
    tally.flush(force=True)
    assert len(lines) <= 5  # nothing new: nothing said
