"""Validators for the fields people type in (CUS-5): phone, email, credit code, names."""

from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email as django_validate_email
from django.utils.translation import gettext_lazy as _

CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


_PHONE_INVALID = _("Enter a valid phone number, e.g. 13812345678, 010-12345678 or +1 650 253 0000.")
# An extension written after the number: 010-12345678转8001, ... ext. 8001, ... x8001, ...#8001.
_PHONE_EXTENSION = re.compile(r"\s*(?:转|分机|ext\.?|x|#|;ext=)\s*(\d{1,6})$", re.IGNORECASE)
_PHONE_MAX_INPUT = 64


def _phone_parse(raw: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def phone_normalize(value: str) -> str:
    """Return the phone in a canonical form, or raise ValidationError (see _phone_normalize).

    Parsing a number is the slow part of validating a record, and an import reads each phone
    several times (its duplicate keys, the clean step): the canonical forms of the last few
    thousand valid inputs are remembered (a refused one is parsed again, and raises again)."""
    return _phone_normalize(value or "")


@functools.lru_cache(maxsize=8192)
def _phone_normalize(value: str) -> str:
    """Return the phone in a canonical form, or raise ValidationError.

    Mainland numbers are kept in national form (13812345678, 010-12345678, 010-12345678-8001
    with an extension); others in E.164 (+16502530000). Letters are refused rather than read
    as a keypad (phonenumbers would turn "138abcd5678" into a valid mobile), and an extension
    is kept, never silently dropped.
    """
    raw = unicodedata.normalize("NFKC", value or "").strip()
    if not raw:
        raise ValidationError(_("Enter a phone number."), code="required")
    invalid = ValidationError(_PHONE_INVALID, code="invalid_phone")
    if len(raw) > _PHONE_MAX_INPUT:
        raise invalid
    extension = ""
    match = _PHONE_EXTENSION.search(raw)
    if match:
        raw, extension = raw[: match.start()].strip(), match.group(1)
    if not raw or any(ch.isalpha() for ch in raw):
        raise invalid
    number = _phone_parse(raw)
    if number is None and not extension and raw.count("-") >= 2:
        # 010-12345678-8001: the last group is the extension when the rest is a valid number.
        base, _sep, tail = raw.rpartition("-")
        if tail.isdigit() and len(tail) <= 6:
            number, extension = _phone_parse(base), tail
    if number is None:
        raise invalid
    number_type = phonenumbers.number_type(number)
    if extension and number_type == phonenumbers.PhoneNumberType.MOBILE:
        raise invalid  # a mobile has no extension: the digits are a typing error
    if number.country_code == 86:
        national = str(number.national_number)
        if number_type == phonenumbers.PhoneNumberType.MOBILE:
            return national
        area = phonenumbers.length_of_geographical_area_code(number)
        formatted = f"0{national[:area]}-{national[area:]}" if area else national
        return f"{formatted}-{extension}" if extension else formatted
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{formatted} ext. {extension}" if extension else formatted


def digits_only(value: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", value or "") if ch.isdigit())


EMAIL_MAX_LENGTH = 254  # RFC 5321 path limit; also the column's length


def email_normalize(value: str) -> str:
    """A valid address with its domain lower-cased (the local part may be case-sensitive)."""
    email = unicodedata.normalize("NFKC", value or "").strip()
    try:
        if len(email) > EMAIL_MAX_LENGTH:
            # Django's validator allows 320 characters; the column holds 254, so a longer
            # address would pass here and fail in the database.
            raise ValidationError("too long")
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
    first17 = first17.upper()
    if len(first17) != 17 or any(ch not in CREDIT_CODE_CHARS for ch in first17):
        raise ValueError("17 characters from CREDIT_CODE_CHARS expected")
    total = sum(
        CREDIT_CODE_CHARS.index(ch) * w for ch, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return first17 + CREDIT_CODE_CHARS[(31 - total % 31) % 31]


# --- names (CUS-1, CUS-5, issue 5 §2) --------------------------------------------------------
# What a name may contain, positively, instead of a list of refused characters (which let
# emoji and every other symbol through). The name is stored as typed.
NAME_PUNCTUATION = frozenset("()·.,&-'’、・")
# Letters that render as nothing: they would make two identical-looking names differ.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")


def _name_char_allowed(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category[0] == "L":  # letters of every script: 汉字, Latin with accents, kana ...
        return ch not in _INVISIBLE_LETTERS
    if category[0] == "M":  # combining accents; not the variation selectors that make emoji
        return not ("\ufe00" <= ch <= "\ufe0f" or "\U000e0100" <= ch <= "\U000e01ef")
    return category == "Nd" or ch == "〇" or ch == " " or ch in NAME_PUNCTUATION


def _name_tidy(value: str) -> str:
    return re.sub(r"\s+", " ", value or "").strip()


def _name_char_or_width_form_allowed(ch: str) -> bool:
    if _name_char_allowed(ch):
        return True
    # Full-width forms typed with a Chinese IME (（ ） ＆ － ， ．) count as their ASCII
    # forms; other compatibility characters (™ -> TM, ① -> 1) are symbols and stay refused.
    return "\uff00" <= ch <= "\uffef" and all(
        _name_char_allowed(c) for c in unicodedata.normalize("NFKC", ch)
    )


def _name_characters_check(name: str, *, person: bool) -> None:
    if all(_name_char_or_width_form_allowed(ch) for ch in name) and any(
        unicodedata.category(ch)[0] in "LN" for ch in name
    ):
        return
    if person:
        message = _(
            "A person's name may contain only letters (Chinese characters included), digits, "
            "spaces and the marks · . , & - ' 、 ( )."
        )
    else:
        message = _(
            "A company name may contain only letters (Chinese characters included), digits, "
            "spaces and the marks ( ) （ ） · . , & - ' 、."
        )
    raise ValidationError(message, code="invalid_name")


def person_name_validate(value: str, *, max_length: int = 60) -> str:
    """A person's name (a contact, an individual customer): the same alphabet as company
    names, so HTML, emoji and control characters never get in."""
    name = _name_tidy(value)
    if not name:
        raise ValidationError(_("Enter the name."), code="required")
    _name_characters_check(name, person=True)
    if len(name) > max_length:
        raise ValidationError(
            _("At most %(limit)d characters.") % {"limit": max_length}, code="name_too_long"
        )
    return name


def customer_name_validate(value: str, *, customer_type: str) -> str:
    """Name rules (CUS-1/CUS-5): full legal name for enterprises, a person's name for
    individuals; letters, digits, spaces and the punctuation of company names only."""
    # Stored as typed (full-width brackets are the norm in Chinese legal names); only white
    # space is tidied.
    name = _name_tidy(value)
    if not name:
        raise ValidationError(_("Enter the customer's name."), code="required")
    _name_characters_check(name, person=customer_type == "individual")
    if customer_type == "enterprise" and len(name) < 4:
        raise ValidationError(
            _("Enter the company's full legal name (at least 4 characters), not an abbreviation."),
            code="name_too_short",
        )
    if len(name) > 100:
        raise ValidationError(_("The name may be at most 100 characters."), code="name_too_long")
    return name


def ids_clean(ids, *, field: str, limit: int, empty: str, too_many: str) -> list[int]:
    """The ids a bulk action was asked for, de-duplicated in their order; anything not an id
    is refused (ValidationFailed on `field`). `empty` and `too_many` are the module's own
    messages ("Select at least one lead.", "... at most %(max)s ...")."""
    from django.utils.translation import gettext

    from crm.core.errors import ValidationFailed

    if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
        raise ValidationFailed(fields={field: [empty]})
    clean: list[int] = []
    for value in ids:
        text = str(value).strip()
        if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
            raise ValidationFailed(fields={field: [gettext("Each selected id must be a number.")]})
        number = int(text)
        if 1 <= number <= 2**63 - 1 and number not in clean:
            clean.append(number)
    if not clean:
        raise ValidationFailed(fields={field: [empty]})
    if len(clean) > limit:
        raise ValidationFailed(fields={field: [too_many % {"max": limit}]})
    return clean
