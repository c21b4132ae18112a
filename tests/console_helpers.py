"""Shared by the console tests: log in through the real login form, read the CSRF token of a page."""

from __future__ import annotations

import re
from typing import Any

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


def login(client: Any, name: str, password: str = PASSWORD) -> Any:
    """Log `client` (a Starlette TestClient or an httpx client) in; returns the response."""
    page = client.get("/console/login")
    token = LOGIN_TOKEN.search(page.text)
    assert token is not None, page.text
    return client.post(
        "/console/login", data={"login_token": token.group(1), "username": name, "password": password}, follow_redirects=False
    )


def csrf_of(client: Any, path: str) -> str:
    page = client.get(path)
    m = CSRF.search(page.text)
    assert m is not None, (page.status_code, page.text[:500])
    return m.group(1)
