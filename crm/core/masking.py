"""Masking of contact details for roles without "view contact details" (SYS-5)."""

from __future__ import annotations

import re
from typing import Any

# An extension after the number (010-12345678-8001, +16502530000 ext. 12) is not secret.
_EXTENSION = re.compile(r"(-\d{1,6}| ext\. \d{1,6})$")


def mask_phone(value: str) -> str:
    """13812345678 -> 138****5678; 010-12345678 -> 010-****5678; keeps the last 4 digits.

    At least four characters are always hidden: a short value shows only its last two.
    """
    if not value:
        return ""
    extension = ""
    if value.count("-") >= 2 or " ext. " in value:
        match = _EXTENSION.search(value)
        if match:
            value, extension = value[: match.start()], match.group(0)
    head, sep, local = value.partition("-")
    if not sep:
        head, local = value[:3], value[3:]
    if len(local) < 8:
        # Too short to show both ends and still hide four digits.
        return f"{head}{sep}****{local[-2:] if len(local) > 4 else ''}{extension}"
    return f"{head}{sep}****{local[-4:]}{extension}"


def mask_email(value: str) -> str:
    """zhang.wei@example.com -> z***@example.com: the domain says which company, not who."""
    if not value:
        return ""
    if "@" not in value:
        return "****"
    local, _sep, domain = value.rpartition("@")
    return f"{local[:1]}***@{domain}"


# --- reveal on demand (PIPL, issue 8 §6) ------------------------------------------------------


def reveal_on_demand() -> bool:
    """Whether Settings → System rules asks for phone/email to be revealed one click at a time."""
    from crm.core.config import setting_get

    return bool(setting_get("contact_reveal").get("on_demand"))


def contact_details_shown(user: Any) -> bool:
    """Whether pages and API answers show `user` phone numbers and emails in clear.

    Only with customers/view_contact (the one right to read a person's contact details, for
    leads too), and not while reveal on demand is on: then every value is masked and a click
    reveals one (crm.privacy.services.contact_reveal), so each one read is logged.
    """
    from crm.core.scope import user_can

    return user_can(user, "customers", "view_contact") and not reveal_on_demand()


def contact_reveal_offered(user: Any) -> bool:
    """Whether masked values carry a "reveal" button for `user`: reveal on demand is on and
    they hold customers/view_contact (without it a value stays masked, as before)."""
    from crm.core.scope import user_can

    return reveal_on_demand() and user_can(user, "customers", "view_contact")
