"""The SQLite layer: schema, transactions and small query/update functions.

No network, no Textual, no policy: callers pass in `now` and computed deadlines.
"""
from store.db import open_db, write, data_version, StoreError, StaleWrite  # noqa: F401
from store.times import iso, parse_iso  # noqa: F401
