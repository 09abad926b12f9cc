"""Every reason the address reader can give has a translation, with the same parameters."""

from __future__ import annotations

import re

from flask_babel import force_locale

from buurtbudget.domain import addresses as domain
from buurtbudget.services import address_messages


def test_every_domain_code_has_a_message_id_with_the_same_english_and_parameters():
    assert address_messages.MESSAGES.keys() == domain.MESSAGES.keys()
    for code, english in domain.MESSAGES.items():
        # The message id is the domain's English: the English page and the CLI agree.
        assert address_messages.MESSAGES[code] == english, code


def test_a_refused_line_is_translated_with_its_parameters(app):
    error = domain.AddressFileError(4, "duplicate_person", first=2)
    assert error.message == "this person key already appeared on line 2"
    assert str(error) == "line 4: this person key already appeared on line 2"
    with app.test_request_context(), force_locale("nl"):
        assert str(address_messages.reason(error)) == "deze persoonssleutel stond al op regel 2"
    with app.test_request_context(), force_locale("en"):
        assert str(address_messages.reason(error)) == error.message


def test_the_dutch_translations_keep_the_parameters(app):
    for code, english in address_messages.MESSAGES.items():
        with app.test_request_context(), force_locale("nl"):
            params = dict.fromkeys(re.findall(r"%\((\w+)\)", english), 1)
            dutch = str(address_messages.reason(domain.AddressFileError(1, code, **params)))
        assert dutch != domain.MESSAGES[code] % params, f"{code} is not translated"
