"""When two answerers' names are the same person.

Names reach the worker from several places (an OIDC email claim, a proxy's header, an approval
system's own user names) that do not agree on case or on invisible characters, and any of them
may be typed by the person herself. Compared byte for byte, "alice" could approve her own run
as "Alice", count twice towards an N-of-M rule as "alice" and "ALICE\u00ad", or have an approval
system's key speak for her as "Alice" although only her own key may. So every rule about *who*
compares `person` keys: Unicode compatibility folding (fullwidth letters, ligatures), case
folding, no invisible format characters, and no whitespace. Names keep their spelling in events
and audit records; only comparisons fold.

Confusables across scripts (a Cyrillic "a", U+0430, in "alice") are not folded: that needs Unicode's
confusables table, and an identity provider that lets people pick such names is the place to
refuse them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

__all__ = ["person", "persons"]


def person(name: str) -> str:
    """The key under which ``name`` is compared with other names."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    # Cf: format characters (zero-width space and joiners, soft hyphen, bidi marks).
    kept = (c for c in folded if unicodedata.category(c) != "Cf" and not c.isspace())
    # Folding can yield new compositions ("ß".casefold() is "ss"; NFKC again is stable).
    return unicodedata.normalize("NFKC", "".join(kept))


def persons(names: Iterable[str]) -> frozenset[str]:
    return frozenset(person(name) for name in names)
