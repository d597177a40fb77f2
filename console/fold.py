"""Text folded for search: case and accents ignored ("Müller", "MULLER" and "muller" match)."""
from __future__ import annotations

import unicodedata


def fold(s: str) -> str:
    if s.isascii():
        return s.lower()
    decomposed = unicodedata.normalize("NFKD", s)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
