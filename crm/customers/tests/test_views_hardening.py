"""The customer UI under odd input and growing records: malformed filters are ignored, ids of
other records are not found, the customer page, its tabs and the recycle bin run the same
number of queries however many rows they show (DESIGN invariants 1, 5 and 8), and a restore
from the recycle bin cannot bring back a duplicate (CUS-6)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.core.errors import DuplicateError
from crm.customers.models import Contact, Customer
from crm.customers.selectors import customer_get
from crm.customers.services import (
    contact_create,
    customer_delete,
    customer_restore,
    customer_update,
)
from crm.customers.views import HISTORY_PAGE_SIZE, LAST_CHANGES_SCANNED
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db

LIST = reverse("customers:list")


def detail(customer: Customer, tab: str = "details") -> str:
    return reverse("customers:detail", args=[customer.pk]) + f"?tab={tab}"


def query_count(client, url: str, **headers: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    return len(queries)


# --- malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize("owner", ["²", "9" * 25, "-1", "abc"])
def test_list_ignores_an_owner_filter_that_is_not_an_id(client, org, owner):
    # given a customer of rep1
    customer = customer_make(owner=org.rep1, name="华科信息技术有限公司")
    client.force_login(org.rep1)

    # when the list is asked for an owner id that is no id ('²' is a digit to str.isdigit()
    # but not to int(); 25 nines are beyond what the id column holds)
    response = client.get(LIST, {"owner": owner})

    # then the filter is ignored like any malformed filter, not answered with a 500
    assert response.status_code == 200
    assert customer.name in response.content.decode()


def test_an_owner_from_another_department_is_refused_and_nothing_is_saved(client, org):
    # given sales manager 1, whose scope is their own team
    client.force_login(org.manager)

    # when they post the new-customer form with a rep of 销售二部 as owner (a tampered select)
    response = client.post(
        reverse("customers:create"),
        {
            "type": "enterprise",
            "name": "越权指派科技有限公司",
            "industry": "it",
            "grade": "B",
            "status": "potential",
            "owner": org.rep3.pk,
            "phone": "13812345678",
            "contacts-0-name": "张伟",
            "contacts-primary": "0",
        },
    )

    # then the owner field says why, and no customer exists
    assert response.status_code == 422
    assert response.context["form"].errors.get("owner")
    assert not Customer.objects.filter(name="越权指派科技有限公司").exists()


def test_a_contact_of_another_customer_is_not_found_through_this_customer(client, org):
    # given two customers the administrator may both see
    mine = customer_make(owner=org.rep1, name="甲方科技有限公司")
    theirs = customer_make(
        owner=org.rep3,
        name="乙方科技有限公司",
        contacts=[{"name": "原名", "phone": "13900000009", "is_primary": True}],
    )
    other_contact = theirs.contacts.get()
    client.force_login(org.admin)
    url = reverse("customers:contact_edit", args=[mine.pk, other_contact.pk])

    # when the other customer's contact is opened and saved through the first customer's URL
    opened = client.get(url)
    saved = client.post(url, {f"c{other_contact.pk}-name": "改名"})

    # then both are 404 and the contact is unchanged
    assert (opened.status_code, saved.status_code) == (404, 404)
    assert Contact.objects.get(pk=other_contact.pk).name == "原名"


# --- query counts ---------------------------------------------------------------------------


def _grow(org, customer: Customer, rows: int) -> None:
    """`rows` more audit entries and contacts on `customer`, and deleted customers in the bin,
    made by different people."""
    actors = [org.manager, org.admin]
    for i in range(rows):
        actor = actors[i % 2]
        current = customer_get(user=org.admin, customer_id=customer.pk)
        customer_update(
            actor=actor,
            customer=current,
            data={"remarks": f"第{i}次备注", "phone": f"1370000{i:04d}"},
            version=current.version,
        )
        contact_create(
            actor=actor, customer=current, data={"name": f"联系人{i}", "phone": f"1360000{i:04d}"}
        )
        gone = customer_make(owner=org.rep1 if i % 2 else org.rep2)
        customer_delete(actor=actor, customer=gone, version=None)


def test_customer_page_tabs_and_recycle_bin_query_counts_do_not_grow_with_rows(client, org):
    # given a customer with one audit entry and one contact, and one customer in the bin
    customer = customer_make(owner=org.rep1)
    customer_delete(actor=org.manager, customer=customer_make(owner=org.rep2), version=None)
    client.force_login(org.manager)
    pages = {
        "details": (detail(customer), {}),
        "contacts": (detail(customer, "contacts"), {}),
        "history": (detail(customer, "history"), {}),
        "history (HTMX)": (
            detail(customer, "history"),
            {"HX-Request": "true", "HX-Target": "tab-body"},
        ),
        "contacts section (HTMX)": (
            reverse("customers:contacts", args=[customer.pk]),
            {"HX-Request": "true"},
        ),
        "recycle bin": (reverse("customers:recycle_bin"), {}),
    }
    for url, headers in pages.values():
        client.get(url, headers=headers)  # warm the dictionary and settings caches
    one = {name: query_count(client, url, **h) for name, (url, h) in pages.items()}

    # when 20 more entries, contacts and deleted customers exist
    _grow(org, customer, 20)
    twenty = {name: query_count(client, url, **h) for name, (url, h) in pages.items()}

    # then every page runs the same number of queries
    assert twenty == one
    # (each round wrote two entries: a full page of history)
    assert len(client.get(detail(customer, "history")).context["history"]) == HISTORY_PAGE_SIZE
    assert len(client.get(detail(customer, "contacts")).context["contacts"]) == 21


def test_last_changed_notes_read_a_bounded_number_of_audit_entries(client, org):
    # given a customer whose remarks were just changed
    customer = customer_make(owner=org.rep1)
    current = customer_get(user=org.admin, customer_id=customer.pk)
    customer_update(
        actor=org.manager, customer=current, data={"remarks": "新备注"}, version=current.version
    )
    client.force_login(org.manager)

    # when the details tab is shown
    with CaptureQueriesContext(connection) as queries:
        response = client.get(detail(customer))

    # then the "last changed" note is there, read from a limited number of entries, so a
    # customer with thousands of changes does not load them all on every view
    remarks = next(f for f in response.context["fields"] if f["name"] == "remarks")
    assert remarks["last"]["by"] == org.manager.display_name
    audit_reads = [q["sql"] for q in queries.captured_queries if "core_auditentry" in q["sql"]]
    assert audit_reads and all(f"LIMIT {LAST_CHANGES_SCANNED}" in sql for sql in audit_reads)


# --- restore must not make a duplicate (CUS-6) ----------------------------------------------


@pytest.fixture
def recreated(org):
    """A customer in the recycle bin, and the same company created again meanwhile."""
    old = customer_make(owner=org.rep1, name="重复恢复科技有限公司")
    customer_delete(actor=org.manager, customer=old, version=None)
    again = customer_make(owner=org.rep2, name="重复恢复科技有限公司")
    return old, again


def live_named(name: str) -> int:
    return Customer.objects.filter(name=name, deleted_at__isnull=True).count()


def test_restoring_a_customer_created_again_meanwhile_is_refused(org, recreated):
    old, again = recreated
    with pytest.raises(DuplicateError) as refused:
        customer_restore(actor=org.manager, customer=old)
    assert refused.value.extra["existing"]["number"] == again.number
    assert live_named(old.name) == 1
    assert Customer.objects.get(pk=old.pk).deleted_at is not None


def test_the_recycle_bin_says_why_a_restore_was_refused(client, org, recreated):
    old, again = recreated
    client.force_login(org.manager)
    response = client.post(reverse("customers:restore", args=[old.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("customers:recycle_bin")
    assert again.number in response.content.decode()
    assert live_named(old.name) == 1


def test_the_api_answers_a_refused_restore_with_409_duplicate(org, recreated):
    old, again = recreated
    response = api_as(org.manager).post(f"customers/{old.pk}/restore")
    assert response.status_code == 409
    assert response.json()["error"] == "duplicate"
    assert response.json()["existing"]["number"] == again.number
    assert live_named(old.name) == 1


def test_a_restore_is_not_stopped_by_a_warning_rule(org):
    # given a customer in the bin whose phone number another live customer now has
    old = customer_make(owner=org.rep1, name="电话相同甲有限公司", phone="13812340000")
    customer_delete(actor=org.manager, customer=old, version=None)
    customer_make(owner=org.rep1, name="电话相同乙有限公司", phone="13812340000")
    # when it is restored, then it is back (the same phone only warns)
    assert customer_restore(actor=org.manager, customer=old).deleted_at is None
