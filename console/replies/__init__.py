"""Mail the desk sends: replies (first contact), receipts, "we need details" requests, and notes.

- compose.py    the headers and body of one mail (pure)
- templates.py  canned replies with {ticket}, {subject}, ... (the two shipped ones live in templates/)
- receipts.py   which new tickets get an automatic mail (pure)
- desk.py       what the CLI and the console call: draft_reply, send_reply, add_note, queue_automatic
- smtp.py       smtplib: EHLO, STARTTLS, AUTH, one send, the `check` login
  (the mail outbox is sent by console.outbox: mail.py over smtp.py)
- inbound.py    intake's hooks: our own mail never opens a ticket; receipts for new tickets
- commands.py   the `reply` and `note` subcommands, and the mail parts of `show` and `check`
"""
