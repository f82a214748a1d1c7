"""What a new user met in the customer UI (issue 5 §4), through the test client.

Failed saves say so at the top and mark the field; transfers are an explicit, confirmed choice
among users who could own the record; deletes go through the app's own dialog naming the
record; long names are cut with the full text on hover; the list has a total that never counts
the whole table, a page size choice and audited bulk actions; date inputs speak Chinese.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.core.models import AuditEntry
from crm.core.pagination import Total
from crm.customers.models import Customer
from crm.customers.tests.test_views import create_payload, detail, logged_in
from crm.tests_support.factories import UserFactory, customer_make

pytestmark = pytest.mark.django_db

LIST = reverse("customers:list")
CREATE = reverse("customers:create")
BIN = reverse("customers:recycle_bin")
BULK = reverse("customers:bulk")
LONG_NAME = "北京" + "华" * 92 + "有限公司" + "甲乙"  # 100 characters


@pytest.fixture(autouse=True)
def _english_interface(settings):
    settings.LANGUAGE_CODE = "en"


def _input(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', html)
    assert match, f"no input {name}"
    return match.group(0)


def _options(html: str, select_name: str) -> list[tuple[str, str, bool]]:
    """(value, label, selected) of a <select>'s options."""
    block = re.search(rf'<select[^>]*name="{select_name}"[^>]*>(.*?)</select>', html, re.S)
    assert block, f"no select {select_name}"
    return [
        (value, label.strip(), "selected" in attrs)
        for value, attrs, label in re.findall(
            r'<option value="([^"]*)"([^>]*)>([^<]*)</option>', block.group(1)
        )
    ]


# --- 1. a failed save says so at the top and marks the field -------------------------------


def test_a_save_whose_only_error_is_in_a_contact_row_shows_the_summary_banner(client, org):
    """Without the mend the banner only showed for customer-field errors: a bad contact email
    alone reloaded the page with nothing said at the top."""
    client = logged_in(client, org.manager)

    response = client.post(CREATE, create_payload(**{"contacts-1-email": "not-an-email"}))

    html = response.content.decode()
    assert response.status_code == 422
    assert 'data-testid="form-errors"' in html and "data-error-summary" in html
    field = _input(html, "contacts-1-email")
    assert 'aria-invalid="true"' in field
    assert 'aria-describedby="contacts-1-email-error"' in field
    assert 'id="contacts-1-email-error"' in html
    assert not Customer.objects.exists()


def test_an_inline_contact_form_that_fails_shows_the_summary_banner(client, org):
    customer = customer_make(owner=org.rep1)
    url = reverse("customers:contact_create", args=[customer.pk])

    response = logged_in(client, org.rep1).post(
        url, {"new-name": "", "new-phone": "12"}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert 'data-testid="form-errors"' in html and "data-error-summary" in html
    assert 'aria-invalid="true"' in _input(html, "new-name")


def test_every_required_field_is_marked_contact_fields_included(client, org):
    """The contact name had a red star but no `required`/`aria-required`; the customer's
    required fields had aria-required only."""
    client = logged_in(client, org.manager)
    html = client.get(CREATE).content.decode()
    for name in ("name", "contacts-0-name"):
        field = _input(html, name)
        assert " required" in field and 'aria-required="true"' in field, field
    assert re.search(r'<label for="contacts-0-name" class="required">', html)
    blank_row = html[html.index('id="contact-row-template"') :]
    assert 'aria-required="true"' in _input(blank_row, "contacts-__prefix__-name")

    customer = customer_make(owner=org.rep1)
    inline = client.get(
        reverse("customers:contact_create", args=[customer.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    field = _input(inline, "new-name")
    assert " required" in field and 'aria-required="true"' in field


def test_the_focus_script_ships_in_app_js_for_every_module(client):
    """The behaviour (scroll to and focus the first aria-invalid field) is generic, in app.js,
    which every page loads with the CSP nonce (the e2e test proves it works)."""
    from django.contrib.staticfiles import finders

    with open(finders.find("crm/app.js"), encoding="utf-8") as f:
        script = f.read()
    assert "focusFirstError" in script and "aria-invalid='true'" in script
    assert "htmx:afterSwap" in script


# --- 2. transfer: an explicit choice among users who could own the record -------------------


def test_transfer_offers_nobody_preselected_not_the_owner_and_only_possible_owners(client, org):
    """Without the mend the viewer was pre-selected and users without any customer access
    (here: one without roles, one with only a settings role) were offered."""
    nobody = UserFactory(username="norole", full_name="无角色", roles=[])
    inactive = UserFactory(username="gone", full_name="已离职", roles=["sales_rep"])
    inactive.is_active = False
    inactive.save()
    customer = customer_make(owner=org.rep1)

    html = logged_in(client, org.admin).get(detail(customer)).content.decode()

    options = _options(html, "to_user")
    assert options[0][0] == ""  # "— choose the new owner —"
    assert not any(selected for value, _l, selected in options if value)
    offered = {int(v) for v, _l, _s in options if v}
    assert org.rep1.pk not in offered  # the current owner
    assert nobody.pk not in offered and inactive.pk not in offered
    assert {org.admin.pk, org.manager.pk, org.rep2.pk, org.rep3.pk} <= offered
    assert "data-confirm=" in re.search(
        r'<button[^>]*data-testid="transfer-submit"[^>]*>', html
    ).group(0)


def test_a_manager_is_offered_only_their_team(client, org):
    customer = customer_make(owner=org.rep1)
    html = logged_in(client, org.manager).get(detail(customer)).content.decode()
    offered = {int(v) for v, _l, _s in _options(html, "to_user") if v}
    assert offered == {org.manager.pk, org.rep2.pk}


def test_a_transfer_without_a_chosen_owner_changes_nothing(client, org):
    customer = customer_make(owner=org.rep1)
    url = reverse("customers:transfer", args=[customer.pk])

    response = logged_in(client, org.manager).post(url, {"to_user": ""}, follow=True)

    customer.refresh_from_db()
    assert customer.owner == org.rep1
    assert "Choose the new owner from the list" in response.content.decode()


def test_the_service_and_the_api_refuse_an_owner_who_could_not_own_the_record(client, org):
    """The same rule (`users_who_can_own`) serves the UI's choices and the services."""
    from crm.core.errors import ValidationFailed
    from crm.customers.services import customer_transfer

    nobody = UserFactory(username="norole", roles=[])
    customer = customer_make(owner=org.rep1)
    with pytest.raises(ValidationFailed):
        customer_transfer(actor=org.admin, customer=customer, to_user=nobody)

    # the UI's POST with a forged choice is refused too
    url = reverse("customers:transfer", args=[customer.pk])
    logged_in(client, org.admin).post(url, {"to_user": str(nobody.pk)})
    customer.refresh_from_db()
    assert customer.owner == org.rep1

    # and the API's owner field
    response = client.patch(
        f"/api/v1/customers/{customer.pk}",
        data={"version": customer.version, "owner_id": nobody.pk},
        content_type="application/json",
    )
    assert response.status_code == 422
    customer.refresh_from_db()
    assert customer.owner == org.rep1


# --- 3. destructive actions go through the app's own dialog --------------------------------


def test_delete_and_remove_ask_through_the_app_dialog_naming_the_record(client, org):
    """Without the mend: window.confirm() (data-confirm text without the name) and htmx's
    hx-confirm, which is the same native dialog."""
    customer = customer_make(owner=org.rep1, name="上海远航物流有限公司")
    client = logged_in(client, org.manager)

    html = client.get(detail(customer)).content.decode()
    assert '<dialog id="confirm-dialog"' in html
    delete = re.search(r'<button[^>]*data-testid="delete"[^>]*>', html).group(0)
    assert "上海远航物流有限公司" in delete and "recycle bin" in delete

    contacts = client.get(detail(customer), {"tab": "contacts"}).content.decode()
    assert "hx-confirm" not in contacts
    remove = re.search(r'<button[^>]*data-testid="contact-remove"[^>]*>', contacts).group(0)
    contact = customer.contacts.get()
    assert contact.name in remove and customer.name in remove


def test_the_dialog_names_the_record_in_chinese(client, org, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    customer = customer_make(owner=org.rep1, name="上海远航物流有限公司")
    html = logged_in(client, org.manager).get(detail(customer)).content.decode()
    assert "删除客户「上海远航物流有限公司」？可在回收站恢复" in html


def test_app_js_never_falls_back_to_the_native_confirm_where_dialog_exists():
    from django.contrib.staticfiles import finders

    with open(finders.find("crm/app.js"), encoding="utf-8") as f:
        script = f.read()
    assert "showModal" in script and '"Tab"' in script and "confirmOpener.focus()" in script


# --- 4. long names: cut with the whole text on hover ----------------------------------------


def test_long_names_are_truncated_with_the_full_text_on_hover(client, org):
    assert len(LONG_NAME) == 100
    customer = customer_make(owner=org.rep1, name=LONG_NAME)
    client = logged_in(client, org.manager)

    html = client.get(LIST).content.decode()
    assert re.search(
        rf'<a href="/customers/{customer.pk}/" class="truncate" title="{LONG_NAME}">', html
    )
    assert 'href="/static/customers/customers.css"' in html or "customers.css" in html

    client.post(reverse("customers:delete", args=[customer.pk]))
    bin_html = client.get(BIN).content.decode()
    assert f'<span class="truncate" title="{LONG_NAME}">' in bin_html
    assert 'class="sticky-actions"' in bin_html


# --- 5. total, page size, selection and bulk actions ----------------------------------------


def test_the_list_shows_its_total_and_offers_page_sizes(client, org):
    for _ in range(3):
        customer_make(owner=org.rep1)
    html = logged_in(client, org.rep1).get(LIST).content.decode()
    total = re.search(r'data-testid="list-total">([^<]*)<', html).group(1)
    assert total == "3 customers"
    sizes = re.search(r'data-testid="page-sizes">(.*?)</span>', html, re.S).group(1)
    assert "page_size=50" in sizes and "page_size=100" in sizes
    assert '<strong aria-current="true">20</strong>' in sizes


def test_the_total_beyond_the_limit_reads_as_more_than(client, org, monkeypatch):
    from crm.customers import views

    customer_make(owner=org.rep1)
    monkeypatch.setattr(views, "page_total", lambda rows, page: Total(count=10_000, exact=False))
    html = logged_in(client, org.rep1).get(LIST).content.decode()
    assert re.search(r'data-testid="list-total">10,000\+ customers<', html)


def test_the_page_size_is_remembered_in_the_query_string(client, org):
    for _ in range(3):
        customer_make(owner=org.rep1)
    client = logged_in(client, org.rep1)

    html = client.get(LIST, {"page_size": "50", "grade": "B"}).content.decode()
    assert '<strong aria-current="true">50</strong>' in html
    assert 'id="filter-page-size" value="50"' in html  # the filter form keeps it
    sort_link = re.search(r'href="([^"]*sort=name[^"]*)"', html).group(1)
    assert "page_size=50" in sort_link

    # a size the UI does not offer falls back to the default
    html = client.get(LIST, {"page_size": "7"}).content.decode()
    assert '<strong aria-current="true">20</strong>' in html


def test_a_bigger_page_size_shows_more_rows(client, org):
    for _ in range(23):
        customer_make(owner=org.rep1)
    client = logged_in(client, org.rep1)
    assert client.get(LIST).content.decode().count('data-testid="customer-row"') == 20
    html = client.get(LIST, {"page_size": "50"}).content.decode()
    assert html.count('data-testid="customer-row"') == 23
    assert re.search(r'data-testid="list-total">23 customers<', html)


def test_bulk_actions_are_shown_only_with_their_permission(client, org):
    customer_make(owner=org.rep1)
    manager = logged_in(client, org.manager).get(LIST).content.decode()
    for testid in ("bulk-grade", "bulk-transfer", "bulk-delete"):
        assert f'data-testid="{testid}"' in manager
    assert 'name="ids"' in manager

    rep = logged_in(client, org.rep1).get(LIST).content.decode()  # edit only
    assert 'data-testid="bulk-grade"' in rep
    assert 'data-testid="bulk-transfer"' not in rep and 'data-testid="bulk-delete"' not in rep

    finance = logged_in(client, org.finance).get(LIST).content.decode()  # view only
    assert 'name="ids"' not in finance and 'data-testid="bulk-bar"' not in finance


def test_the_bulk_transfer_owner_list_holds_only_possible_owners(client, org):
    nobody = UserFactory(username="norole", roles=[])
    customer_make(owner=org.rep1)
    html = logged_in(client, org.admin).get(LIST).content.decode()
    options = _options(html, "to_user")
    assert options[0][0] == "" and not any(s for _v, _l, s in options)
    assert str(nobody.pk) not in {v for v, _l, _s in options}


def test_bulk_grade_changes_the_selection_and_says_how_many(client, org):
    a = customer_make(owner=org.rep1, grade="C")
    b = customer_make(owner=org.rep2, grade="C")
    outside = customer_make(owner=org.rep3, grade="C")
    client = logged_in(client, org.manager)

    response = client.post(
        BULK,
        {"action": "grade", "grade": "A", "ids": [a.pk, b.pk, outside.pk], "next": LIST + "?q=x"},
    )

    assert response.status_code == 302 and response["Location"] == LIST + "?q=x"
    assert Customer.objects.get(pk=a.pk).grade == "A"
    assert Customer.objects.get(pk=b.pk).grade == "A"
    assert Customer.objects.get(pk=outside.pk).grade == "C"  # outside the manager's scope
    page = client.get(LIST).content.decode()
    assert "Grade changed for 2 customers." in page
    assert "1 selected customer was left unchanged" in page


def test_bulk_transfer_and_delete_through_the_ui(client, org):
    a = customer_make(owner=org.rep1)
    b = customer_make(owner=org.rep1)
    client = logged_in(client, org.manager)

    client.post(BULK, {"action": "transfer", "to_user": org.rep2.pk, "ids": [a.pk, b.pk]})
    assert set(Customer.objects.filter(pk__in=[a.pk, b.pk]).values_list("owner", flat=True)) == {
        org.rep2.pk
    }
    assert "2 customers transferred." in client.get(LIST).content.decode()

    client.post(BULK, {"action": "delete", "ids": [a.pk]})
    assert Customer.objects.get(pk=a.pk).deleted_at is not None
    assert Customer.objects.get(pk=b.pk).deleted_at is None


def test_bulk_actions_refuse_without_their_permission(client, org):
    a = customer_make(owner=org.rep1)
    client = logged_in(client, org.rep1)  # no delete, no transfer

    assert client.post(BULK, {"action": "delete", "ids": [a.pk]}).status_code == 403
    assert client.post(BULK, {"action": "transfer", "ids": [a.pk]}).status_code == 403
    assert Customer.objects.get(pk=a.pk).deleted_at is None


def test_bulk_redirect_never_leaves_the_list(client, org):
    a = customer_make(owner=org.rep1)
    response = logged_in(client, org.manager).post(
        BULK, {"action": "grade", "grade": "A", "ids": [a.pk], "next": "https://evil.example/"}
    )
    assert response["Location"] == LIST


def _list_queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(LIST, params).status_code == 200
    return len(ctx)


def test_list_with_selection_and_total_has_a_constant_query_count(client, org):
    """The manager sees boxes, bulk owners and the total: 1 row, 20 rows, and a page that has
    a next one (which counts through the bounded COUNT) differ by at most that one count."""
    client = logged_in(client, org.manager)
    customer_make(owner=org.rep1)
    _list_queries(client)  # warm the caches, as in a running app
    one = _list_queries(client)
    for i in range(19):
        customer_make(owner=org.rep1 if i % 2 else org.rep2)
    twenty = _list_queries(client)
    assert twenty == one
    for _ in range(5):
        customer_make(owner=org.rep2)
    with_next = _list_queries(client)
    # the bounded count; PostgreSQL asks its planner first and gives the count a time budget
    # (EXPLAIN, SET LOCAL statement_timeout, COUNT, reset; inside the test's transaction the
    # budget's savepoint adds SAVEPOINT and RELEASE)
    assert with_next == one + (6 if connection.vendor == "postgresql" else 1)
    customer_make(owner=org.rep2)
    assert _list_queries(client) == with_next
    assert _list_queries(client, page_size=100) == one  # 26 rows on one page: no count


# --- 6. dates in Chinese formats ------------------------------------------------------------


def test_date_inputs_carry_the_interface_language_and_a_format_hint(client, org, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    customer_make(owner=org.rep1)
    client = logged_in(client, org.manager)
    html = client.get(LIST).content.decode()
    for name in ("created_from", "created_to"):
        field = _input(html, name)
        assert 'lang="zh-CN"' in field and 'placeholder="YYYY-MM-DD"' in field
    form = client.get(CREATE).content.decode()
    field = _input(form, "first_contact_date")
    assert 'lang="zh-CN"' in field and 'placeholder="YYYY-MM-DD"' in field
    assert "格式：YYYY-MM-DD" in form


def test_the_filter_bar_lays_its_fields_out_in_full_rows(client, org):
    """The grid class says how many fields there are, so the stylesheet puts them on one row
    at 1440 px (the e2e test measures it in chromium)."""
    customer_make(owner=org.rep1)
    manager = logged_in(client, org.manager).get(LIST).content.decode()
    assert 'class="filters-grid fields-8"' in manager
    rep = logged_in(client, org.rep1).get(LIST).content.decode()
    assert 'class="filters-grid fields-7"' in rep


def test_audit_entries_of_a_bulk_action_name_each_record(client, org):
    a = customer_make(owner=org.rep1, grade="B")
    logged_in(client, org.manager).post(BULK, {"action": "grade", "grade": "A", "ids": [a.pk]})
    entry = AuditEntry.objects.filter(object_id=a.pk, action="update").latest("id")
    assert entry.changes == [{"field": "grade", "before": "B", "after": "A"}]
    assert entry.actor == org.manager
