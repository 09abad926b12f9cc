"""Fixtures shared by the service tests of several features."""

from __future__ import annotations

import pytest


@pytest.fixture
def english(app):
    """Service messages render in the request's language (the default is Dutch): English here,
    as the web tests see them. Modules opt in with ``pytest.mark.usefixtures("english")``."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield
