"""CSRF protection and security headers, with CSRF switched on as in production."""

from __future__ import annotations

import re


def test_post_without_csrf_token_is_refused_with_clear_400(csrf_app):
    client = csrf_app.test_client()
    response = client.post("/account/login", data={"email": "a@b.nl", "password": "x"})
    assert response.status_code == 400
    assert b"The form expired or was sent from elsewhere" in response.data


def test_post_with_forged_csrf_token_is_refused(csrf_app):
    client = csrf_app.test_client()
    client.get("/account/login")
    response = client.post(
        "/account/login", data={"email": "a@b.nl", "password": "x", "csrf_token": "forged"}
    )
    assert response.status_code == 400


def test_post_with_real_csrf_token_is_accepted(csrf_app):
    client = csrf_app.test_client()
    page = client.get("/account/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/account/login", data={"email": "a@b.nl", "password": "x", "csrf_token": token}
    )
    assert response.status_code == 400
    assert b"E-mail address or password is not correct" in response.data


def test_security_headers_present(app, client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_unknown_page_is_a_friendly_404(app, client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"We could not find this page" in response.data
