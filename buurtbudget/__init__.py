"""Buurtbudget: participatory neighbourhood budgets and voting.

Importing this package must stay cheap and must not import Flask: the pure domain core
(``buurtbudget.domain``) is used on its own by scripts and benchmarks. ``create_app`` is
therefore resolved lazily.
"""

from typing import Any

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any):  # noqa: ANN201 - returns flask.Flask
    from buurtbudget.app import create_app as _create_app

    return _create_app(*args, **kwargs)
