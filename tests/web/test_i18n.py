"""Dutch and English: the language switch, and a complete Dutch catalogue."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def test_dutch_is_the_default_language(app, client):
    page = client.get("/account/login", headers={"Accept-Language": ""})
    assert '<html lang="nl">' in page.get_data(as_text=True)
    assert "Inloggen" in page.get_data(as_text=True)


def test_browser_language_english_is_honoured(app, client):
    page = client.get("/account/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in page.get_data(as_text=True)
    assert "Log in" in page.get_data(as_text=True)


def test_language_switch_is_remembered_and_returns_to_the_page(app, client):
    response = client.post("/language/nl", data={"next": "/account/login"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/login"
    page = client.get("/account/login").get_data(as_text=True)
    assert "Wachtwoord" in page


def test_language_switch_refuses_foreign_redirect_and_unknown_language(app, client):
    response = client.post("/language/en", data={"next": "https://evil.example/"})
    assert response.headers["Location"] == "/"
    assert client.post("/language/xx").status_code == 404


def test_logged_in_user_keeps_chosen_language(app, make, client_for):
    user = make.resident()
    client = client_for(user)
    client.post("/language/nl", data={"next": "/"})
    assert user.locale == "nl"


def _source_message_ids() -> set[str]:
    method_map = [("buurtbudget/**.py", "python"), ("buurtbudget/templates/**.html", "jinja2")]
    keywords = {
        "_": None,
        "gettext": None,
        "_l": None,
        "lazy_gettext": None,
        "ngettext": (1, 2),
        "_n": (1, 2),
    }
    ids = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=method_map, keywords=keywords
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_text_has_a_dutch_translation():
    with (ROOT / "translations/nl/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id
        and m.string
        and "fuzzy" not in m.flags
        and (isinstance(m.string, str) or all(m.string))
    }
    missing = sorted(_source_message_ids() - translated)
    assert missing == [], "run `make messages` and translate: " + "; ".join(missing[:20])


def test_form_messages_of_wtforms_follow_the_language_of_each_request(app, make, client_for):
    """WTForms' own messages come from a catalogue read once per process
    (web/forms.py); each request still gets them in its own language."""
    client = client_for(make.resident())
    for lang, expected in (("nl", "Dit veld is vereist."), ("en", "This field is required.")):
        client.post(f"/language/{lang}", data={"next": "/"})
        page = client.post("/initiatives/new", data={"title": ""}).get_data(as_text=True)
        assert expected in page, lang


def test_every_form_reads_the_wtforms_catalogue_once(app):
    """The app (fixture) has imported every blueprint, and so every form."""
    from flask_wtf import FlaskForm

    from buurtbudget.web.forms import Form

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [c for c in subclasses(FlaskForm) if c.__module__.startswith("buurtbudget.")]
    assert len(ours) > 20
    assert [c.__qualname__ for c in ours if not issubclass(c, Form)] == []
