"""The customer merge pages (CUS-6, issue 8 §4): possible duplicates, merge with…, compare and
merge through the page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.activities.models import FollowUp
from crm.core.models import Approval, Attachment, TimelineEntry
from crm.customers.models import Contact, Customer
from crm.customers.services import customer_search_fields_refresh
from crm.sales.models import Opportunity
from crm.tests_support.activities import followup_make, opportunity_row_make
from crm.tests_support.factories import customer_make
from crm.tests_support.files import attachment_make

pytestmark = pytest.mark.django_db

DUPLICATES = reverse("customers:duplicates")


@pytest.fixture(autouse=True)
def _english_interface(settings):
    settings.LANGUAGE_CODE = "en"


def _compare(survivor, other) -> str:
    return reverse("customers:compare", args=[survivor.pk]) + f"?with={other.pk}"


def _same_name(owner, name, **fields):
    """A second customer of an existing name: the service refuses the name key, so it is
    renamed behind its back, as an import from before the duplicate rules left it."""
    row = customer_make(owner=owner, **fields)
    Customer.objects.filter(pk=row.pk).update(name=name)
    row.refresh_from_db()
    customer_search_fields_refresh(row)
    return row


def test_groups_share_a_key_and_stay_within_the_viewers_scope(org, client):
    a = customer_make(owner=org.rep1, phone="13900001111")
    b = customer_make(owner=org.rep1, phone="139 0000 1111")
    c = customer_make(owner=org.rep3, phone="13900001111")
    # rep1's and rep3's: rep1 sees only one of them, so no group for rep1.
    d = customer_make(owner=org.rep1, phone="13900002222")
    e = customer_make(owner=org.rep3, phone="13900002222")

    client.force_login(org.rep1)
    page = client.get(DUPLICATES + "?kind=phone")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="dup-group"') == 1
    assert a.number in html and b.number in html
    assert c.number not in html and d.number not in html and e.number not in html

    client.force_login(org.admin)
    html = client.get(DUPLICATES + "?kind=phone").content.decode()
    assert html.count('data-testid="dup-group"') == 2
    assert all(x.number in html for x in (a, b, c, d, e))


def test_groups_by_name_link_to_the_compare_page_and_the_list_links_here(org, client):
    first = customer_make(owner=org.rep1, name="杭州云帆信息技术有限公司")
    second = _same_name(org.rep2, "杭州云帆信息技术公司")
    client.force_login(org.manager)
    assert DUPLICATES in client.get(reverse("customers:list")).content.decode()
    html = client.get(DUPLICATES).content.decode()
    assert html.count('data-testid="dup-group"') == 1
    assert _compare(first, second).replace("&", "&amp;") in html or _compare(first, second) in html
    # The service role sees the groups, but may not merge.
    client.force_login(org.service)
    html = client.get(DUPLICATES).content.decode()
    assert 'data-testid="dup-group"' in html and 'data-testid="dup-compare"' not in html


def test_duplicates_page_queries_do_not_grow_with_groups(org, client):
    client.force_login(org.admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(DUPLICATES + "?kind=phone").status_code == 200
        return len(ctx.captured_queries)

    for n in range(2):
        customer_make(owner=org.rep1, phone=f"1380000{n:04d}")
        customer_make(owner=org.rep3, phone=f"1380000{n:04d}")
    queries()  # the session and the settings caches
    few = queries()
    for n in range(2, 12):
        customer_make(owner=org.rep1, phone=f"1380000{n:04d}")
        customer_make(owner=org.rep2, phone=f"1380000{n:04d}")
    assert queries() == few


def test_groups_are_paged_by_key_without_a_count(org, client, monkeypatch):
    monkeypatch.setattr("crm.web.merge.GROUPS_PER_PAGE", 2)
    for n in range(5):
        customer_make(owner=org.rep1, phone=f"1370000{n:04d}")
        customer_make(owner=org.rep1, phone=f"1370000{n:04d}")
    client.force_login(org.rep1)
    seen = []
    url = DUPLICATES + "?kind=phone"
    for _ in range(5):
        response = client.get(url)
        html = response.content.decode()
        seen.append(html.count('data-testid="dup-group"'))
        if 'data-testid="dup-next"' not in html:
            break
        url = DUPLICATES + "?kind=phone&after=" + html.split("after=")[-1].split('"')[0]
        print(url)
    assert seen == [2, 2, 1]


def test_merge_through_the_page_moves_every_related_row(org, client):
    survivor = customer_make(owner=org.rep1, name="杭州云帆信息技术有限公司", address="")
    other = _same_name(org.rep1, "杭州云帆信息技术公司", address="文三路 90 号", remarks="老客户")
    opportunity = opportunity_row_make(customer=other)
    followup = followup_make(customer=other)
    attachment = attachment_make(actor=org.rep1, record=other)
    approval = Approval.objects.create(
        kind="lifecycle",
        object_type="customer",
        object_id=other.pk,
        customer_id=other.pk,
        requested_by=org.rep1,
        payload={},
    )
    lines = TimelineEntry.objects.filter(customer_id=other.pk).count()
    assert lines
    client.force_login(org.manager)

    page = client.get(_compare(survivor, other))
    html = page.content.decode()
    assert page.status_code == 200
    # The survivor's empty address defaults to the other's value; its name stays.
    assert 'name="keep_address" value="other" checked' in html
    assert 'name="keep_name" value="self" checked' in html
    assert 'data-testid="merge-move"' in html

    response = client.post(
        _compare(survivor, other),
        {"version": survivor.version, "keep_name": "other", "keep_address": "other"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=[survivor.pk])
    survivor.refresh_from_db()
    assert survivor.name == "杭州云帆信息技术公司"
    assert survivor.address == "文三路 90 号"
    assert Contact.objects.filter(customer=other).count() == 0
    assert Contact.objects.filter(customer=survivor).count() == 2
    assert Opportunity.objects.get(pk=opportunity.pk).customer_id == survivor.pk
    assert FollowUp.objects.get(pk=followup.pk).customer_id == survivor.pk
    assert Attachment.objects.get(pk=attachment.pk).object_id == survivor.pk
    approval.refresh_from_db()
    assert approval.customer_id == survivor.pk and approval.object_id == survivor.pk
    assert TimelineEntry.objects.filter(customer_id=other.pk).count() == 0
    other.refresh_from_db()
    assert other.merged_into_id == survivor.pk and other.merged_at is not None
    old = client.get(reverse("customers:detail", args=[other.pk]))
    assert old.status_code == 302
    assert old["Location"] == reverse("customers:detail", args=[survivor.pk])
    history = client.get(reverse("customers:detail", args=[survivor.pk]) + "?tab=history")
    assert "merged from" in history.content.decode().lower()
    assert "moved: contacts" in history.content.decode().lower()


def test_a_stale_version_answers_409_with_the_message_and_merges_nothing(org, client):
    survivor = customer_make(owner=org.rep1, phone="13600001111")
    other = customer_make(owner=org.rep1, phone="13600001111")
    client.force_login(org.rep1)
    response = client.post(_compare(survivor, other), {"version": survivor.version - 1})
    assert response.status_code == 409
    assert 'data-testid="merge-error"' in response.content.decode()
    assert Customer.objects.get(pk=other.pk).merged_into_id is None


def test_compare_needs_edit_and_both_in_scope(org, client):
    mine = customer_make(owner=org.rep1)
    theirs = customer_make(owner=org.rep3)
    client.force_login(org.rep1)
    assert client.get(_compare(mine, theirs)).status_code == 404
    assert client.post(_compare(mine, theirs), {"version": mine.version}).status_code == 404
    assert Customer.objects.get(pk=theirs.pk).merged_into_id is None
    # Itself, or no other: back to "merge with…".
    response = client.get(_compare(mine, mine))
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:merge_pick", args=[mine.pk])
    client.force_login(org.service)
    assert client.get(_compare(mine, theirs)).status_code == 403


def test_merge_with_searches_customers_in_scope(org, client):
    mine = customer_make(owner=org.rep1, name="宁波海曙港务有限公司")
    twin = customer_make(owner=org.rep1, name="宁波海曙港务物流有限公司")
    client.force_login(org.rep1)
    detail = client.get(reverse("customers:detail", args=[mine.pk])).content.decode()
    assert reverse("customers:merge_pick", args=[mine.pk]) in detail
    html = client.get(reverse("customers:merge_pick", args=[mine.pk]) + "?q=海曙").content.decode()
    assert twin.number in html and 'data-testid="merge-pick-compare"' in html
    assert html.count('data-testid="merge-pick-row"') == 1


def test_a_merged_customers_number_still_finds_the_survivor(org, client):
    survivor = customer_make(owner=org.rep1, phone="13500001111")
    other = customer_make(owner=org.rep1, phone="13500001111")
    client.force_login(org.rep1)
    client.post(_compare(survivor, other), {"version": survivor.version})
    assert Customer.objects.get(pk=other.pk).merged_into_id == survivor.pk
    found = client.get(reverse("search") + f"?q={other.number}")
    target = reverse("customers:detail", args=[survivor.pk])
    assert (found.status_code == 302 and found["Location"] == target) or (
        target in found.content.decode()
    )
    # Outside the scope, the old number finds nothing.
    client.force_login(org.rep3)
    assert target not in client.get(reverse("search") + f"?q={other.number}").content.decode()


def test_custom_fields_compare_by_label_and_merge_as_one_choice(org, client):
    from crm.core.models import CustomField

    CustomField.objects.create(module="customers", key="wechat", label="微信号", type="text")
    survivor = customer_make(owner=org.rep1, phone="13400001111")
    other = customer_make(owner=org.rep1, phone="13400001111")
    Customer.objects.filter(pk=other.pk).update(custom={"wechat": "yunfan2026"})
    client.force_login(org.rep1)
    html = client.get(_compare(survivor, other)).content.decode()
    assert "微信号: yunfan2026" in html
    assert 'name="keep_custom" value="other" checked' in html
    response = client.post(
        _compare(survivor, other), {"version": survivor.version, "keep_custom": "other"}
    )
    assert response.status_code == 302
    survivor.refresh_from_db()
    assert survivor.custom == {"wechat": "yunfan2026"}
