"""Mail the desk sends: replies (first contact), receipts, "we need details" requests, and notes.

- compose.py    the headers and body of one mail (pure)
- headers.py    the header block, written byte by byte: no stored text can become a header (pure)
- templates.py  canned replies with {ticket}, {subject}, ... (the two shipped ones live in templates/)
- receipts.py   which new tickets get an automatic mail; per-mailbox counting, the caps (pure)
- authres.py    whether a sender is authentic by our MTA's Authentication-Results (pure)
- guard.py      the checks intake runs before an automatic mail: authentication, window, caps
- desk.py       what the CLI and the console call: draft_reply, send_reply, add_note, queue_automatic
- smtp.py       smtplib: EHLO, STARTTLS, AUTH, one send, the `check` login
  (the mail outbox is sent by console.outbox: mail.py over smtp.py)

Intake's hooks (our own mail never opens a ticket; receipts for new tickets) are console/intake/desk_mail.py;
the `reply` and `note` commands are console/cli/replies.py.
"""
