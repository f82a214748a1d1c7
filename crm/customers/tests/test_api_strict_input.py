"""Issue 5 §2: the API accepts only what a client clearly meant.

pydantic's lax mode (and ninja's Schema, which reads any value through its attributes) turned
`[null, null]` into an empty patch, `0` into 1970-01-01, `true` into the id 1 and "yes" into
true. Each test here sends such a value and expects the documented 422, with nothing saved.
"""

from __future__ import annotations

from typing import Any

import pytest

from crm.customers.models import Customer
from crm.customers.tests.test_api import new_customer
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("body", ["[null,null]", "[]", "null", '"王强"', "5", "true"])
def test_a_contact_patch_body_that_is_not_an_object_is_refused(org, body):
    # given a contact of rep1
    customer = customer_make(owner=org.rep1)
    contact = customer.contacts.get()
    # when rep1 patches it with a JSON value that is not an object
    response = api_as(org.rep1, lang="en").client.patch(
        f"/api/v1/contacts/{contact.pk}", data=body, content_type="application/json"
    )
    # then the answer is 422 "Send an object." (it was 200 with nothing changed)
    assert response.status_code == 422, response.content
    data = response.json()
    assert data["error"] == "validation_failed"
    assert data["fields"] == {"non_field_errors": ["Send an object."]}


@pytest.mark.parametrize("contacts", [[None], ["王强"], [[]]])
def test_a_nested_contact_that_is_not_an_object_is_refused(org, contacts):
    response = api_as(org.rep1, lang="en").post("customers", new_customer(contacts=contacts))
    assert response.status_code == 422, response.content
    assert response.json()["fields"]["contacts.0"] == ["Send an object."]
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"owner_id": True}, "owner_id"),  # was read as the user with id 1
        ({"owner_id": "2"}, "owner_id"),  # a JSON body carries numbers as numbers
        ({"owner_id": 2.0}, "owner_id"),
        ({"confirm_duplicates": "yes"}, "confirm_duplicates"),  # was read as true
        ({"confirm_duplicates": 1}, "confirm_duplicates"),
        ({"confirm_duplicates": "true"}, "confirm_duplicates"),
        ({"first_contact_date": 0}, "first_contact_date"),  # was read as 1970-01-01
        ({"first_contact_date": "0"}, "first_contact_date"),
        ({"first_contact_date": "2026-01-15T00:00:00"}, "first_contact_date"),
        ({"first_contact_date": "20260115"}, "first_contact_date"),
        ({"budget": True}, "budget"),
        ({"budget": "1e5"}, "budget"),
        ({"budget": "1_000"}, "budget"),
        ({"budget": " 100"}, "budget"),
    ],
)
def test_create_refuses_loose_values(org, change, field):
    response = api_as(org.rep1, lang="en").post("customers", new_customer(**change))
    assert response.status_code == 422, response.content
    assert field in response.json()["fields"]
    assert not Customer.objects.exists()


@pytest.mark.parametrize("contact", [{"is_primary": 1}, {"is_primary": "true"}])
def test_a_contact_flag_must_be_true_or_false(org, contact):
    body = new_customer()
    body["contacts"][0].update(contact)
    response = api_as(org.rep1, lang="en").post("customers", body)
    assert response.status_code == 422, response.content
    assert response.json()["fields"]["contacts.0.is_primary"] == ["Enter true or false."]


@pytest.mark.parametrize(
    "change",
    [{"version": True}, {"version": "0"}, {"owner_id": True}, {"confirm_duplicates": "yes"}],
)
def test_patch_refuses_loose_values_and_changes_nothing(org, change):
    customer = customer_make(owner=org.rep1, name="严格解析科技有限公司")
    body: dict[str, Any] = {"version": customer.version, "remarks": "changed", **change}
    response = api_as(org.manager, lang="en").patch(f"customers/{customer.pk}", body)
    assert response.status_code == 422, response.content
    assert set(response.json()["fields"]) == set(change)
    customer.refresh_from_db()
    assert customer.remarks != "changed"


def test_valid_values_are_still_accepted_in_their_canonical_forms(org):
    body = new_customer(
        owner_id=org.rep1.pk,
        confirm_duplicates=False,
        first_contact_date="2026-01-15",
        budget=150000.5,
    )
    response = api_as(org.rep1, lang="en").post("customers", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["first_contact_date"] == "2026-01-15"
    assert data["budget"] == "150000.50"
    patched = api_as(org.rep1).patch(
        f"customers/{data['id']}", {"version": data["version"], "budget": "99.90"}
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["budget"] == "99.90"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"created_to": "0"}, "created_to"),  # was read as 1970-01-01
        ({"created_from": "1700000000"}, "created_from"),
        ({"created_from": "2026-01-01T00:00:00"}, "created_from"),
        ({"created_to": "2026-02-30"}, "created_to"),
        ({"owner_id": "1.0"}, "owner_id"),
        ({"owner_id": "1_0"}, "owner_id"),
        ({"owner_id": " 1"}, "owner_id"),
        ({"owner_id": "true"}, "owner_id"),
        ({"page": "2.0"}, "page"),
        ({"page_size": "+5"}, "page_size"),
        ({"page": "²"}, "page"),
    ],
)
def test_list_parameters_are_read_only_in_their_canonical_forms(org, params, field):
    response = api_as(org.manager, lang="en").get("customers", params)
    assert response.status_code == 422, response.content
    assert field in response.json()["fields"]


def test_list_parameters_in_canonical_forms_work(org):
    customer_make(owner=org.rep1, name="规范参数科技有限公司")
    response = api_as(org.manager).get(
        "customers",
        {"created_from": "2000-01-01", "created_to": "2999-12-31", "owner_id": str(org.rep1.pk)},
    )
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["items"]] == ["规范参数科技有限公司"]
    # empty parameters from a form still mean "any"
    assert (
        api_as(org.manager).get("customers", {"created_to": "", "owner_id": ""}).status_code == 200
    )


@pytest.mark.parametrize("raw", ["1.0", "1_0", "%201", "+1"])
def test_path_ids_are_decimal_digits_only(org, raw):
    customer = customer_make(owner=org.rep1)
    raw = raw.replace("1", str(customer.pk))  # lax parsing read each spelling as the id
    response = api_as(org.rep1).get(f"customers/{raw}")
    assert response.status_code == 422, response.content


def test_a_delete_version_in_the_query_must_be_digits(org):
    customer = customer_make(owner=org.rep1)
    response = api_as(org.admin).delete(f"customers/{customer.pk}?version=true")
    assert response.status_code == 422
    assert "version" in response.json()["fields"]
    assert Customer.objects.filter(pk=customer.pk, deleted_at__isnull=True).exists()


# --- names (issue 5 §2): contacts and individuals follow the person-name rule ---------------


@pytest.mark.parametrize("name", ["<b>王强</b>", "王强😀", "王\u200b强"])
def test_a_contact_name_with_html_emoji_or_invisible_characters_is_refused(org, name):
    customer = customer_make(owner=org.rep1)
    contact = customer.contacts.get()
    api = api_as(org.rep1, lang="en")
    # when a contact is added, renamed or created with the customer with such a name
    added = api.post(f"customers/{customer.pk}/contacts", {"name": name, "phone": "13900001111"})
    renamed = api.patch(f"contacts/{contact.pk}", {"name": name})
    body = new_customer()
    body["contacts"][0]["name"] = name
    created = api.post("customers", body)
    # then each is refused naming the field and saying what a name may contain
    for response, field in [(added, "name"), (renamed, "name"), (created, "contacts.0.name")]:
        assert response.status_code == 422, response.content
        assert "A person's name may contain only letters" in response.json()["fields"][field][0]
    assert customer.contacts.count() == 1
    contact.refresh_from_db()
    assert contact.name != name
    assert Customer.objects.count() == 1


def test_an_individual_customers_name_follows_the_person_name_rule(org):
    api = api_as(org.rep1, lang="en")
    refused = api.post("customers", new_customer(type="individual", name="张三<i>", contacts=[]))
    assert refused.status_code == 422
    assert "A person's name" in refused.json()["fields"]["name"][0]
    accepted = api.post("customers", new_customer(type="individual", name="张三", contacts=[]))
    assert accepted.status_code == 201, accepted.content


def test_a_company_name_with_an_emoji_is_refused_through_the_api(org):
    response = api_as(org.rep1, lang="en").post(
        "customers", new_customer(name="云帆科技有限公司🚀")
    )
    assert response.status_code == 422
    assert "A company name may contain only letters" in response.json()["fields"]["name"][0]
