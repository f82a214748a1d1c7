"""CUS-5: the fields people type are validated and stored in one canonical form.

Hypothesis tests run without a deadline: the first example pays for loading the pinyin
dictionaries / phone metadata, which a loaded CI machine may take seconds for.
"""

from __future__ import annotations

import unicodedata

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.core.validators import (
    CREDIT_CODE_CHARS,
    NAME_PUNCTUATION,
    credit_code_normalize,
    credit_code_with_checksum,
    customer_name_validate,
    digits_only,
    email_normalize,
    person_name_validate,
    phone_normalize,
)


def error_code(func, *args, **kwargs) -> str:
    with pytest.raises(ValidationError) as exc:
        func(*args, **kwargs)
    return exc.value.code


# --- phone ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        # mainland mobile: national form, whatever way it was typed
        ("13812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("0086 138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),  # full-width digits from a Chinese IME
        ("  13812345678 ", "13812345678"),
        # landline with area code: 0 + area code, a dash, the local number
        ("010-12345678", "010-12345678"),
        ("010 1234 5678", "010-12345678"),
        ("0755-23456789", "0755-23456789"),
        ("(021)12345678", "021-12345678"),
        ("（021）12345678", "021-12345678"),
        ("02112345678", "021-12345678"),
        ("+86 10 12345678", "010-12345678"),
        # a switchboard extension is kept, never silently dropped
        ("010-12345678转8001", "010-12345678-8001"),
        ("010-12345678-8001", "010-12345678-8001"),
        ("010-12345678 ext. 8001", "010-12345678-8001"),
        # nationwide service numbers have no area code
        ("400-812-3123", "4008123123"),
        # international: E.164
        ("+1 650 253 0000", "+16502530000"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 650 253 0000 ext 12", "+16502530000 ext. 12"),
    ],
)
def test_phone_numbers_people_type_are_accepted_in_canonical_form(typed, stored):
    assert phone_normalize(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "12345",  # too short for anything
        "1381234567",  # a mobile number missing a digit
        "138123456789",  # ... or with one too many
        "010-123",  # a landline cut short
        "abc",
        "138abcd5678",  # letters are not read as a phone keypad
        "1-800-FLOWERS",
        "tel:13812345678",
        "13812345678转8001",  # a mobile has no extension
        "+1 650",
        "1" * 100,
    ],
)
def test_malformed_phone_numbers_are_refused(typed):
    assert error_code(phone_normalize, typed) == "invalid_phone"


def test_an_empty_phone_is_reported_as_missing():
    assert error_code(phone_normalize, "   ") == "required"


@settings(deadline=None)
@given(st.text(max_size=60))
def test_phone_normalize_only_ever_raises_validation_error(text):
    # Given anything at all typed into a phone field
    try:
        stored = phone_normalize(text)
    except ValidationError:
        return
    # then a stored value fits the column and is stable when normalised again
    assert len(stored) <= 32
    assert phone_normalize(stored) == stored


@settings(deadline=None)
@given(st.from_regex(r"[+0-9 ()\-转#x]{0,30}", fullmatch=True))
def test_phone_normalize_on_phone_like_text_is_stable(text):
    try:
        stored = phone_normalize(text)
    except ValidationError:
        return
    assert phone_normalize(stored) == stored
    assert digits_only(stored)


# --- email ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("zhang.wei@example.com", "zhang.wei@example.com"),
        ("  Zhang.Wei@Example.COM ", "Zhang.Wei@example.com"),  # domain folded, local kept
        ("ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ", "zhang@example.com"),  # full-width IME input
        ("li+crm@mail.example.cn", "li+crm@mail.example.cn"),
    ],
)
def test_valid_emails_are_normalised(typed, stored):
    assert email_normalize(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["", "zhang", "zhang@", "@example.com", "zhang@@example.com", "zhang wei@example.com"],
)
def test_invalid_emails_are_refused(typed):
    assert error_code(email_normalize, typed) == "invalid_email"


def test_an_email_longer_than_the_column_is_refused_not_truncated_by_the_database():
    # Django's own validator accepts up to 320 characters; the column holds 254.
    local = "a" * 64
    domain = ".".join(["b" * 60] * 4) + ".cn"  # 247 characters
    assert len(f"{local}@{domain}") > 254
    assert error_code(email_normalize, f"{local}@{domain}") == "invalid_email"


# --- unified social credit code (GB 32100-2015) ---------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",  # the sample printed in GB 32100-2015
        "914403001922038216",  # published codes of real companies
        "9144030071526726XG",
        "91110000802100433B",
    ],
)
def test_real_credit_codes_pass_the_checksum(code):
    assert credit_code_normalize(code) == code


def test_lower_case_input_is_accepted_and_stored_upper_case():
    assert credit_code_normalize(" 91350100m000100y43 ") == "91350100M000100Y43"


def test_a_one_character_typo_fails_the_checksum():
    assert error_code(credit_code_normalize, "91350100M000100Y44") == "credit_code_checksum"
    assert error_code(credit_code_normalize, "91350100M000200Y43") == "credit_code_checksum"


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
def test_letters_outside_the_code_alphabet_are_refused(letter):
    code = "91350100M000100Y4" + letter
    assert error_code(credit_code_normalize, code) == "invalid_credit_code"
    assert error_code(credit_code_normalize, letter + code[1:]) == "invalid_credit_code"


@pytest.mark.parametrize(
    "typed", ["", "91350100M000100Y4", "91350100M000100Y433", "9135 0100M000100Y4"]
)
def test_codes_of_the_wrong_length_are_refused(typed):
    assert error_code(credit_code_normalize, typed) == "invalid_credit_code"


body17 = st.text(alphabet=CREDIT_CODE_CHARS, min_size=17, max_size=17)


@settings(deadline=None)
@given(body17)
def test_a_code_completed_with_its_check_character_always_validates(first17):
    code = credit_code_with_checksum(first17)
    assert len(code) == 18
    assert credit_code_normalize(code) == code


@settings(deadline=None)
@given(body17, st.integers(min_value=0, max_value=17), st.sampled_from(CREDIT_CODE_CHARS))
def test_any_single_substitution_is_caught(first17, position, replacement):
    code = credit_code_with_checksum(first17)
    if code[position] == replacement:
        return
    typo = code[:position] + replacement + code[position + 1 :]
    assert error_code(credit_code_normalize, typo) == "credit_code_checksum"


def test_completing_a_code_refuses_characters_outside_the_alphabet():
    with pytest.raises(ValueError):
        credit_code_with_checksum("91350100M000100IO")
    with pytest.raises(ValueError):
        credit_code_with_checksum("9135")


# --- customer names (CUS-1, CUS-5) ----------------------------------------------------------


def test_an_enterprise_needs_its_full_legal_name():
    assert error_code(customer_name_validate, "华科", customer_type="enterprise") == (
        "name_too_short"
    )
    assert customer_name_validate("华科技术", customer_type="enterprise") == "华科技术"


def test_an_individual_may_have_a_two_character_name():
    assert customer_name_validate("张三", customer_type="individual") == "张三"


def test_full_width_brackets_are_kept_as_typed_and_spaces_tidied():
    name = customer_name_validate("  华科技术（北京）   有限公司 ", customer_type="enterprise")
    assert name == "华科技术（北京） 有限公司"


@pytest.mark.parametrize(
    "typed",
    [
        "华科<script>有限公司",
        "华科技术有限公司#1",
        "华科技术@有限公司",
        "华科技术｛有限公司｝",  # full-width braces are caught through NFKC
        "华科技术\x00有限公司",  # NUL: invisible, and PostgreSQL refuses it
        "华科技术\u200b有限公司",  # zero-width space: looks identical, breaks duplicate checks
        "----",
        "😀😀😀😀",
    ],
)
def test_odd_characters_in_a_name_are_refused(typed):
    assert error_code(customer_name_validate, typed, customer_type="enterprise") == "invalid_name"


def test_names_with_ordinary_punctuation_are_accepted():
    for name in [
        "Acme Co., Ltd.",
        "华科·未来科技有限公司",
        "A&B 咨询有限公司",
        "华科-技术有限公司",
    ]:
        assert customer_name_validate(name, customer_type="enterprise") == name


def test_a_blank_or_overlong_name_is_refused():
    assert error_code(customer_name_validate, "   ", customer_type="enterprise") == "required"
    assert (
        error_code(customer_name_validate, "华" * 101, customer_type="enterprise")
        == "name_too_long"
    )


# --- what a name may contain (issue 5 §2) ---------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "华科技术（北京）有限公司",
        "华科技术(北京)有限公司",
        "Société Générale (China) Ltd.",  # Latin with accents
        "Müller & Söhne GmbH",
        "McDonald's China Co., Ltd.",
        "北京三〇一科技有限公司",  # 〇, a Chinese numeral
        "华科、未来联合科技有限公司",
        "ＡＢＣ科技有限公司",  # full-width letters from an IME
        "360安全科技有限公司",
    ],
)
def test_company_names_with_letters_digits_and_company_punctuation_are_accepted(name):
    assert customer_name_validate(name, customer_type="enterprise") == name


@pytest.mark.parametrize(
    "typed",
    [
        "华科技术有限公司😀",  # emoji were accepted before: the rule listed refused characters
        "❤️华科技术有限公司",
        "华科技术有限公司™",  # NFKC would read it as the letters TM
        "华科①技术有限公司",
        "华科技术有限公司©",
        "华科技术有限公司★",
        "华科技术有限公司→",
        "华科技术有限公司！",
        "华科技术有限公司?",
        "华科技术/有限公司",
        "华科技术_有限公司",
        "华科\u3164技术有限公司",  # Hangul filler: a letter that shows as nothing
        "华科技术\u202e有限公司",  # right-to-left override
        "华科技术有限公司\x07",
    ],
)
def test_company_names_with_anything_else_are_refused(typed):
    assert error_code(customer_name_validate, typed, customer_type="enterprise") == "invalid_name"


def test_the_message_says_what_a_name_may_contain():
    with translation.override("en"):
        with pytest.raises(ValidationError) as exc:
            customer_name_validate("华科技术有限公司😀", customer_type="enterprise")
        assert "letters (Chinese characters included), digits, spaces" in exc.value.messages[0]
    with translation.override("zh-hans"):
        with pytest.raises(ValidationError) as exc:
            customer_name_validate("华科技术有限公司😀", customer_type="enterprise")
        assert "汉字" in exc.value.messages[0] and "（ ）" in exc.value.messages[0]


@pytest.mark.parametrize(
    "name", ["王强", "阿卜杜勒·艾哈迈德", "José García", "Mary-Jane O'Neil", "J. Smith", "联系人12"]
)
def test_person_names_are_accepted(name):
    assert person_name_validate(name) == name
    assert customer_name_validate(name, customer_type="individual") == name


@pytest.mark.parametrize(
    "typed", ["<b>王强</b>", "王强<script>", "王强😀", "王强\x00", "王\u200b强", "@王强", "---"]
)
def test_person_names_with_html_emoji_or_control_characters_are_refused(typed):
    assert error_code(person_name_validate, typed) == "invalid_name"
    assert error_code(customer_name_validate, typed, customer_type="individual") == "invalid_name"


def test_a_person_name_says_person_in_its_message_and_has_its_own_length():
    with translation.override("zh-hans"):
        with pytest.raises(ValidationError) as exc:
            person_name_validate("王强😀")
        assert exc.value.messages[0].startswith("姓名")
    assert error_code(person_name_validate, "王" * 61) == "name_too_long"
    assert error_code(person_name_validate, "  ") == "required"
    assert person_name_validate("  王   强 ") == "王 强"


@settings(deadline=None)
@given(st.text(max_size=30))
def test_an_accepted_name_holds_only_the_allowed_characters(text):
    try:
        name = customer_name_validate(text, customer_type="individual")
    except ValidationError:
        return
    for ch in unicodedata.normalize("NFKC", name):
        category = unicodedata.category(ch)
        assert category[0] in "LMN" or ch in NAME_PUNCTUATION or ch == " ", repr(ch)
        assert category not in ("So", "Sk", "Cc", "Cf", "Co", "Cs")
