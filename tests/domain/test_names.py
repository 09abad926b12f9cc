"""domain.names: Unicode's confusable skeleton (UTS #39) and the keys display names are
compared by."""

from __future__ import annotations

import pytest

from buurtbudget.domain import names


def test_the_data_is_unicodes_confusables_file():
    header = names.CONFUSABLES.read_text(encoding="utf-8").splitlines()[:10]
    assert "# Unicode Security Mechanisms for UTS #39" in header
    assert "# Version: 18.0.0" in header
    table = names.prototypes()
    assert len(table) == 6712  # "# total: 6712" at the end of the file
    assert table["\u043e"] == "o" and table["m"] == "rn" and table["I"] == "l"


def test_the_skeleton_is_a_fixed_point():
    # UTS #39: a prototype maps to itself, so skeleton(skeleton(x)) == skeleton(x).
    for source in names.prototypes():
        once = names.skeleton(source)
        assert names.skeleton(once) == once, hex(ord(source))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("paypal", "p\u0430yp\u0430l"),  # Cyrillic a
        ("Tanthof", "T\u0430nth\u03bff"),  # Cyrillic a, Greek omicron
        ("Maria", "rnaria"),
        ("Tanthof", "Tan\u200bthof"),  # zero-width space
        ("Tanthof", "Ｔａｎｔｈｏｆ"),  # full width
        ("Ilse", "llse"),
        ("TANTHOF", "\u0422\u0410NTH\u041eF"),  # Cyrillic capitals
        ("Wijkcoördinator", "wijkcoordinator"),
    ],
)
def test_look_alikes_read_alike(a, b):
    assert names.reads_alike(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Zoë", "Zoa"), ("Anneke Één", "Anneke Eén Jr"), ("Tanthof", "Tanthof 2"), ("Jan", "Jen")],
)
def test_different_names_do_not(a, b):
    assert not names.reads_alike(a, b)


def test_clean_name_drops_reordering_and_invisible_characters_but_keeps_joiners():
    assert names.clean_name(" \u202eBob\u202c \u200b Jansen\u00ad ") == "Bob Jansen"
    assert (
        names.clean_name("\u0645\u06cc\u200c\u0631\u0648\u0632")
        == "\u0645\u06cc\u200c\u0631\u0648\u0632"
    )
    assert names.clean_name("Zoë") == "Zoë"


@pytest.mark.parametrize("name", ["\u200b", "\u2060\u200d", " \u00ad ", "-- .", "\u0301\u0308"])
def test_no_visible_letter_or_digit(name):
    assert not names.has_visible_text(name)


@pytest.mark.parametrize("name", ["Zoë", "Ĳsbrand", "Anneke Één", "7", "\u0645\u06cc\u200c\u0631"])
def test_visible_names(name):
    assert names.has_visible_text(name)
