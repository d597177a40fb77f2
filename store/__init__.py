"""The SQLite layer: schema, transactions and small query/update functions.

No network, no Textual, no policy: callers pass in `now` and computed deadlines.
"""
from store.times import iso, parse_iso  # noqa: F401

_DB_NAMES = {"open_db", "write", "data_version", "StoreError", "StaleWrite"}


def __getattr__(name: str):
    # store.db (and sqlite-utils) load on first use: intake's parsing helper process never needs them.
    if name in _DB_NAMES:
        from store import db

        return getattr(db, name)
    raise AttributeError(f"module 'store' has no attribute {name!r}")
