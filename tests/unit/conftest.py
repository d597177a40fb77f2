import pytest

from console.clock import FrozenClock
from console.poller import sync_staff
from store import open_db
from tests.factories import T0, desk_config


@pytest.fixture
def cfg(tmp_path):
    return desk_config(tmp_path)


@pytest.fixture
def db(cfg):
    sync_staff(cfg)
    d = open_db(cfg.store_path)
    yield d
    d.close()


@pytest.fixture
def clock():
    return FrozenClock(T0)
