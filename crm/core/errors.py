"""One application error type for every service (DESIGN convention 5).

Services raise these; one handler turns them into the API's 4xx body and the UI's form errors.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class AppError(Exception):
    status = 400
    code = "error"
    default_message = _("The request could not be completed.")

    def __init__(
        self,
        message: Any = None,
        *,
        fields: dict[str, list[Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        self.fields = fields or {}
        self.extra = extra or {}
        super().__init__(str(self.message))

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": str(self.message)}
        if self.fields:
            body["fields"] = {name: [str(m) for m in msgs] for name, msgs in self.fields.items()}
        body.update(self.extra)
        return body


class ValidationFailed(AppError):
    status = 422
    code = "validation_failed"
    default_message = _("Please correct the fields marked below.")


class PermissionDeniedError(AppError):
    status = 403
    code = "permission_denied"
    default_message = _("You do not have permission to do this.")


class NotFoundError(AppError):
    status = 404
    code = "not_found"
    default_message = _("The record does not exist or is outside your data scope.")


class TooLargeError(AppError):
    """413: an uploaded file over the size limit (Settings → System rules)."""

    status = 413
    code = "too_large"
    default_message = _("The file is too large.")


class ConflictError(AppError):
    status = 409
    code = "conflict"
    default_message = _("Someone else changed this record after you opened it.")


class DuplicateError(ConflictError):
    code = "duplicate"
    default_message = _("A matching record already exists.")


class DuplicateWarning(ConflictError):
    """Possible duplicates the user may confirm and save anyway."""

    code = "duplicate_warning"
    default_message = _("Possible duplicates found. Check them, then confirm to save anyway.")


def field_errors_from_django(exc: Any) -> dict[str, list[str]]:
    """Turn a django ValidationError into {field: [messages]}."""
    if hasattr(exc, "message_dict"):
        return {
            k if k != "__all__" else "non_field_errors": list(v)
            for k, v in exc.message_dict.items()
        }
    return {"non_field_errors": list(exc.messages)}
