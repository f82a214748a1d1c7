"""The JSON API under /api/v1/ (django-ninja). Routers live in each app's api.py."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, SessionAuth

from crm.accounts.api import router as accounts_router
from crm.accounts.services import api_token_authenticate
from crm.activities.api import router as activities_router
from crm.core.api import document_standard_errors
from crm.core.api import router as core_router
from crm.core.approvals_api import router as approvals_router
from crm.core.attachments_api import router as attachments_router
from crm.core.body_limit import too_large_message
from crm.core.customfields_api import router as custom_fields_router
from crm.core.errors import AppError
from crm.customers.api import router as customers_router
from crm.customers.lifecycle_api import router as lifecycle_router
from crm.customers.pool_api import router as pool_router
from crm.dataio.api import router as dataio_router
from crm.dataio.api_imports import router as imports_router
from crm.leads.api import router as leads_router
from crm.leads.api_actions import router as lead_actions_router
from crm.leads.public_api import router as public_forms_router
from crm.notify.api import router as notify_router
from crm.privacy.api import router as privacy_router
from crm.sales.api import router as sales_router


class BearerAuth(HttpBearer):
    """Integrations: `Authorization: Bearer <token>` (per-user, hashed, revocable)."""

    def authenticate(self, request: HttpRequest, token: str):
        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class ActiveSessionAuth(SessionAuth):
    """Browser session (with CSRF on writes) for the UI's own calls.

    Without a logged-in session there is nothing to protect, so the CSRF check is skipped and
    the caller gets the plain 401 (a client with a bad token must not be told "CSRF failed").
    """

    def _get_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)


class CrmApi(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        """Short, stable operation ids for generated clients: customer_list, contact_update ..."""
        return operation.view_func.__name__.removesuffix("_api")

    def get_openapi_schema(self, **kwargs: Any):
        """ninja's document, with the error answers every operation can give (issue 5 §2)."""
        return document_standard_errors(super().get_openapi_schema(**kwargs))


api = CrmApi(
    title="CRM API",
    version="1",
    description=(
        "The CRM's JSON API. Authenticate with `POST /api/v1/auth/token` and send "
        "`Authorization: Bearer <token>`, or use the browser session (CSRF token on writes). "
        "Messages follow `Accept-Language` (zh-Hans by default, en)."
    ),
    urls_namespace="api",
    auth=[BearerAuth(), ActiveSessionAuth()],
    # Swagger UI from ninja's bundled static files (no CDN: intranets have no internet, and
    # the CSP only allows our own scripts). validatorUrl=None stops the call to swagger.io.
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": True}),
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(AppError)
def _app_error(request: HttpRequest, exc: AppError):
    return api.create_response(request, exc.as_dict(), status=exc.status)


def _too_large(request: HttpRequest, exc: Exception):
    """A body over Django's upload limits (raised where ninja, or django-axes on a failed
    login, reads it): a 413 in the API's format, not Django's HTML 400 page with an ERROR
    traceback in the log."""
    return api.create_response(
        request, {"error": "too_large", "message": too_large_message(exc)}, status=413
    )


for _limit in (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
    api.add_exception_handler(_limit, _too_large)


@api.exception_handler(MultiPartParserError)
def _unreadable_body(request: HttpRequest, exc: MultiPartParserError):
    """A form body Django cannot parse (multipart without a boundary ...), found when
    django-axes reads the failed login's form: 400 in the API's format, not Django's page."""
    return api.create_response(
        request,
        {
            "error": "invalid_body",
            "message": _("The request body could not be read. Send JSON."),
        },
        status=400,
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError):
    return api.create_response(
        request,
        {"error": "unauthenticated", "message": _("Log in or send a valid API token.")},
        status=401,
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError):
    """ninja's own refusals (unparsable body, CSRF) in the same body as everything else."""
    if exc.status_code == 400:
        body = {
            "error": "invalid_json",
            "message": _("The request body is not valid JSON."),
            "fields": {"non_field_errors": [_("The request body is not valid JSON.")]},
        }
    elif exc.status_code == 403:
        body = {
            "error": "csrf_failed",
            "message": _("The CSRF check failed; reload the page and try again."),
        }
    else:
        body = {"error": "http_error", "message": str(exc)}
    return api.create_response(request, body, status=exc.status_code)


# pydantic's error types -> our translatable messages (pydantic's own are English only).
def _pydantic_message(err: dict[str, Any]) -> str:
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return _("This field is required.")
    if kind in ("string_type", "string_unicode"):
        return _("Enter text.")
    if kind == "string_too_long":
        return _("At most %(limit)d characters.") % {"limit": int(ctx.get("max_length", 0))}
    if kind == "string_too_short":
        return _("At least %(limit)d characters.") % {"limit": int(ctx.get("min_length", 0))}
    if kind == "text_unstorable":
        return _("Remove the characters that cannot be stored (NUL or broken Unicode).")
    if kind.startswith("int_"):
        return _("Enter a whole number.")
    if kind in ("greater_than_equal", "greater_than"):
        return _("Enter a value of at least %(limit)s.") % {
            "limit": ctx.get("ge", ctx.get("gt", ""))
        }
    if kind in ("less_than_equal", "less_than"):
        return _("Enter a value of at most %(limit)s.") % {
            "limit": ctx.get("le", ctx.get("lt", ""))
        }
    if kind.startswith("bool_"):
        return _("Enter true or false.")
    if kind in ("literal_error", "enum"):
        return _("Choose one of: %(choices)s.") % {"choices": ctx.get("expected", "")}
    if kind in ("list_type", "tuple_type", "set_type"):
        return _("Send a list.")
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type"):
        return _("Send an object.")
    if kind.startswith("datetime_"):
        return _("Enter a date and time, e.g. 2026-01-31T09:30:00+08:00.")
    if kind.startswith("date_"):
        return _("Enter a date as YYYY-MM-DD.")
    if kind.startswith(("decimal_", "float_", "finite_")):
        return _("Enter a number, e.g. 150000.00.")
    if kind == "json_invalid":
        return _("The request body is not valid JSON.")
    if kind == "extra_forbidden":
        return _("Unknown field.")
    return _("Invalid value.")


SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}
PARAM_NAMES = {"payload", "params", "filters"}


@api.exception_handler(NinjaValidationError)
def _invalid_request(request: HttpRequest, exc: NinjaValidationError):
    """Pydantic's errors reshaped into the same {fields: {name: [messages]}} body."""
    fields: dict[str, list[str]] = {}
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in SOURCES:
            loc = loc[1:]
        if loc and loc[0] in PARAM_NAMES:
            loc = loc[1:]
        name = ".".join(loc) or "non_field_errors"
        message = _pydantic_message(err)
        if message not in fields.setdefault(name, []):
            fields[name].append(message)
    return api.create_response(
        request,
        {
            "error": "validation_failed",
            "message": _("Please correct the fields marked below."),
            "fields": fields,
        },
        status=422,
    )


api.add_router("", accounts_router)
api.add_router("", core_router)
# Before the modules' routers: GET /customers/export must not be read as /customers/{id}.
api.add_router("", dataio_router)
api.add_router("", imports_router)
api.add_router("", custom_fields_router)
api.add_router("", customers_router)
api.add_router("", pool_router)
api.add_router("", sales_router)
api.add_router("", activities_router)
api.add_router("", privacy_router)
# Before the leads router: POST /leads/assign must not be read as /leads/{lead_id}.
api.add_router("", lead_actions_router)
api.add_router("", leads_router)
api.add_router("", notify_router)
api.add_router("", attachments_router)
api.add_router("", public_forms_router)
api.add_router("", lifecycle_router)
api.add_router("", approvals_router)
