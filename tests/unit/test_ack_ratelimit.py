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
