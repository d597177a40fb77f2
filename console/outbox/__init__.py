"""The one outbox sender, for pages and for mail.

- lifecycle.py  sender ids, backoff, the retry horizon, bookkeeping that survives a busy database
- runner.py     the sender loop: wakes at the next due row or on a change, claims for idle senders
- pages.py      the pages channel: apprise, per-service results, links signed by console.ack.links
- mail.py       the mail channel: SMTP through console.replies.smtp, `reply`'s immediate send
- journal.py    what the SMTP server accepted, kept outside the database (disk full)

The SQL of the shared lifecycle (claim, settle, expire, requeue, next due, counts) is store/queue.py.
"""
