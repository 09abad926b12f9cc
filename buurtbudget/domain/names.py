"""Display names that read alike, whatever characters spell them.

A resident must not pass for a staff member by a name that looks the same on screen: Cyrillic
'о' for Latin 'o', Greek 'Τ' for 'T', full-width letters, 'rn' for 'm', a zero-width space or a
combining mark in between, or a right-to-left override that turns the letters around.
:func:`name_keys` gives what a name reads as, built on Unicode's confusable *skeleton* (UTS #39,
section 4) with Unicode's own mapping data (data/confusables.txt, version in its header).

No library is used for it: confusable-homoglyphs (the maintained one) keeps both directions of
each pair, so it has no skeleton; confusables (last release 2021) enumerates every spelling;
ICU's SpoofChecker needs a C++ build or a 40 MB wheel. The skeleton itself is a few lines.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache
from pathlib import Path

CONFUSABLES = Path(__file__).parent / "data" / "confusables.txt"

# Default_Ignorable_Code_Point (Unicode's DerivedCoreProperties.txt): drawn as nothing.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Controls that reorder the letters around them (bidi embeddings, overrides, isolates, marks).
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Joiners that some scripts and emoji need inside a word; invisible otherwise.
_JOINERS = frozenset("\u200c\u200d")


def is_default_ignorable(char: str) -> bool:
    code = ord(char)
    if code < 0xAD:  # the common case: ASCII and Latin-1 letters
        return False
    return any(low <= code <= high for low, high in _DEFAULT_IGNORABLE)


def is_invisible(char: str) -> bool:
    """A default-ignorable or format character: it takes no room of its own on screen."""
    return is_default_ignorable(char) or unicodedata.category(char) == "Cf"


@cache
def prototypes() -> dict[str, str]:
    """Each confusable character and the prototype it reads as (one or more characters)."""
    table: dict[str, str] = {}
    for line in CONFUSABLES.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        source, target, _kind = (field.strip() for field in line.split(";"))
        table[chr(int(source, 16))] = "".join(chr(int(code, 16)) for code in target.split())
    return table


def skeleton(text: str) -> str:
    """UTS #39 skeleton: NFD, default-ignorables removed, each character replaced by its
    prototype, NFD again. Two strings are confusable when their skeletons are equal."""
    table = prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    mapped = "".join(table.get(c, c) for c in decomposed if not is_default_ignorable(c))
    return unicodedata.normalize("NFD", mapped)


def clean_name(name: str) -> str:
    """The name as stored: trimmed, without the controls that reorder letters on screen and
    without other invisible characters (the joiners some scripts need excepted)."""
    kept = (c for c in name if c in _JOINERS or not (c in _BIDI_CONTROLS or is_invisible(c)))
    return " ".join("".join(kept).split())


def has_visible_text(name: str) -> bool:
    """Whether the name shows at least one letter or digit (not only invisible characters,
    spaces, marks or punctuation)."""
    return any(char.isalnum() for char in clean_name(unicodedata.normalize("NFKC", name)))


def _key(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalnum())


@lru_cache(maxsize=4096)  # staff names are compared again with every new name
def name_keys(name: str) -> frozenset[str]:
    """What a name reads as: two names read alike when their keys share one.

    NFKC first (full-width and other compatibility forms), invisible characters removed, then
    the skeleton, then case, accents, spaces and punctuation left out, so "Wijkcoördinator
    Tanthof" and "wijkcoordinator-tanthof" read alike (Dutch names keep their diacritics on
    screen; they only do not make a name different here). The skeleton maps by case (capital
    'I' reads as 'l', Cyrillic 'т' as a small capital 'ᴛ'), so it is taken of the name as
    typed, in lower case and in capitals: a look-alike in any of the three counts.
    """
    text = "".join(c for c in unicodedata.normalize("NFKC", name) if not is_invisible(c))
    return frozenset(_key(skeleton(form)) for form in (text, text.casefold(), text.upper()))


def reads_alike(name: str, other: str) -> bool:
    return bool(name_keys(name) & name_keys(other))
