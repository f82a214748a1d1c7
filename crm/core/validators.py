"""Validators for the fields people type in (CUS-5): phone, email, credit code, names."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email as django_validate_email
from django.utils.translation import gettext_lazy as _

CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def phone_normalize(value: str) -> str:
    """Return the phone in a canonical form, or raise ValidationError.

    Mainland numbers are kept in national form (13812345678, 010-12345678); others in E.164.
    """
    raw = unicodedata.normalize("NFKC", value or "").strip()
    if not raw:
        raise ValidationError(_("Enter a phone number."), code="required")
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("Enter a valid phone number, e.g. 13812345678, 010-12345678 or +1 650 253 0000."),
            code="invalid_phone",
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("Enter a valid phone number, e.g. 13812345678, 010-12345678 or +1 650 253 0000."),
            code="invalid_phone",
        )
    if number.country_code == 86:
        national = str(number.national_number)
        if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE:
            return national
        area = phonenumbers.length_of_geographical_area_code(number)
        if area:
            return f"0{national[:area]}-{national[area:]}"
        return national
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def digits_only(value: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", value or "") if ch.isdigit())


def email_normalize(value: str) -> str:
    email = unicodedata.normalize("NFKC", value or "").strip()
    try:
        django_validate_email(email)
    except ValidationError:
        raise ValidationError(
            _("Enter a valid email address, e.g. name@example.com."), code="invalid_email"
        ) from None
    local, _sep, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def credit_code_normalize(value: str) -> str:
    """Validate a unified social credit code (统一社会信用代码, GB 32100-2015)."""
    code = unicodedata.normalize("NFKC", value or "").strip().upper()
    if len(code) != 18 or any(ch not in CREDIT_CODE_CHARS for ch in code):
        raise ValidationError(
            _(
                "A unified social credit code has 18 characters: digits and capital letters "
                "except I, O, S, V and Z."
            ),
            code="invalid_credit_code",
        )
    total = sum(
        CREDIT_CODE_CHARS.index(ch) * w
        for ch, w in zip(code[:17], CREDIT_CODE_WEIGHTS, strict=True)
    )
    check = (31 - total % 31) % 31
    if CREDIT_CODE_CHARS[check] != code[17]:
        raise ValidationError(
            _("This unified social credit code fails its checksum; check for a typing error."),
            code="credit_code_checksum",
        )
    return code


def credit_code_with_checksum(first17: str) -> str:
    """Complete 17 characters with their check character (used by demo data and tests)."""
    total = sum(
        CREDIT_CODE_CHARS.index(ch) * w for ch, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=False)
    )
    return first17 + CREDIT_CODE_CHARS[(31 - total % 31) % 31]


_FORBIDDEN_NAME_CHARS = re.compile(r"[<>{}\[\]|\\^~`@#$%*=+;\"]")
_HAS_WORD_CHAR = re.compile(r"[\w\u4e00-\u9fff]")


def customer_name_validate(value: str, *, customer_type: str) -> str:
    """Name rules (CUS-1/CUS-5): full legal name for enterprises, no odd characters."""
    # Stored as typed (full-width brackets are the norm in Chinese legal names); only white
    # space is tidied. The checks look at the NFKC form so full-width symbols are caught too.
    name = re.sub(r"\s+", " ", value or "").strip()
    folded = unicodedata.normalize("NFKC", name)
    if not name:
        raise ValidationError(_("Enter the customer's name."), code="required")
    if _FORBIDDEN_NAME_CHARS.search(folded) or not _HAS_WORD_CHAR.search(folded):
        raise ValidationError(
            _(
                "The name may contain letters, Chinese characters, digits, spaces "
                "and ( ) . & - only."
            ),
            code="invalid_name",
        )
    if customer_type == "enterprise" and len(name) < 4:
        raise ValidationError(
            _("Enter the company's full legal name (at least 4 characters), not an abbreviation."),
            code="name_too_short",
        )
    if len(name) > 100:
        raise ValidationError(_("The name may be at most 100 characters."), code="name_too_long")
    return name
