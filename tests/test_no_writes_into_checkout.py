"""Tests never write into the checkout (issue 19): every app the tests create keeps its
instance folder (uploads, SQLite files) in a temporary folder. `.ci/run` also compares
`git status --ignored` before and after the suite."""

from __future__ import annotations

from pathlib import Path

from buurtbudget.services import attachments

REPOSITORY = Path(__file__).resolve().parents[1]


def test_the_instance_folder_and_uploads_are_outside_the_checkout(app):
    for folder in (Path(app.instance_path), attachments.upload_folder()):
        assert not folder.resolve().is_relative_to(REPOSITORY), folder
