"""Counts in words, for every message the window and the command line show.

One place for "1 problem" / "2 problems", so no message says "1 problems"
or hedges with "file(s)".
"""

from __future__ import annotations

#: Nouns whose plural is not the noun plus "s" (the last word of a phrase decides).
IRREGULAR_PLURALS = {"series": "series", "study": "studies", "match": "matches"}


def plural(noun: str) -> str:
    """'file' -> 'files', 'other file' -> 'other files', 'study' -> 'studies', 'series' -> 'series'."""
    head, _, last = noun.rpartition(" ")
    word = IRREGULAR_PLURALS.get(last, last + "s")
    return f"{head} {word}" if head else word


def count(n: int, noun: str) -> str:
    """`n` and `noun`, singular for exactly 1: '1 problem', '0 problems', '2 studies'."""
    return f"{n} {noun if n == 1 else plural(noun)}"
