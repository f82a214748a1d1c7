"""Custom field values (SYS-1, issue 8 §1): each type's validation, required, retired fields,
display and the import parser."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from crm.core.customfields import (
    custom_audit_snapshot,
    custom_field_get,
    custom_fields_active,
    custom_fields_all,
    custom_value_display,
    custom_value_parse,
    custom_values_clean,
)
from crm.core.customfields_services import (
    CustomFieldKeyTaken,
    custom_field_retire,
    custom_field_save,
)
from crm.core.errors import PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry
from crm.tests_support.factories import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _chinese():
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def admin():
    return user_with_role("admin")


def define(admin, key, type_, **extra):
    data = {"module": "customers", "key": key, "label": f"字段{key}", "type": type_, **extra}
    return custom_field_get("customers", custom_field_save(actor=admin, data=data).key)


def errors_of(values, **kwargs):
    with pytest.raises(ValidationFailed) as exc:
        custom_values_clean(module="customers", values=values, **kwargs)
    return exc.value.fields


GOOD_BAD = [
    ("text", "  上海  浦东 ", "上海 浦东", "x" * 201, "At most 200 characters."),
    ("textarea", "第一行\n第二行", "第一行\n第二行", "x" * 5001, "At most 5000 characters."),
    ("integer", "1,200", 1200, "12.5", "Enter a whole number, e.g. 120."),
    ("integer", 7, 7, True, "Enter a whole number, e.g. 120."),
    ("decimal", "1250.5", "1250.50", "1.234", "Enter a number with at most 2 decimal places"),
    ("decimal", 3, "3.00", "abc", "Enter a number with at most 2 decimal places"),
    ("date", "2026-3-9", "2026-03-09", "2026-02-30", "Enter a date as YYYY-MM-DD."),
    ("datetime", "2026-03-09T10:30:00+08:00", "2026-03-09T02:30:00Z", "tomorrow", "HH:MM"),
    ("bool", True, True, "maybe", "Choose yes or no."),
    ("bool", "false", False, 2, "Choose yes or no."),
    ("phone", "138 1234 5678", "13812345678", "12345", "Enter a valid phone number"),
    ("email", "A@Example.COM", "A@example.com", "not-an-email", "Enter a valid email address"),
    ("url", "https://example.com/x", "https://example.com/x", "javascript:x", "valid URL"),
]


@pytest.mark.parametrize(("type_", "good", "stored", "bad", "message"), GOOD_BAD)
def test_each_type_stores_its_json_form_and_refuses_bad_values(
    admin, type_, good, stored, bad, message
):
    define(admin, "f", type_)
    assert custom_values_clean(module="customers", values={"f": good}) == {"f": stored}
    fields = errors_of({"f": bad})
    assert list(fields) == ["custom.f"]
    with translation.override("en"):
        english = errors_of({"f": bad})["custom.f"]
    assert len(english) == 1 and message in english[0]


def test_integer_bounds_are_checked_with_their_numbers(admin):
    define(admin, "staff", "integer", min_value=1, max_value=500)
    with translation.override("en"):
        assert errors_of({"staff": 0})["custom.staff"] == ["Enter a value of at least 1."]
        assert errors_of({"staff": "501"})["custom.staff"] == ["Enter a value of at most 500."]
    assert custom_values_clean(module="customers", values={"staff": 500}) == {"staff": 500}


def test_choices_accept_codes_of_the_dictionary_only(admin):
    options = [{"code": "small", "label": "小"}, {"code": "big", "label": "大"}]
    define(admin, "size", "choice", options=options)
    define(admin, "tags", "multichoice", options=options)
    assert custom_values_clean(
        module="customers", values={"size": "big", "tags": ["big", "small", "big"]}
    ) == {
        "size": "big",
        "tags": ["big", "small"],
    }
    fields = errors_of({"size": "huge", "tags": ["small", "huge"]})
    assert set(fields) == {"custom.size", "custom.tags"}
    assert "huge" in fields["custom.size"][0]


def test_a_user_field_takes_an_active_user(admin):
    define(admin, "manager", "user")
    rep = user_with_role("sales_rep")
    assert custom_values_clean(module="customers", values={"manager": rep.pk}) == {
        "manager": rep.pk
    }
    rep.is_active = False
    rep.save()
    assert "custom.manager" in errors_of({"manager": rep.pk})
    # ... but a record keeps the user it had when sent back unchanged
    kept = custom_values_clean(
        module="customers", values={"manager": rep.pk}, current={"manager": rep.pk}
    )
    assert kept == {"manager": rep.pk}


def test_required_on_create_and_on_edit_of_the_field_only(admin):
    define(admin, "size", "text", required=True)
    define(admin, "note", "text")
    assert errors_of({}) == {"custom.size": ["这个字段是必填项。"]} or "custom.size" in errors_of(
        {}
    )
    # A PATCH of another field does not ask for it (records older than the field) ...
    assert custom_values_clean(
        module="customers", values={"note": "x"}, current={}, partial=True
    ) == {"note": "x"}
    # ... emptying it does.
    assert "custom.size" in errors_of({"size": ""}, current={"size": "a"}, partial=True)


def test_unknown_keys_are_named(admin):
    define(admin, "size", "text")
    fields = errors_of({"size": "a", "nope": 1})
    assert list(fields) == ["custom.nope"]
    assert errors_of([1, 2]) == {"custom": [errors_of([1])["custom"][0]]}


def test_partial_merges_and_empty_removes(admin):
    define(admin, "a", "text")
    define(admin, "b", "integer")
    current = {"a": "x", "b": 2}
    assert custom_values_clean(
        module="customers", values={"b": 3}, current=current, partial=True
    ) == {"a": "x", "b": 3}
    assert custom_values_clean(
        module="customers", values={"a": ""}, current=current, partial=True
    ) == {"b": 2}


def test_retiring_hides_the_field_and_keeps_values(admin):
    define(admin, "a", "text")
    field = custom_field_save(
        actor=admin, data={"module": "customers", "key": "b", "label": "乙", "type": "text"}
    )
    current = {"a": "x", "b": "kept"}
    custom_field_retire(actor=admin, field=field)
    assert [f.key for f in custom_fields_active("customers")] == ["a"]
    assert [f.key for f in custom_fields_all("customers")] == ["a", "b"]
    # A whole form (without the retired field) keeps its value
    assert custom_values_clean(module="customers", values={"a": "y"}, current=current) == {
        "a": "y",
        "b": "kept",
    }
    # Sent back unchanged it passes; changed it is refused
    assert (
        custom_values_clean(
            module="customers", values={"b": "kept"}, current=current, partial=True
        )["b"]
        == "kept"
    )
    assert "custom.b" in errors_of({"b": "new"}, current=current, partial=True)


def test_definitions_are_audited_and_keys_are_unique_per_module(admin):
    field = custom_field_save(
        actor=admin,
        data={"module": "customers", "key": "size", "label": "规模", "type": "text"},
    )
    with pytest.raises(CustomFieldKeyTaken):
        custom_field_save(
            actor=admin,
            data={"module": "customers", "key": "size", "label": "别的", "type": "text"},
        )
    # The same key in another module is another field
    custom_field_save(
        actor=admin, data={"module": "leads", "key": "size", "label": "规模", "type": "text"}
    )
    custom_field_save(actor=admin, field=field, data={"label": "企业规模"})
    entry = AuditEntry.objects.filter(object_id=field.pk, action=AuditEntry.Action.UPDATE).get()
    assert entry.changes == [{"field": "label", "before": "规模", "after": "企业规模"}]
    with pytest.raises(ValidationFailed) as exc:
        custom_field_save(actor=admin, field=field, data={"key": "other", "type": "integer"})
    assert set(exc.value.fields) == {"key", "type"}


def test_only_administrators_define_fields():
    rep = user_with_role("sales_rep")
    with pytest.raises(PermissionDeniedError):
        custom_field_save(
            actor=rep, data={"module": "customers", "key": "a", "label": "甲", "type": "text"}
        )


def test_display_and_audit_snapshot_read_like_the_page(admin):
    define(admin, "size", "choice", options=[{"code": "s", "label": "小型", "label_en": "Small"}])
    define(admin, "flag", "bool")
    define(admin, "day", "date")
    size = custom_field_get("customers", "size")
    assert custom_value_display(size, "s") == "小型"
    with translation.override("en"):
        assert custom_value_display(size, "s") == "Small"
    snap = custom_audit_snapshot("customers", {"size": "s", "flag": False, "day": "2026-03-09"})
    assert snap == {"custom.size": "小型", "custom.flag": "否", "custom.day": "2026年3月9日"}


def test_import_parser_accepts_labels_and_words(admin):
    define(admin, "size", "choice", options=[{"code": "s", "label": "小型", "label_en": "Small"}])
    define(
        admin,
        "tags",
        "multichoice",
        options=[{"code": "a", "label": "甲"}, {"code": "b", "label": "乙"}],
    )
    define(admin, "flag", "bool")
    define(admin, "manager", "user")
    rep = user_with_role("sales_rep", username="lisi", full_name="李四")
    assert custom_value_parse(custom_field_get("customers", "size"), "小型") == "s"
    assert custom_value_parse(custom_field_get("customers", "size"), "small") == "s"
    assert custom_value_parse(custom_field_get("customers", "tags"), "甲、b") == ["a", "b"]
    assert custom_value_parse(custom_field_get("customers", "flag"), "是") is True
    assert custom_value_parse(custom_field_get("customers", "flag"), "no") is False
    assert custom_value_parse(custom_field_get("customers", "manager"), "李四") == rep.pk
    assert custom_value_parse(custom_field_get("customers", "manager"), "lisi") == rep.pk
    with pytest.raises(ValidationError):
        custom_value_parse(custom_field_get("customers", "size"), "巨型")
    assert custom_value_parse(custom_field_get("customers", "size"), " ") is None
