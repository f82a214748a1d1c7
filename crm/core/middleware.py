"""Request plumbing: request ids, the interface language, HTMX and login redirects."""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import resolve_url
from django.utils import translation
from django.utils.translation import get_supported_language_variant
from django_htmx.http import HttpResponseClientRedirect

from crm.core.net import client_address

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
client_ip_var: contextvars.ContextVar[str] = contextvars.ContextVar("client_ip", default="")


# What request ids look like when a proxy or a client sends one: nginx's $request_id (32 hex
# digits), UUIDs, ULIDs, dotted or colon-separated trace ids. Anything else (markup, spaces,
# control characters, 64 characters of junk) would be stored verbatim in the audit trail and
# echoed in a response header, so it is replaced by an id of our own.
REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def request_id_for(request: HttpRequest) -> str:
    """The client's X-Request-ID if it has a safe token shape, else a new one."""
    sent = request.headers.get("X-Request-ID", "")
    if REQUEST_ID_SHAPE.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Tags the request with its id and its client's address for the audit trail."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = request_id_for(request)
        request.request_id = rid  # type: ignore[attr-defined]
        token = request_id_var.set(rid)
        ip_token = client_ip_var.set(client_address(request) or "")
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
            client_ip_var.reset(ip_token)
        response["X-Request-ID"] = rid
        return response


class InterfaceLanguageMiddleware(LocaleMiddleware):
    """zh-Hans unless the user chose otherwise (the language switch sets a cookie).

    The web UI ignores the browser's Accept-Language: a Chinese company's staff often run
    English browsers and still expect the Chinese interface. API callers, which have no switch,
    keep Accept-Language.
    """

    def process_request(self, request: HttpRequest) -> None:
        if request.path.startswith("/api/"):
            super().process_request(request)
            return
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) or settings.LANGUAGE_CODE
        try:
            language = get_supported_language_variant(chosen)
        except LookupError:
            language = get_supported_language_variant(settings.LANGUAGE_CODE)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class HtmxLoginRedirectMiddleware:
    """An HTMX request whose session expired (or must change its password) would follow the
    302 and swap the login page into a tab; tell HTMX to load the page whole instead."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or response.status_code != 302:
            return response
        location = response.get("Location", "")
        if location.startswith((resolve_url(settings.LOGIN_URL), "/account/password/")):
            return HttpResponseClientRedirect(location)
        return response
