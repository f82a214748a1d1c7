"""A small JSON client for API tests: a user's bearer token, JSON bodies, a language."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from crm.accounts.services import api_token_create

BASE = "/api/v1"


class ApiClient:
    """Calls /api/v1/... as one user (or anonymously) and decodes the JSON answer."""

    def __init__(self, *, token: str | None = None, lang: str | None = None) -> None:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if lang:
            headers["Accept-Language"] = lang
        self.token = token
        # CSRF is enforced as for a real client: token callers must never need it.
        self.client = Client(headers=headers, enforce_csrf_checks=True)

    def _url(self, path: str) -> str:
        return path if path.startswith(("/", "http")) else f"{BASE}/{path}"

    def get(self, path: str, params: dict[str, Any] | None = None):
        return self.client.get(self._url(path), params or {})

    def post(self, path: str, body: Any = None):
        return self._send("post", path, body)

    def patch(self, path: str, body: Any = None):
        return self._send("patch", path, body)

    def delete(self, path: str):
        return self.client.delete(self._url(path))

    def _send(self, method: str, path: str, body: Any):
        data = "" if body is None else json.dumps(body)
        return getattr(self.client, method)(
            self._url(path), data=data, content_type="application/json"
        )


def api_as(user: Any, *, lang: str | None = None) -> ApiClient:
    """A client holding a fresh API token of `user`."""
    _token, raw = api_token_create(user=user, name="tests")
    return ApiClient(token=raw, lang=lang)
