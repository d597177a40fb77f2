"""Signing and wording for acting on a page: signed acknowledge tokens (tokens, keyfile, verify), the texts
pages carry (texts) and the stand-down notices that follow an acknowledgement (standdown).

What uses them sits higher: intake files replies to email pages (console/intake/page_replies.py) and the
link server answers the links (console/web/ack_server.py)."""
