"""Masking of contact details for roles without "view contact details" (SYS-5)."""

from __future__ import annotations

import re

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
