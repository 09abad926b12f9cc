"""Registration, login, logout, password change, redirects and rate limiting."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, User
from tests.factories import TEST_PASSWORD


def _register(client, **overrides):
    data = {
        "display_name": "Fatima",
        "email": "fatima@example.org",
        "postcode": "2611 aa",
        "house_number": "12",
        "birth_year": "1990",
        "password": "een lang wachtwoord",
        "confirm": "een lang wachtwoord",
    }
    data.update(overrides)
    return client.post("/account/register", data=data)


def test_register_puts_resident_in_area_of_postcode(app, make, client):
    area = make.area(name="Binnenstad", postcode="2611AA")
    response = _register(client)
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "fatima@example.org"))
    assert user.home_area_id == area.id
    assert user.municipality_id == area.municipality_id
    assert user.postcode == "2611AA"
    assert user.password_hash != "een lang wachtwoord" and user.check_password(
        "een lang wachtwoord"
    )
    assert db.session.scalar(select(AuditEntry.action)) == "account.registered"
    page = client.get("/account/password")
    assert b"Binnenstad" in page.data


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("postcode", "12345", b"not a valid Dutch postcode"),
        ("postcode", "2611 SS", b"not a valid Dutch postcode"),
        ("house_number", "0", b"not a valid house number"),
        ("house_number", "abc", b"not a valid house number"),
        ("password", "kort", b"at least 8 characters"),
        ("confirm", "iets anders dan dat", b"The passwords differ"),
        ("email", "geen-email", b"Invalid email address"),
        ("display_name", "x" * 81, b"Field cannot be longer than 80 characters"),
    ],
)
def test_register_rejects_bad_input_with_form_errors(app, make, client, field, value, message):
    make.area(postcode="2611AA")
    response = _register(
        client, **{field: value}, **({"confirm": value} if field == "password" else {})
    )
    assert response.status_code == 400
    assert message in response.data
    assert db.session.scalar(select(User)) is None


def test_register_twice_with_same_email_is_refused(app, make, client):
    make.area(postcode="2611AA")
    assert _register(client).status_code == 302
    other = app.test_client()
    response = _register(other, email="FATIMA@example.org ")
    assert response.status_code == 400
    assert b"already exists" in response.data


def test_login_and_logout(app, make, client):
    user = make.resident()
    response = client.post(
        "/account/login", data={"email": user.email.upper(), "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/account/password").status_code == 200
    client.post("/account/logout")
    assert client.get("/account/password").status_code == 302


def test_login_with_wrong_password_fails(app, make, client):
    user = make.resident()
    response = client.post("/account/login", data={"email": user.email, "password": "wrong!!"})
    assert response.status_code == 400
    assert b"not correct" in response.data
    assert client.get("/account/password").status_code == 302


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/areas/1", "/areas/1"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_login_redirects_only_to_local_paths(app, make, client, next_url, expected):
    user = make.resident()
    response = client.post(
        "/account/login",
        query_string={"next": next_url},
        data={"email": user.email, "password": TEST_PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_password_change_logs_out_other_sessions(app, make, client_for):
    user = make.resident()
    laptop = client_for(user)
    phone = client_for(user)
    response = laptop.post(
        "/account/password",
        data={
            "current_password": TEST_PASSWORD,
            "new_password": "nieuw wachtwoord",
            "confirm": "nieuw wachtwoord",
        },
    )
    assert response.status_code == 302
    assert laptop.get("/account/password").status_code == 200
    assert phone.get("/account/password").status_code == 302  # old session no longer valid
    assert client_for(user, password="nieuw wachtwoord").get("/account/password").status_code == 200
    assert "account.password_changed" in db.session.scalars(select(AuditEntry.action)).all()


def test_password_change_needs_current_password(app, make, client_for):
    user = make.resident()
    client = client_for(user)
    response = client.post(
        "/account/password",
        data={
            "current_password": "fout",
            "new_password": "nieuw wachtwoord",
            "confirm": "nieuw wachtwoord",
        },
    )
    assert response.status_code == 400
    assert b"current password is not correct" in response.data


def test_login_is_rate_limited(app, make):
    from buurtbudget.web import throttle

    user = make.resident()
    app.config["LOGIN_RATE_LIMIT"] = "10 per minute"
    throttle.init_app(app)
    try:
        client = app.test_client()
        statuses = [
            client.post("/account/login", data={"email": user.email, "password": "x"}).status_code
            for _ in range(12)
        ]
        # Looking at the login page is not limited; only attempts are.
        assert client.get("/account/login").status_code == 200
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "100000 per minute"
        throttle.init_app(app)
    assert statuses[:10] == [400] * 10
    assert statuses[10:] == [429, 429]


def test_pages_need_login(app, client):
    response = client.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=")
