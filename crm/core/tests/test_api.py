"""GET /api/v1/dictionaries/{kind}: configurable lists in the caller's language (SYS-1)."""

from __future__ import annotations

import pytest

from crm.core.dictionaries import dictionaries_clear_cache
from crm.core.models import DictionaryItem
from crm.tests_support.api import ApiClient, api_as

pytestmark = pytest.mark.django_db


def test_industries_come_with_chinese_labels_by_default(org):
    response = api_as(org.rep1).get("dictionaries/industry")
    assert response.status_code == 200
    items = response.json()
    assert {"code": "it", "label": "信息技术"} in items
    assert set(items[0]) == {"code", "label"}


def test_labels_follow_accept_language(org):
    items = api_as(org.rep1, lang="en").get("dictionaries/source").json()
    assert {"code": "trade_show", "label": "Trade show"} in items


def test_inactive_entries_are_left_out(org):
    DictionaryItem.objects.filter(kind="industry", code="energy").update(is_active=False)
    dictionaries_clear_cache()
    codes = [i["code"] for i in api_as(org.rep1).get("dictionaries/industry").json()]
    assert "energy" not in codes and "it" in codes


def test_an_unknown_list_is_404(org):
    response = api_as(org.rep1, lang="en").get("dictionaries/colours")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_dictionaries_need_credentials(org):
    assert ApiClient().get("dictionaries/industry").status_code == 401
