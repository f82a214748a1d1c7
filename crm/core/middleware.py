"""Request plumbing: request ids, the interface language, HTMX and login redirects."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import resolve_url
from django.utils import translation
from django.utils.translation import get_supported_language_variant
from django_htmx.http import HttpResponseClientRedirect

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
client_ip_var: contextvars.ContextVar[str] = contextvars.ContextVar("client_ip", default="")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        request.request_id = rid  # type: ignore[attr-defined]
        token = request_id_var.set(rid)
        ip_token = client_ip_var.set(request.META.get("REMOTE_ADDR", "") or "")
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
