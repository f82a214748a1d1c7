"""The custom-fields API (SYS-1, issue 8 §1/§7): define, list, change, retire, and the
`custom` member of the customers' API."""

from __future__ import annotations

import pytest

from crm.tests_support.api import api_as
from crm.tests_support.factories import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return user_with_role("admin")


def test_an_administrator_defines_lists_changes_and_retires_a_field(admin):
    api = api_as(admin, lang="en")
    created = api.post(
        "custom-fields",
        {
            "module": "customers",
            "key": "industry_size",
            "label": "行业规模",
            "label_en": "Industry size",
            "type": "choice",
            "options": [{"code": "s", "label": "小"}, {"code": "l", "label": "大"}],
        },
    )
    assert created.status_code == 201, created.content
    field = created.json()
    assert field["key"] == "industry_size"
    assert [o["code"] for o in field["options"]] == ["s", "l"]

    listed = api.get("custom-fields", {"module": "customers"}).json()
    assert [f["key"] for f in listed] == ["industry_size"]

    changed = api.patch(f"custom-fields/{field['id']}", {"label_en": "Company size"})
    assert changed.status_code == 200
    assert changed.json()["label_en"] == "Company size"
    assert api.patch(f"custom-fields/{field['id']}", {"type": "text"}).status_code == 422

    assert api.delete(f"custom-fields/{field['id']}").status_code == 204
    assert api.get("custom-fields", {"module": "customers"}).json() == []
    retired = api.get("custom-fields", {"module": "customers", "include_retired": "true"})
    assert [f["active"] for f in retired.json()] == [False]


def test_a_key_is_unique_in_its_module(admin):
    api = api_as(admin)
    body = {"module": "leads", "key": "wechat", "label": "微信", "type": "text"}
    assert api.post("custom-fields", body).status_code == 201
    again = api.post("custom-fields", body)
    assert again.status_code == 409
    assert api.post("custom-fields", {**body, "module": "customers"}).status_code == 201


@pytest.mark.parametrize("module", ["", "nowhere", "\x00"])
def test_an_unknown_module_is_a_field_error(admin, module):
    answer = api_as(admin, lang="en").get("custom-fields", {"module": module})
    assert answer.status_code == 422
    assert "module" in str(answer.json())


def test_bounds_are_numbers_or_decimal_strings(admin):
    api = api_as(admin, lang="en")
    body = {"module": "customers", "key": "staff", "label": "员工数", "type": "integer"}
    made = api.post("custom-fields", {**body, "min_value": 1, "max_value": "100000"})
    assert made.status_code == 201, made.content
    assert (made.json()["min_value"], made.json()["max_value"]) == ("1", "100000")
    bad = api.post("custom-fields", {**body, "key": "staff2", "min_value": "many"})
    assert bad.status_code == 422


def test_a_representative_reads_the_fields_but_cannot_define_them():
    rep = user_with_role("sales_rep")
    api = api_as(rep)
    assert api.get("custom-fields", {"module": "customers"}).status_code == 200
    body = {"module": "customers", "key": "x", "label": "X", "type": "text"}
    assert api.post("custom-fields", body).status_code == 403


def test_customer_records_carry_their_custom_values(admin):
    api = api_as(admin, lang="en")
    api.post(
        "custom-fields",
        {"module": "customers", "key": "staff", "label": "员工数", "type": "integer",
         "required": True},
    )  # fmt: skip
    body = {"type": "enterprise", "name": "杭州云栖数据有限公司", "industry": "it",
            "source": "trade_show", "grade": "A", "phone": "13812345678",
            "contacts": [{"name": "周云", "phone": "13912345678", "is_primary": True}]}  # fmt: skip
    missing = api.post("customers", body)
    assert missing.status_code == 422
    assert "custom.staff" in str(missing.json())
    made = api.post("customers", {**body, "custom": {"staff": 120}})
    assert made.status_code == 201, made.content
    assert made.json()["custom"] == {"staff": 120}
    listed = api.get("customers", {"cf_staff_from": "100"}).json()
    assert [c["name"] for c in listed["items"]] == ["杭州云栖数据有限公司"]
    assert api.get("customers", {"cf_staff_from": "121"}).json()["items"] == []
