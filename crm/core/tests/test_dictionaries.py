"""Configurable lists (SYS-1): administrators add, rename and retire entries; codes stay."""

from __future__ import annotations

import pytest
from django.utils import translation

from crm.core.dictionaries import (
    dictionary_choices,
    dictionary_item_deactivate,
    dictionary_item_reactivate,
    dictionary_item_save,
    dictionary_items,
    dictionary_label,
)
from crm.core.errors import PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry, DictionaryItem
from crm.tests_support.factories import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _chinese():
    # Labels below are compared in Chinese, the default language, whatever ran before.
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def admin():
    return user_with_role("admin")


def test_new_entry_is_offered_at_once_and_audited(admin):
    # Given the sources list has been read (and cached)
    assert "wechat" not in dict(dictionary_choices("source"))
    # When an administrator adds an entry
    item = dictionary_item_save(
        actor=admin,
        kind="source",
        data={"code": "wechat", "label": "微信公众号", "label_en": "WeChat official account"},
    )
    # Then the next read offers it (the cache was cleared), at the end of the list
    assert dictionary_choices("source")[-1] == ("wechat", "微信公众号")
    assert item.position > max(i.position for i in dictionary_items("source") if i.pk != item.pk)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CREATE, object_id=item.pk)
    assert entry.actor == admin
    assert {"field": "code", "before": None, "after": "wechat"} in entry.changes


def test_codes_are_unique_per_list_but_may_repeat_across_lists(admin):
    with pytest.raises(ValidationFailed) as exc:
        dictionary_item_save(actor=admin, kind="industry", data={"code": "it", "label": "IT"})
    assert "code" in exc.value.fields
    # "other" exists in industries; a new list entry may reuse a code from another list
    item = dictionary_item_save(
        actor=admin, kind="loss_reason", data={"code": "it", "label": "技术不匹配"}
    )
    assert item.kind == "loss_reason"


@pytest.mark.parametrize("code", ["", "Has Space", "大写", "-leading", "x" * 41, "UPPER"])
def test_bad_codes_are_refused(admin, code):
    before = DictionaryItem.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        dictionary_item_save(actor=admin, kind="industry", data={"code": code, "label": "某行业"})
    assert "code" in exc.value.fields
    assert DictionaryItem.objects.count() == before


def test_a_code_cannot_change_once_created(admin):
    item = DictionaryItem.objects.get(kind="industry", code="it")
    with pytest.raises(ValidationFailed) as exc:
        dictionary_item_save(
            actor=admin, kind="industry", item=item, data={"code": "tech", "label": "科技"}
        )
    assert "code" in exc.value.fields
    item.refresh_from_db()
    assert item.code == "it" and item.label == "信息技术"


def test_labels_change_and_the_change_is_audited(admin):
    item = DictionaryItem.objects.get(kind="industry", code="it")
    dictionary_label("industry", "it")  # warm the cache
    dictionary_item_save(
        actor=admin,
        kind="industry",
        item=item,
        data={"label": "信息技术与软件", "label_en": "IT and software", "position": 5},
    )
    assert dictionary_label("industry", "it") == "信息技术与软件"
    entry = AuditEntry.objects.filter(object_id=item.pk, action="update").latest("id")
    assert {c["field"] for c in entry.changes} == {"label", "label_en", "position"}


def test_label_is_required_and_unique_within_the_list(admin):
    with pytest.raises(ValidationFailed) as exc:
        dictionary_item_save(actor=admin, kind="industry", data={"code": "new1", "label": " "})
    assert "label" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        dictionary_item_save(actor=admin, kind="industry", data={"code": "new2", "label": "金融"})
    assert "label" in exc.value.fields


def test_unknown_list_and_bad_position_are_refused(admin):
    with pytest.raises(ValidationFailed) as exc:
        dictionary_item_save(actor=admin, kind="planets", data={"code": "mars", "label": "火星"})
    assert "kind" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        dictionary_item_save(
            actor=admin, kind="industry", data={"code": "a1", "label": "甲", "position": "-3"}
        )
    assert "position" in exc.value.fields


def test_deactivated_entry_is_no_longer_offered_but_old_records_keep_its_label(admin):
    item = DictionaryItem.objects.get(kind="industry", code="energy")
    dictionary_choices("industry")  # warm the cache
    dictionary_item_deactivate(actor=admin, item=item)
    assert "energy" not in dict(dictionary_choices("industry"))
    assert dictionary_label("industry", "energy") == "能源"
    assert AuditEntry.objects.filter(
        object_id=item.pk, action=AuditEntry.Action.DEACTIVATE
    ).exists()
    dictionary_item_reactivate(actor=admin, item=item)
    assert "energy" in dict(dictionary_choices("industry"))


def test_only_administrators_change_lists():
    rep = user_with_role("sales_rep")
    item = DictionaryItem.objects.get(kind="industry", code="it")
    with pytest.raises(PermissionDeniedError):
        dictionary_item_save(actor=rep, kind="industry", data={"code": "x", "label": "某"})
    with pytest.raises(PermissionDeniedError):
        dictionary_item_deactivate(actor=rep, item=item)
    assert DictionaryItem.objects.get(pk=item.pk).is_active
