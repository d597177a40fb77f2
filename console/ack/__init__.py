"""Acting on a page: signed acknowledge links (tokens, keyfile, links, server), acknowledging by
replying to an email page (by_mail), the texts pages carry (texts) and the stand-down notices that
follow an acknowledgement (standdown)."""
