"""The JSON API under /api/v1/ (django-ninja). Routers live in each app's api.py."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, SessionAuth

from crm.accounts.services import api_token_authenticate
from crm.core.errors import AppError


class BearerAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class ActiveSessionAuth(SessionAuth):
    """Browser session (with CSRF on writes) for the UI's own calls."""


api = NinjaAPI(
    title="CRM API",
    version="1",
    urls_namespace="api",
    auth=[BearerAuth(), ActiveSessionAuth()],
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(AppError)
def _app_error(request: HttpRequest, exc: AppError):
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError):
    from django.utils.translation import gettext as _

    return api.create_response(
        request,
        {"error": "unauthenticated", "message": _("Log in or send a valid API token.")},
        status=401,
    )


@api.exception_handler(NinjaValidationError)
def _invalid_request(request: HttpRequest, exc: NinjaValidationError):
    """Pydantic's errors reshaped into the same {fields: {name: [messages]}} body."""
    from django.utils.translation import gettext as _

    fields: dict[str, list[str]] = {}
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "payload", "query", "path")]
        name = ".".join(loc) or "non_field_errors"
        fields.setdefault(name, []).append(str(err.get("msg", _("Invalid value."))))
    return api.create_response(
        request,
        {
            "error": "validation_failed",
            "message": _("Please correct the fields marked below."),
            "fields": fields,
        },
        status=422,
    )


def _register_routers() -> None:
    from importlib import import_module

    for module, prefix in (("crm.accounts.api", ""), ("crm.customers.api", "")):
        try:
            router = import_module(module).router
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        api.add_router(prefix, router)


_register_routers()
