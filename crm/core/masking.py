"""Masking of contact details for roles without "view contact details" (SYS-5)."""

from __future__ import annotations


def mask_phone(value: str) -> str:
    """13812345678 -> 138****5678; 010-12345678 -> 010-****5678; keeps the last 4 digits."""
    if not value:
        return ""
    head, sep, local = value.partition("-")
    if not sep:
        head, local = value[:3], value[3:]
    if len(local) <= 4:
        return head + sep + "****"
    return f"{head}{sep}****{local[-4:]}"


def mask_email(value: str) -> str:
    if not value or "@" not in value:
        return value and "****"
    local, _sep, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"
