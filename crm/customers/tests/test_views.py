"""The customer archive's web UI (CUS-1..7, CUS-11 so far, SYS-5), through the test client.

Each test reads given / when / then. Writes are checked in the database, pages by what a
person would see in the HTML.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.core.models import AuditEntry
from crm.customers.models import Contact, Customer
from crm.customers.services import customer_delete, customer_restore, customer_update
from crm.tests_support.factories import customer_make


@pytest.fixture(autouse=True)
def _english_interface(settings):
    """These tests read messages in English; zh-Hans, the default, is covered by test_i18n."""
    settings.LANGUAGE_CODE = "en"


pytestmark = pytest.mark.django_db

LIST = reverse("customers:list")
CREATE = reverse("customers:create")
BIN = reverse("customers:recycle_bin")


def detail(customer: Customer) -> str:
    return reverse("customers:detail", args=[customer.pk])


def edit(customer: Customer) -> str:
    return reverse("customers:edit", args=[customer.pk])


def logged_in(client, user):
    client.force_login(user)
    return client


def names_in(html: str) -> list[str]:
    """Customer names in the list, in the order shown."""
    return re.findall(r'<td class="name-cell"><a href="/customers/\d+/"[^>]*>([^<]+)</a>', html)


def create_payload(**overrides):
    data = {
        "type": "enterprise",
        "name": "北京华科信息技术有限公司",
        "industry": "it",
        "source": "trade_show",
        "grade": "A",
        "status": "intent",
        "phone": "13812345678",
        "email": "info@huake.example.com",
        "credit_code": "",
        "address": "北京市海淀区中关村大街1号",
        "first_contact_date": "2025-03-01",
        "budget": "150000",
        "requirement": "CRM for 50 sales reps",
        "background": "",
        "decision_chain": "CTO decides, CFO signs",
        "competitors": "",
        "remarks": "",
        "contacts-0-name": "张伟",
        "contacts-0-title": "采购经理",
        "contacts-0-phone": "13900001111",
        "contacts-0-email": "",
        "contacts-0-notes": "",
        "contacts-1-name": "李娜",
        "contacts-1-title": "CTO",
        "contacts-1-phone": "",
        "contacts-1-email": "lina@huake.example.com",
        "contacts-1-notes": "",
        "contacts-primary": "1",
    }
    data.update(overrides)
    return data


# --- list: scope, masking, filters, search, sort, pages, query count -----------------------


def test_list_shows_each_role_only_its_data_scope(client, org):
    # given customers of rep1, rep2 (both under manager) and rep3 (another team)
    mine = customer_make(owner=org.rep1, name="甲一科技有限公司")
    teammate = customer_make(owner=org.rep2, name="乙二科技有限公司")
    other_team = customer_make(owner=org.rep3, name="丙三科技有限公司")

    # when each role opens the list, then it sees its scope and nothing more
    html = logged_in(client, org.rep1).get(LIST).content.decode()
    assert mine.name in html and teammate.name not in html and other_team.name not in html

    html = logged_in(client, org.manager).get(LIST).content.decode()
    assert mine.name in html and teammate.name in html and other_team.name not in html

    html = logged_in(client, org.exec).get(LIST).content.decode()
    assert mine.name in html and teammate.name in html and other_team.name in html


def test_list_masks_phones_for_a_role_without_view_contact(client, org):
    # given a customer with a mobile number
    customer_make(owner=org.rep1, phone="13812345678")

    # when finance (no "view contact details") opens the list, then the phone is masked
    html = logged_in(client, org.finance).get(LIST).content.decode()
    assert "138****5678" in html
    assert "13812345678" not in html

    # and the sales rep who owns it sees it in full
    html = logged_in(client, org.rep1).get(LIST).content.decode()
    assert "13812345678" in html


def test_list_filters_by_grade_industry_and_owner(client, org):
    a = customer_make(owner=org.rep1, name="甲级客户科技有限公司", grade="A", industry="finance")
    b = customer_make(owner=org.rep2, name="乙级客户科技有限公司", grade="B", industry="it")
    client = logged_in(client, org.manager)

    html = client.get(LIST, {"grade": "A"}).content.decode()
    assert a.name in html and b.name not in html

    html = client.get(LIST, {"industry": "it"}).content.decode()
    assert b.name in html and a.name not in html

    html = client.get(LIST, {"owner": org.rep2.pk}).content.decode()
    assert b.name in html and a.name not in html


@pytest.mark.parametrize(
    "query",
    ["bjhk", "华", "华科", "KH", "13812345678"[-4:], "赵六"],
    ids=["pinyin-initials", "one-chinese-char", "fragment", "number", "phone-digits", "contact"],
)
def test_list_search_finds_by_every_key(client, org, query):
    # given a customer and an unrelated one
    wanted = customer_make(
        owner=org.rep1,
        name="北京华科信息技术有限公司",
        phone="13812345678",
        contacts=[{"name": "赵六", "phone": "13911112222", "is_primary": True}],
    )
    other = customer_make(owner=org.rep1, name="上海远景贸易有限公司", phone="13700000000")
    if query == "KH":
        query = wanted.number

    # when the rep searches
    html = logged_in(client, org.rep1).get(LIST, {"q": query}).content.decode()

    # then the wanted customer is found and the other is not
    assert wanted.name in html
    assert other.name not in html


def test_list_search_without_match_says_what_to_do(client, org):
    customer_make(owner=org.rep1)
    html = logged_in(client, org.rep1).get(LIST, {"q": "不存在的名字"}).content.decode()
    assert 'data-testid="empty-filtered"' in html
    assert "Clear search and filters" in html


def test_list_empty_state_offers_new_customer_only_with_create_permission(client, org):
    html = logged_in(client, org.rep1).get(LIST).content.decode()
    assert 'data-testid="empty"' in html and CREATE in html

    html = logged_in(client, org.finance).get(LIST).content.decode()
    assert 'data-testid="empty"' in html and CREATE not in html


def test_list_sorts_by_name_both_ways(client, org):
    for name in ("北京甲科技有限公司", "安徽乙科技有限公司", "重庆丙科技有限公司"):
        customer_make(owner=org.rep1, name=name)
    client = logged_in(client, org.rep1)

    ascending = names_in(client.get(LIST, {"sort": "name"}).content.decode())
    descending = names_in(client.get(LIST, {"sort": "-name"}).content.decode())

    # pinyin order: anhui < beijing < chongqing
    assert ascending == ["安徽乙科技有限公司", "北京甲科技有限公司", "重庆丙科技有限公司"]
    assert descending == list(reversed(ascending))


def test_list_sort_header_toggles_direction(client, org):
    customer_make(owner=org.rep1)
    html = logged_in(client, org.rep1).get(LIST, {"sort": "name"}).content.decode()
    # the name header, sorted ascending, links to the descending order
    assert 'aria-sort="ascending"' in html
    assert "sort=-name" in html


def test_list_pages_with_a_next_link_and_no_total_count(client, org):
    # given 21 customers (one more than a page)
    for _ in range(21):
        customer_make(owner=org.rep1)
    client = logged_in(client, org.rep1)

    # when the first page is shown, then it has 20 rows and a link to page 2
    html = client.get(LIST).content.decode()
    assert html.count('data-testid="customer-row"') == 20
    assert re.search(r'data-testid="next-page"', html)
    assert "page=2" in html

    # and page 2 holds the last one, with a way back and no next link
    html = client.get(LIST, {"page": 2}).content.decode()
    assert html.count('data-testid="customer-row"') == 1
    assert 'rel="prev"' in html and 'data-testid="next-page"' not in html


def test_list_query_count_does_not_grow_with_rows(client, org):
    client = logged_in(client, org.manager)
    customer_make(owner=org.rep1)
    client.get(LIST)  # warm the dictionary/settings caches, as in a running app

    with CaptureQueriesContext(connection) as one_row:
        assert client.get(LIST).status_code == 200
    for i in range(19):
        customer_make(owner=org.rep1 if i % 2 else org.rep2)
    with CaptureQueriesContext(connection) as twenty_rows:
        response = client.get(LIST)
    assert response.content.decode().count('data-testid="customer-row"') == 20

    assert len(twenty_rows) == len(one_row)


def test_list_htmx_request_gets_only_the_results_partial(client, org):
    customer_make(owner=org.rep1, name="华科信息技术有限公司")
    response = logged_in(client, org.rep1).get(LIST, {"q": "华科"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="customer-results"' in html and "华科信息技术有限公司" in html
    # the filter form's hidden sort field is refreshed out of band
    assert 'hx-swap-oob="true"' in html
    assert "HX-Request" in response["Vary"]


def test_list_needs_login(client, org):
    response = client.get(LIST)
    assert response.status_code == 302
    assert "/account/" in response["Location"] or "login" in response["Location"]


# --- create ---------------------------------------------------------------------------------


def test_create_with_two_contacts_numbers_the_customer_and_keeps_the_primary(client, org):
    # when a rep submits the full form with two contacts, the second marked primary
    response = logged_in(client, org.rep1).post(CREATE, create_payload())

    # then the customer exists with a KH+yyyymm+0001 number and both contacts
    customer = Customer.objects.get(name="北京华科信息技术有限公司")
    assert response.status_code == 302 and response["Location"] == detail(customer)
    assert customer.number == f"KH{timezone.localdate():%Y%m}0001"
    assert customer.owner == org.rep1 and customer.grade == "A" and customer.industry == "it"
    assert str(customer.budget) == "150000.00"
    contacts = {c.name: c for c in customer.contacts.all()}
    assert set(contacts) == {"张伟", "李娜"}
    assert contacts["李娜"].is_primary and not contacts["张伟"].is_primary


def test_create_form_offers_owners_the_user_may_assign_and_defaults_to_the_actor(client, org):
    html = logged_in(client, org.manager).get(CREATE).content.decode()
    owner_select = re.search(r'<select name="owner".*?</select>', html, re.S).group(0)
    assert f'value="{org.manager.pk}" selected' in owner_select
    assert org.rep1.display_name in owner_select
    assert org.rep3.display_name not in owner_select  # another team


def test_create_with_bad_phone_and_credit_code_shows_field_errors_and_saves_nothing(client, org):
    payload = create_payload(
        phone="12345",
        credit_code="91110000XXXXXXXXX0",
        **{"contacts-0-phone": "999"},
    )
    response = logged_in(client, org.rep1).post(CREATE, payload)

    assert response.status_code == 422
    html = response.content.decode()
    # each bad field carries its own message beside it
    assert re.search(r'class="field has-error[^"]*">\s*<label for="id_phone"', html)
    assert re.search(r'class="field has-error[^"]*">\s*<label for="id_credit_code"', html)
    assert re.search(r'class="field has-error">\s*<label for="contacts-0-phone"', html)
    assert "Enter a valid phone number" in html
    # everything typed is still in the form
    assert 'value="北京华科信息技术有限公司"' in html
    assert 'value="91110000XXXXXXXXX0"' in html
    assert 'value="李娜"' in html and "CRM for 50 sales reps" in html
    # and nothing was saved
    assert not Customer.objects.exists() and not Contact.objects.exists()


def test_create_enterprise_without_contacts_asks_for_one(client, org):
    payload = {k: v for k, v in create_payload().items() if not k.startswith("contacts-")}
    response = logged_in(client, org.rep1).post(CREATE, payload)
    assert response.status_code == 422
    assert "Add at least one contact." in response.content.decode()
    assert not Customer.objects.exists()


def test_create_add_contact_button_without_javascript_keeps_input(client, org):
    payload = create_payload(_add_contact="1")
    response = logged_in(client, org.rep1).post(CREATE, payload)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="contacts-2-name"' in html  # a third, empty row
    assert 'value="张伟"' in html and 'value="北京华科信息技术有限公司"' in html
    assert not Customer.objects.exists()


def test_create_duplicate_name_is_refused_with_a_link_to_the_existing_record(client, org):
    existing = customer_make(owner=org.rep1, name="北京华科信息技术有限公司")
    # the same company with another legal-form suffix and full-width spacing
    response = logged_in(client, org.rep1).post(
        CREATE, create_payload(name="北京华科信息技术 有限责任公司", phone="13800000001")
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert 'data-testid="duplicate"' in html
    assert f'href="{detail(existing)}"' in html and existing.number in html
    assert Customer.objects.count() == 1


def test_create_duplicate_of_a_record_outside_scope_names_only_the_owner(client, org):
    customer_make(owner=org.rep3, name="北京华科信息技术有限公司")
    response = logged_in(client, org.rep1).post(CREATE, create_payload(phone="13800000001"))
    html = response.content.decode()
    assert response.status_code == 409
    assert org.rep3.display_name in html
    assert "/customers/" + str(Customer.objects.get().pk) + "/" not in html


def test_create_same_phone_warns_then_saves_when_confirmed(client, org):
    existing = customer_make(owner=org.rep1, name="上海远景贸易有限公司", phone="13812345678")
    client = logged_in(client, org.rep1)

    # when another customer is entered with the same phone, then a warning asks to confirm
    response = client.post(CREATE, create_payload())
    html = response.content.decode()
    assert response.status_code == 409
    assert 'data-testid="duplicate-warning"' in html and existing.number in html
    assert 'name="confirm_duplicates"' in html
    assert 'value="北京华科信息技术有限公司"' in html
    assert Customer.objects.count() == 1

    # when the user saves anyway, then it is created
    response = client.post(CREATE, create_payload(confirm_duplicates="1"))
    assert response.status_code == 302
    assert Customer.objects.count() == 2


def test_create_needs_the_create_permission(client, org):
    assert logged_in(client, org.finance).get(CREATE).status_code == 403
    response = client.post(CREATE, create_payload())
    assert response.status_code == 403
    assert 'data-testid="error-403"' in response.content.decode()
    assert not Customer.objects.exists()


# --- detail ---------------------------------------------------------------------------------


def test_detail_shows_fields_with_labels_money_and_who_entered_them(client, org):
    customer = customer_make(
        owner=org.rep1, industry="finance", source="trade_show", budget="1234567.5"
    )
    html = logged_in(client, org.rep1).get(detail(customer)).content.decode()
    assert customer.number in html and customer.name in html
    assert "¥1,234,567.50" in html
    assert "金融" in html or "Finance" in html  # the dictionary label, not the code
    assert org.rep1.display_name in html
    assert "changed" not in re.search(r'<dd data-field="name">.*?</dd>', html, re.S).group(0)


def test_detail_shows_when_and_by_whom_a_field_last_changed(client, org):
    customer = customer_make(owner=org.rep1)
    customer_update(actor=org.manager, customer=customer, data={"grade": "A"}, version=1)
    html = logged_in(client, org.rep1).get(detail(customer)).content.decode()
    grade = re.search(r'<dd data-field="grade">.*?</dd>', html, re.S).group(0)
    assert "changed" in grade and org.manager.display_name in grade


def test_detail_of_another_reps_customer_is_404(client, org):
    other = customer_make(owner=org.rep2)
    response = logged_in(client, org.rep1).get(detail(other))
    assert response.status_code == 404
    assert other.name not in response.content.decode()
    # and the same for its edit page and its contacts
    assert client.get(edit(other)).status_code == 404
    assert client.get(reverse("customers:contacts", args=[other.pk])).status_code == 404


def test_detail_masks_contacts_for_a_role_without_view_contact(client, org):
    customer = customer_make(
        owner=org.rep1,
        phone="13812345678",
        contacts=[
            {
                "name": "赵六",
                "phone": "13911112222",
                "email": "zhao@example.com",
                "is_primary": True,
            }
        ],
    )
    client = logged_in(client, org.finance)
    html = client.get(detail(customer)).content.decode()
    assert "138****5678" in html and "13812345678" not in html
    html = client.get(detail(customer), {"tab": "contacts"}).content.decode()
    assert "139****2222" in html and "13911112222" not in html
    assert "z***@example.com" in html and "zhao@example.com" not in html
    html = client.get(detail(customer), {"tab": "history"}).content.decode()
    assert "13812345678" not in html


def test_detail_tab_request_by_htmx_returns_only_the_tab(client, org):
    customer = customer_make(owner=org.rep1)
    response = logged_in(client, org.rep1).get(
        detail(customer), {"tab": "contacts"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="tab-body"
    )
    html = response.content.decode()
    assert "<html" not in html and 'id="contacts"' in html


def test_history_tab_shows_each_field_before_and_after(client, org):
    customer = customer_make(owner=org.rep1, name="北京旧名科技有限公司", grade="C")
    customer_update(
        actor=org.rep1,
        customer=customer,
        data={"name": "北京新名科技有限公司", "grade": "A"},
        version=customer.version,
    )
    client = logged_in(client, org.rep1)
    client.cookies["django_language"] = "en"
    html = client.get(detail(customer), {"tab": "history"}).content.decode()
    assert html.count('data-testid="history-entry"') == 2
    assert "<del>北京旧名科技有限公司</del>" in html and "<ins>北京新名科技有限公司</ins>" in html
    assert "<del>C</del>" in html and "<ins>A</ins>" in html
    assert "Name" in html and "Grade" in html  # labels from the model's verbose names
    assert org.rep1.display_name in html


# --- edit -----------------------------------------------------------------------------------


def edit_payload(customer: Customer, **overrides):
    data = {
        "version": customer.version,
        "type": customer.type,
        "name": customer.name,
        "industry": customer.industry,
        "source": customer.source,
        "grade": customer.grade,
        "status": customer.status,
        "owner": customer.owner_id,
        "phone": customer.phone,
        "email": customer.email,
        "credit_code": customer.credit_code,
        "address": customer.address,
        "first_contact_date": "",
        "budget": "",
        "requirement": customer.requirement,
        "background": customer.background,
        "decision_chain": customer.decision_chain,
        "competitors": customer.competitors,
        "remarks": customer.remarks,
    }
    data.update(overrides)
    return data


def test_edit_saves_the_changes_and_records_them(client, org):
    customer = customer_make(owner=org.rep1, grade="C")
    client = logged_in(client, org.rep1)
    assert client.get(edit(customer)).status_code == 200

    response = client.post(edit(customer), edit_payload(customer, grade="A", address="上海市"))

    assert response.status_code == 302 and response["Location"] == detail(customer)
    customer.refresh_from_db()
    assert customer.grade == "A" and customer.address == "上海市" and customer.version == 2
    entry = AuditEntry.objects.filter(action="update", object_id=customer.pk).get()
    assert {c["field"] for c in entry.changes} == {"grade", "address"}


def test_edit_owner_field_is_disabled_without_transfer_permission(client, org):
    customer = customer_make(owner=org.rep1)
    html = logged_in(client, org.rep1).get(edit(customer)).content.decode()
    assert re.search(r'<select name="owner"[^>]*disabled', html)

    # and a forged owner in the post is ignored, not applied
    client.post(edit(customer), edit_payload(customer, owner=org.rep2.pk, remarks="x"))
    customer.refresh_from_db()
    assert customer.owner == org.rep1 and customer.remarks == "x"


def test_edit_with_bad_email_shows_the_error_and_keeps_input(client, org):
    customer = customer_make(owner=org.rep1)
    response = logged_in(client, org.rep1).post(
        edit(customer), edit_payload(customer, email="not-an-email", remarks="keep me")
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Enter a valid email address" in html and "keep me" in html
    customer.refresh_from_db()
    assert customer.remarks == "" and customer.version == 1


def hidden_value(html: str, name: str) -> str:
    return re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html).group(1)


def form_values(html: str, customer: Customer, **overrides) -> dict:
    """What the browser would submit from the edit form as rendered (hidden fields included)."""
    data = edit_payload(customer, **overrides)
    data["version"] = hidden_value(html, "version")
    data["original"] = hidden_value(html, "original")
    data.update(overrides)
    return data


def test_stale_edit_is_refused_with_who_and_when_and_keeps_the_input(client, org):
    # given rep1 opened the edit form at version 1 (grade C)
    customer = customer_make(owner=org.rep1, grade="C")
    client = logged_in(client, org.rep1)
    page = client.get(edit(customer)).content.decode()
    assert hidden_value(page, "version") == "1"
    # and then the manager changed the grade to B
    customer_update(actor=org.manager, customer=customer, data={"grade": "B"}, version=1)

    # when rep1 saves a new remark from the stale copy (its grade field still says C)
    response = client.post(edit(customer), form_values(page, customer, remarks="我的备注"))

    # then it is refused, naming who changed what, and nothing is saved
    assert response.status_code == 409
    html = response.content.decode()
    assert 'data-testid="conflict"' in html
    assert org.manager.display_name in html
    customer.refresh_from_db()
    assert customer.remarks == "" and customer.grade == "B" and customer.version == 2
    # the form keeps the user's input, now on top of the current record (grade B)
    assert "我的备注" in html
    assert re.search(r'<option value="B" selected>', html)
    assert hidden_value(html, "version") == "2"

    # when rep1 saves again, then only their change is applied; the manager's grade stays
    response = client.post(
        edit(customer), form_values(html, customer, remarks="我的备注", grade="B")
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.remarks == "我的备注" and customer.grade == "B" and customer.version == 3


def test_an_edit_sends_only_changed_fields_and_never_reverts_anothers_change(client, org):
    # given rep1 opened the form, then the manager changed the grade
    customer = customer_make(owner=org.rep1, grade="C")
    client = logged_in(client, org.rep1)
    page = client.get(edit(customer)).content.decode()
    customer_update(actor=org.manager, customer=customer, data={"grade": "A"}, version=1)

    # when rep1 also changed the grade (to B): a true conflict, shown side by side
    response = client.post(edit(customer), form_values(page, customer, grade="B"))
    html = response.content.decode()
    assert response.status_code == 409
    assert "you both changed it" in html
    customer.refresh_from_db()
    assert customer.grade == "A"


def test_edit_with_a_forged_original_is_treated_as_changing_every_field(client, org):
    customer = customer_make(owner=org.rep1, grade="C")
    client = logged_in(client, org.rep1)
    payload = edit_payload(customer, remarks="x", original="forged")
    assert client.post(edit(customer), payload).status_code == 302
    customer.refresh_from_db()
    assert customer.remarks == "x"


# --- delete, restore, transfer --------------------------------------------------------------


def test_delete_moves_to_recycle_bin_and_restore_brings_it_back(client, org):
    customer = customer_make(owner=org.rep1)
    client = logged_in(client, org.manager)

    response = client.post(reverse("customers:delete", args=[customer.pk]), {"version": 1})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.deleted_at is not None and customer.deleted_by == org.manager
    assert customer.name not in names_in(client.get(LIST).content.decode())
    assert client.get(detail(customer)).status_code == 404

    html = client.get(BIN).content.decode()
    assert customer.name in html and "30 days" in html and org.manager.display_name in html

    response = client.post(reverse("customers:restore", args=[customer.pk]))
    assert response.status_code == 302 and response["Location"] == detail(customer)
    customer.refresh_from_db()
    assert customer.deleted_at is None
    assert customer.name in names_in(client.get(LIST).content.decode())


def test_rep_may_not_delete_or_open_the_recycle_bin(client, org):
    customer = customer_make(owner=org.rep1)
    client = logged_in(client, org.rep1)

    response = client.post(reverse("customers:delete", args=[customer.pk]), {"version": 1})
    assert response.status_code == 403
    assert 'data-testid="error-403"' in response.content.decode()
    customer.refresh_from_db()
    assert customer.deleted_at is None
    assert client.get(BIN).status_code == 403
    # and the page offers no delete button
    assert 'data-testid="delete"' not in client.get(detail(customer)).content.decode()


def test_recycle_bin_lists_only_deleted_customers_in_scope(client, org):
    mine = customer_make(owner=org.rep1, name="本组已删科技有限公司")
    theirs = customer_make(owner=org.rep3, name="他组已删科技有限公司")
    customer_delete(actor=org.admin, customer=mine)
    customer_delete(actor=org.admin, customer=theirs)
    html = logged_in(client, org.manager).get(BIN).content.decode()
    assert mine.name in html and theirs.name not in html
    # a restore of a record outside the scope is a 404
    assert client.post(reverse("customers:restore", args=[theirs.pk])).status_code == 404


def test_delete_from_a_stale_page_is_refused(client, org):
    customer = customer_make(owner=org.rep1)
    customer_update(actor=org.rep1, customer=customer, data={"grade": "A"}, version=1)
    client = logged_in(client, org.manager)
    response = client.post(reverse("customers:delete", args=[customer.pk]), {"version": 1})
    assert response.status_code == 302 and response["Location"] == detail(customer)
    customer.refresh_from_db()
    assert customer.deleted_at is None


def test_a_second_delete_from_the_same_page_gets_a_message_not_a_404(client, org):
    """Issue 5 §1: the delete form sends the version it showed; a second click (or a
    colleague's) from the same page is refused by the version check and told why."""
    customer = customer_make(owner=org.rep1)
    client = logged_in(client, org.manager)
    url = reverse("customers:delete", args=[customer.pk])
    assert client.post(url, {"version": 1}).status_code == 302

    response = client.post(url, {"version": 1}, follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert org.manager.display_name in response.content.decode()  # who deleted it, and when
    assert AuditEntry.objects.filter(object_id=customer.pk, action="delete").count() == 1


def test_the_recycle_bin_restore_sends_the_version_it_showed(client, org):
    """Given the bin listed a customer, when someone restored and deleted it again since,
    then restoring from the old page is refused with a message and nothing changes."""
    customer = customer_make(owner=org.rep1)
    shown = customer_delete(actor=org.manager, customer=customer).version
    client = logged_in(client, org.manager)
    html = client.get(BIN).content.decode()
    assert f'name="version" value="{shown}"' in html

    customer_restore(actor=org.admin, customer=customer, version=shown)
    customer_delete(actor=org.admin, customer=customer)
    response = client.post(
        reverse("customers:restore", args=[customer.pk]), {"version": shown}, follow=True
    )
    assert response.redirect_chain[-1][0] == BIN
    assert org.admin.display_name in response.content.decode()
    customer.refresh_from_db()
    assert customer.deleted_at is not None


def test_manager_transfers_a_customer_within_the_team(client, org):
    customer = customer_make(owner=org.rep1)
    client = logged_in(client, org.manager)
    html = client.get(detail(customer)).content.decode()
    assert reverse("customers:transfer", args=[customer.pk]) in html

    response = client.post(
        reverse("customers:transfer", args=[customer.pk]), {"to_user": org.rep2.pk}
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.owner == org.rep2
    assert AuditEntry.objects.filter(action="transfer", object_id=customer.pk).exists()

    # a user outside the manager's scope cannot be chosen
    client.post(reverse("customers:transfer", args=[customer.pk]), {"to_user": org.rep3.pk})
    customer.refresh_from_db()
    assert customer.owner == org.rep2


def test_rep_cannot_transfer(client, org):
    customer = customer_make(owner=org.rep1)
    client = logged_in(client, org.rep1)
    assert (
        reverse("customers:transfer", args=[customer.pk])
        not in client.get(detail(customer)).content.decode()
    )
    response = client.post(
        reverse("customers:transfer", args=[customer.pk]), {"to_user": org.rep1.pk}
    )
    assert response.status_code == 403


# --- contacts inline (HTMX) -----------------------------------------------------------------


def test_contacts_inline_add_edit_set_primary_and_delete(client, org):
    customer = customer_make(
        owner=org.rep1, contacts=[{"name": "赵六", "phone": "13911112222", "is_primary": True}]
    )
    client = logged_in(client, org.rep1)
    hx = {"HTTP_HX_REQUEST": "true"}
    new_url = reverse("customers:contact_create", args=[customer.pk])

    # the "add" button fetches an empty inline form
    html = client.get(new_url, **hx).content.decode()
    assert 'data-testid="contact-new-form"' in html and "<html" not in html

    # a bad phone comes back as the form with the error beside the field, nothing saved
    response = client.post(new_url, {"new-name": "钱七", "new-phone": "12"}, **hx)
    assert response.status_code == 422
    html = response.content.decode()
    assert "Enter a valid phone number" in html and 'value="钱七"' in html
    assert customer.contacts.count() == 1

    # a good one is added and the whole contacts section comes back
    response = client.post(
        new_url, {"new-name": "钱七", "new-title": "财务", "new-phone": "13922223333"}, **hx
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#contacts"
    assert "钱七" in response.content.decode()
    added = customer.contacts.get(name="钱七")

    # edit it inline
    edit_url = reverse("customers:contact_edit", args=[customer.pk, added.pk])
    html = client.get(edit_url, **hx).content.decode()
    assert 'data-testid="contact-edit-form"' in html and 'value="13922223333"' in html
    response = client.post(
        edit_url,
        {
            f"c{added.pk}-name": "钱七",
            f"c{added.pk}-title": "财务总监",
            f"c{added.pk}-phone": "13922223333",
        },
        **hx,
    )
    assert response.status_code == 200
    added.refresh_from_db()
    assert added.title == "财务总监"

    # make it primary
    client.post(reverse("customers:contact_primary", args=[customer.pk, added.pk]), **hx)
    added.refresh_from_db()
    assert added.is_primary and customer.contacts.filter(is_primary=True).count() == 1

    # delete the other one
    other = customer.contacts.get(name="赵六")
    response = client.post(reverse("customers:contact_delete", args=[customer.pk, other.pk]), **hx)
    assert response.status_code == 200 and "赵六" not in response.content.decode()
    assert list(customer.contacts.values_list("name", flat=True)) == ["钱七"]

    # the history tab tells the story
    html = client.get(detail(customer), {"tab": "history"}).content.decode()
    assert "Contact added" in html and "Contact removed" in html and "财务总监" in html


def test_the_last_contact_of_an_enterprise_cannot_be_deleted(client, org):
    customer = customer_make(owner=org.rep1)
    only = customer.contacts.get()
    response = logged_in(client, org.rep1).post(
        reverse("customers:contact_delete", args=[customer.pk, only.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    assert "at least one contact" in response.content.decode()
    assert customer.contacts.count() == 1


def test_contact_of_another_customer_is_404(client, org):
    mine = customer_make(owner=org.rep1)
    other = customer_make(owner=org.rep2)
    their_contact = other.contacts.get()
    client = logged_in(client, org.rep1)
    # through another rep's customer, or smuggled under my own customer's URL
    url = reverse("customers:contact_edit", args=[other.pk, their_contact.pk])
    assert client.get(url).status_code == 404
    url = reverse("customers:contact_edit", args=[mine.pk, their_contact.pk])
    assert client.get(url).status_code == 404
    url = reverse("customers:contact_delete", args=[mine.pk, their_contact.pk])
    assert client.post(url).status_code == 404
    assert Contact.objects.filter(pk=their_contact.pk).exists()


def test_contacts_without_javascript_fall_back_to_whole_pages(client, org):
    customer = customer_make(owner=org.rep1)
    client = logged_in(client, org.rep1)
    new_url = reverse("customers:contact_create", args=[customer.pk])
    html = client.get(new_url).content.decode()
    assert "<html" in html and 'data-testid="contact-new-form"' in html
    response = client.post(new_url, {"new-name": "孙八", "new-phone": "13933334444"})
    assert response.status_code == 302
    assert response["Location"] == detail(customer) + "?tab=contacts"


# --- language -------------------------------------------------------------------------------


def test_pages_render_in_english(client, org):
    customer = customer_make(owner=org.rep1, industry="finance")
    client = logged_in(client, org.rep1)
    client.cookies["django_language"] = "en"
    for url in (LIST, CREATE, detail(customer), detail(customer) + "?tab=history", edit(customer)):
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 200, url
        assert '<html lang="en">' in html
    assert "Finance" in client.get(detail(customer)).content.decode()


def test_pages_render_in_chinese_by_default(client, org, settings):
    settings.LANGUAGE_CODE = "zh-hans"  # the project's default, undoing this module's override
    customer = customer_make(owner=org.rep1, industry="finance")
    html = logged_in(client, org.rep1).get(detail(customer)).content.decode()
    assert '<html lang="zh-hans">' in html and "金融" in html


def test_inline_action_refused_by_permission_shows_a_notice(client, org):
    # given finance may read customers but not edit them
    customer = customer_make(owner=org.rep1)
    url = reverse("customers:contact_create", args=[customer.pk])

    # when finance tries to add a contact through the inline form
    response = logged_in(client, org.finance).post(
        url, {"new-name": "钱七", "new-phone": "13922223333"}, HTTP_HX_REQUEST="true"
    )

    # then a 403 notice is sent to the page's main area, and nothing is saved
    assert response.status_code == 403
    assert response["HX-Retarget"] == "#content"
    assert 'data-testid="error-403"' in response.content.decode()
    assert customer.contacts.count() == 1


def test_saving_an_unchanged_form_changes_nothing(client, org):
    customer = customer_make(owner=org.rep1)
    client = logged_in(client, org.rep1)
    page = client.get(edit(customer)).content.decode()
    response = client.post(edit(customer), form_values(page, customer), follow=True)
    assert "Nothing was changed." in response.content.decode()
    customer.refresh_from_db()
    assert customer.version == 1
    assert not AuditEntry.objects.filter(action="update", object_id=customer.pk).exists()


def test_edit_keeps_a_list_value_retired_since(client, org):
    from crm.core.dictionaries import dictionaries_clear_cache
    from crm.core.models import DictionaryItem

    # given a customer in an industry the administrator has since retired
    customer = customer_make(owner=org.rep1, industry="energy")
    DictionaryItem.objects.filter(kind="industry", code="energy").update(is_active=False)
    dictionaries_clear_cache()
    client = logged_in(client, org.rep1)

    # when the form is opened, then the current value is still selected
    page = client.get(edit(customer)).content.decode()
    assert re.search(r'<option value="energy" selected>', page)
    # and saving another change keeps it
    response = client.post(
        edit(customer), form_values(page, customer, industry="energy", remarks="y")
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.industry == "energy" and customer.remarks == "y"
