"""Household address lists for issuing cheques."""

from __future__ import annotations

import pytest

from buurtbudget.domain.households import (
    Address,
    HouseholdListError,
    format_household_list,
    parse_household_list,
)


def test_address_lists_as_exported_from_the_register():
    text = "postcode;huisnummer;toevoeging\n6712 aa;12;b\n\n6712AA,12B\n6712AB\t3-2\n6712AC;7;"
    addresses = parse_household_list(text)
    assert addresses == [
        Address("6712AA", 12, "B"),  # the duplicate "12B" counts once
        Address("6712AB", 3, "2"),
        Address("6712AC", 7, ""),
    ]
    assert parse_household_list(format_household_list(addresses)) == addresses


def test_bad_lines_are_named():
    with pytest.raises(HouseholdListError) as raised:
        parse_household_list("6712AA;1\n6712AA;0\n0000AA;1\n6712AA;-3\n6712AA;1;TOOLONGADD")
    assert [e.line for e in raised.value.errors] == [2, 3, 4, 5]
