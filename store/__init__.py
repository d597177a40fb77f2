"""The SQLite layer: schema, transactions and small query/update functions.

No network, no Textual, no policy: callers pass in `now` and computed deadlines.
"""
from store.db import StaleWrite, StoreError, data_version, open_db, write  # noqa: F401
from store.times import iso, parse_iso  # noqa: F401
