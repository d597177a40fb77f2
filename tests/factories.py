"""Shared builders for tests: a desk config, a fixed start time, simple mail bytes."""
from datetime import datetime, UTC

from console.config import from_dict

T0 = datetime(2026, 11, 2, 16, 0, 0, tzinfo=UTC)  # a Monday, 09:00 in Phoenix


def desk_config(tmp_path, **overrides):
    data = {
        "timezone": "America/Phoenix",
        "store": {"path": str(tmp_path / "support.db")},
        "routing": {"urgent": ["urgent@desk.example"], "support": ["support@desk.example"]},
        "staff": [
            {"handle": "ann", "name": "Ann", "role": "supervisor", "notify": ["json://127.0.0.1:9/ann"]},
            {"handle": "bob", "name": "Bob", "role": "staff", "notify": ["json://127.0.0.1:9/bob"]},
            {"handle": "cy", "name": "Cy", "role": "staff", "notify": ["json://127.0.0.1:9/cy"]},
        ],
        "oncall": {"rotation": ["bob", "cy", "ann"], "handoff": "mon 09:00", "start": "2026-11-02"},
    }
    data.update(overrides)
    return from_dict(data)


def mail(frm="carl@cust.example", to="support@desk.example", subject="Help", body="Our printer is broken.",
         message_id="<m1@cust.example>", extra=""):
    headers = f"From: Carl <{frm}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
    if message_id:
        headers += f"Message-ID: {message_id}\r\n"
    return (headers + extra + "\r\n" + body + "\r\n").encode()
