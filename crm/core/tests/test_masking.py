"""SYS-5: phone and email are masked for roles without "view contact details"."""

from __future__ import annotations

import pytest

from crm.core.masking import mask_email, mask_phone


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("010-12345678", "010-****5678"),
        ("0755-23456789", "0755-****6789"),
        ("010-12345678-8001", "010-****5678-8001"),  # the extension is not secret
        ("+16502530000", "+16****0000"),
        ("+442079460958", "+44****0958"),
        ("+16502530000 ext. 12", "+16****0000 ext. 12"),
        # a short local number never shows enough to guess it
        ("0591-8765432", "0591-****32"),
        ("4008123123", "400****23"),
        ("12345", "123****"),
        ("", ""),
    ],
)
def test_mask_phone_keeps_only_the_ends(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize("phone", ["13812345678", "010-12345678", "0591-8765432", "+16502530000"])
def test_at_least_four_digits_are_always_hidden(phone):
    visible = sum(ch.isdigit() for ch in mask_phone(phone))
    assert sum(ch.isdigit() for ch in phone) - visible >= 4


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("zhang.wei@example.com", "z***@example.com"),
        ("a@b.cn", "a***@b.cn"),
        ('"a@b"@example.com', '"***@example.com'),  # the last @ separates the domain
        ("not-an-email", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_email_keeps_the_first_letter_and_the_domain(email, masked):
    assert mask_email(email) == masked
