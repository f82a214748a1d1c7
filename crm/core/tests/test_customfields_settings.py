"""Settings → Custom fields (issue 8 §1): the administrator's pages per module."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from crm.core.customfields import custom_field_get
from crm.core.dictionaries import dictionary_items
from crm.core.models import AuditEntry, CustomField
from crm.tests_support.factories import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user_with_role("admin"))
    return client


def _post_field(client, module="customers", **data):
    body = {
        "key": "size",
        "label": "企业规模",
        "label_en": "Company size",
        "type": "choice",
        "is_active": "on",
        "show_in_list": "on",
        "option_code": ["s", "m", ""],
        "option_label": ["少于50人", "50-200人", ""],
        "option_label_en": ["<50", "50-200", ""],
    }
    body.update(data)
    return client.post(reverse("custom_fields:create", args=[module]), body)


def test_an_administrator_adds_a_choice_field_with_options(admin_client):
    answer = _post_field(admin_client)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    field = CustomField.objects.get(module="customers", key="size")
    assert field.show_in_list and field.is_active and field.type == "choice"
    items = dictionary_items(field.dictionary_kind)
    assert [(i.code, i.label, i.label_en) for i in items] == [
        ("s", "少于50人", "<50"),
        ("m", "50-200人", "50-200"),
    ]
    assert AuditEntry.objects.filter(content_type__model="customfield", action="create").exists()
    page = admin_client.get(reverse("custom_fields:module", args=["customers"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "企业规模" in html and "少于50人" in html
    assert 'data-testid="custom-field-row"' in html


def test_the_index_opens_the_first_module_and_every_module_has_its_tab(admin_client):
    answer = admin_client.get(reverse("custom_fields:index"))
    assert answer.status_code == 302
    assert answer["Location"].endswith("/settings/custom-fields/customers/")
    for module in ("customers", "contacts", "leads", "opportunities", "followups"):
        assert admin_client.get(reverse("custom_fields:module", args=[module])).status_code == 200
    assert admin_client.get("/settings/custom-fields/nowhere/").status_code == 404


def test_errors_are_shown_at_their_fields(admin_client):
    answer = _post_field(
        admin_client, key="Bad Key", label="", option_code=["s", "s"], option_label=["a", "b"]
    )
    assert answer.status_code == 422
    form = answer.context["form"]
    assert "key" in form.errors and "label" in form.errors
    assert not CustomField.objects.exists()
    # a choice field without options
    answer = _post_field(admin_client, option_code=[""], option_label=[""], option_label_en=[""])
    assert answer.status_code == 422
    assert answer.context["options_errors"]


def test_an_option_error_lands_on_its_row(admin_client):
    answer = _post_field(
        admin_client,
        option_code=["ok", "BAD CODE"],
        option_label=["好", "坏"],
        option_label_en=["", ""],
    )
    assert answer.status_code == 422
    rows = answer.context["option_rows"]
    assert rows[1]["errors"].get("code")
    assert not CustomField.objects.exists()


def test_a_key_taken_in_the_module_is_a_field_error(admin_client):
    _post_field(admin_client)
    again = _post_field(admin_client, label="另一个")
    assert again.status_code == 422
    assert "key" in again.context["form"].errors


def test_numbers_have_bounds_and_the_edit_keeps_key_and_type(admin_client):
    answer = _post_field(
        admin_client, key="revenue", label="年营业额(万元)", type="decimal", min_value="0",
        max_value="abc", option_code=[], option_label=[], option_label_en=[],
    )  # fmt: skip
    assert answer.status_code == 422
    assert "max_value" in answer.context["form"].errors
    answer = _post_field(
        admin_client, key="revenue", label="年营业额(万元)", type="decimal", min_value="0",
        max_value="100000", option_code=[], option_label=[], option_label_en=[],
    )  # fmt: skip
    assert answer.status_code == 302
    field = CustomField.objects.get(key="revenue")
    edit = admin_client.post(
        reverse("custom_fields:edit", args=[field.pk]),
        {
            "key": "other",
            "type": "text",
            "label": "年营业额",
            "max_value": "5000",
            "is_active": "on",
        },
    )
    assert edit.status_code == 302
    field.refresh_from_db()
    assert (field.key, field.type, field.label) == ("revenue", "decimal", "年营业额")
    assert str(field.max_value) == "5000.00"
    page = admin_client.get(reverse("custom_fields:edit", args=[field.pk]))
    assert page.status_code == 200 and "5000" in page.content.decode()


def test_editing_options_relabels_adds_and_retires(admin_client):
    _post_field(admin_client)
    field = CustomField.objects.get(key="size")
    page = admin_client.get(reverse("custom_fields:edit", args=[field.pk]))
    assert "少于50人" in page.content.decode()
    answer = admin_client.post(
        reverse("custom_fields:edit", args=[field.pk]),
        {
            "label": "企业规模",
            "is_active": "on",
            "option_code": ["s", "l"],
            "option_label": ["少于五十人", "1000人以上"],
            "option_label_en": ["", ""],
        },
    )
    assert answer.status_code == 302
    active = [(i.code, i.label) for i in dictionary_items(field.dictionary_kind)]
    assert active == [("s", "少于五十人"), ("l", "1000人以上")]
    everything = dictionary_items(field.dictionary_kind, include_inactive=True)
    assert {i.code for i in everything} == {"s", "m", "l"}


def test_retire_reactivate_and_reorder(admin_client):
    _post_field(admin_client)
    _post_field(admin_client, key="wechat", label="微信号", type="text", option_code=[])
    _post_field(admin_client, key="note", label="备注二", type="textarea", option_code=[])
    ids = list(
        CustomField.objects.filter(module="customers")
        .order_by("position")
        .values_list("pk", flat=True)
    )
    url = reverse("custom_fields:reorder", args=["customers"])
    answer = admin_client.post(url, {"ordered_ids": ids, "move": f"{ids[2]}:up"})
    assert answer.status_code == 302
    order = list(
        CustomField.objects.filter(module="customers")
        .order_by("position")
        .values_list("pk", flat=True)
    )
    assert order == [ids[0], ids[2], ids[1]]
    answer = admin_client.post(
        url, {"ordered_ids": list(reversed(order))}, content_type="application/json"
    )
    assert answer.status_code == 200 and answer.json()["ok"]
    order = list(
        CustomField.objects.filter(module="customers")
        .order_by("position")
        .values_list("pk", flat=True)
    )
    assert order == [ids[1], ids[2], ids[0]]

    field = CustomField.objects.get(key="wechat")
    assert admin_client.post(reverse("custom_fields:retire", args=[field.pk])).status_code == 302
    field.refresh_from_db()
    assert not field.is_active
    assert custom_field_get("customers", "wechat").is_active is False
    assert (
        admin_client.post(reverse("custom_fields:reactivate", args=[field.pk])).status_code == 302
    )
    field.refresh_from_db()
    assert field.is_active


def test_a_representative_is_refused():
    client = Client()
    client.force_login(user_with_role("sales_rep"))
    assert client.get(reverse("custom_fields:module", args=["customers"])).status_code == 403
    answer = client.post(
        reverse("custom_fields:create", args=["customers"]),
        {"key": "x", "label": "x", "type": "text"},
    )
    assert answer.status_code == 403
    assert not CustomField.objects.exists()
