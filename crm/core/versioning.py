"""Optimistic locking for every module (CUS-7, invariant 4, issue 5 §1).

Each versioned record carries `version`, raised by one on every write. A write sent from a
copy the user read earlier names the version it saw; the service locks the row
(SELECT ... FOR UPDATE) and compares, so of several writes made from the same copy exactly one
passes and the others get 409 conflict. Edits, deletes and restores all go through here: a
delete or restore that skipped the comparison would let five parallel clicks all "succeed".
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.errors import ConflictError, ValidationFailed


def version_check(*, locked: Any, version: Any, label: str) -> None:
    """Refuse a write made from a stale copy of `locked` (a row locked in this transaction).

    `label` names the record in the message, e.g. _("this customer"). The conflict's extra
    data says who changed it, when, and the current version, so a client can reload and retry.
    """
    try:
        if isinstance(version, bool):  # True is not version 1
            raise TypeError
        expected = int(version)
    except (TypeError, ValueError):
        raise ValidationFailed(
            fields={
                "version": [_("The record's version is missing; reload the page and try again.")]
            }
        ) from None
    if expected == locked.version:
        return
    deleted_at = getattr(locked, "deleted_at", None)
    if deleted_at is not None:
        who_user, when = getattr(locked, "deleted_by", None), deleted_at
        template = _(
            "%(who)s moved %(record)s to the recycle bin at %(when)s, after you opened it."
        )
    else:
        who_user, when = getattr(locked, "updated_by", None), locked.updated_at
        template = _(
            "%(who)s changed %(record)s at %(when)s, after you opened it. Reload to see "
            "their changes."
        )
    who = who_user.display_name if who_user is not None else ""
    raise ConflictError(
        template
        % {
            "who": who or _("Someone"),
            "record": label,
            "when": timezone.localtime(when).strftime("%Y-%m-%d %H:%M"),
        },
        extra={
            "changed_by": who,
            "changed_at": when.isoformat(),
            "current_version": locked.version,
        },
    )
