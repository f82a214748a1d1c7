"""The customer page's timeline tab (CUS-11) and the recent activity beside the details."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.core.models import TimelineEntry
from crm.customers import views as customer_views
from crm.customers.services import customer_transfer, customer_update
from crm.tests_support.factories import customer_make
from crm.tests_support.timeline import kinds_registered, timeline_line_make

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 1, 1, 30, tzinfo=dt.UTC)  # 09:30 in Shanghai


@pytest.fixture(autouse=True)
def _english_interface(settings):
    settings.LANGUAGE_CODE = "en"


def timeline(customer, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"tab": "timeline", **params}.items())
    return reverse("customers:detail", args=[customer.pk]) + "?" + query


def lines_in(html: str) -> list[str]:
    return re.findall(r'data-testid="timeline-line" data-kind="([a-z_]+)"', html)


def test_the_timeline_tab_lists_lines_newest_first_with_actor_and_local_time(client, org):
    # given a customer created, edited and transferred
    customer = customer_make(owner=org.rep1, grade="B")
    customer_update(actor=org.rep1, customer=customer, data={"grade": "A"}, version=1)
    customer_transfer(actor=org.manager, customer=customer, to_user=org.rep2)
    TimelineEntry.objects.filter(customer_id=customer.pk, kind="created").update(at=T0)
    # when the manager opens the timeline tab
    client.force_login(org.manager)
    response = client.get(timeline(customer))
    html = response.content.decode()
    # then the three lines are there, newest first, with who and when (company time)
    assert response.status_code == 200
    assert lines_in(html) == ["transfer", "field_change", "created"]
    assert "Transferred the customer from 李明 to 张芳" in html
    assert org.manager.display_name in html
    assert "2026-03-01 09:30" in html
    assert 'class="tl-icon"' in html and "<svg" in html
    assert 'aria-current="page">Timeline</a>' in html


def test_the_kind_chips_filter_and_toggle(client, org):
    customer = customer_make(owner=org.rep1)
    customer_update(actor=org.rep1, customer=customer, data={"grade": "A"}, version=1)
    client.force_login(org.rep1)
    html = client.get(timeline(customer, kind="field_change")).content.decode()
    assert lines_in(html) == ["field_change"]
    # the active chip switches itself off; another one adds its kind
    chip = re.search(r'<a class="chip active" href="([^"]+)"[^>]*data-kind="field_change"', html)
    assert chip and "kind=" not in chip.group(1)
    created = re.search(r'<a class="chip" href="([^"]+)"[^>]*data-kind="created"', html)
    both = client.get(created.group(1).replace("&amp;", "&")).content.decode()
    assert lines_in(both) == ["field_change", "created"]
    # unknown kinds in the address are ignored, not an error
    assert lines_in(client.get(timeline(customer, kind="nope")).content.decode()) == [
        "field_change",
        "created",
    ]


def test_a_filter_with_nothing_to_show_says_so(client, org):
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep1)
    html = client.get(timeline(customer, kind="transfer")).content.decode()
    assert lines_in(html) == [] and "Nothing of these kinds" in html


def test_an_htmx_request_gets_only_the_tab_body(client, org):
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep1)
    response = client.get(
        timeline(customer, kind="created"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="tab-body"
    )
    html = response.content.decode()
    assert "<html" not in html and lines_in(html) == ["created"]
    assert "HX-Request" in response["Vary"]


def test_older_and_newer_pages(client, org):
    customer = customer_make(owner=org.rep1)
    TimelineEntry.objects.filter(customer_id=customer.pk).update(at=T0)  # the oldest line
    with kinds_registered(("t_note", "customers")):
        for i in range(31):
            timeline_line_make(
                customer=customer,
                kind="t_note",
                at=T0 + dt.timedelta(hours=i + 1),
                data={"note": f"n{i}"},
            )
        client.force_login(org.rep1)
        first = client.get(timeline(customer)).content.decode()
        assert len(lines_in(first)) == 30 and "t_note: n30" in first
        older = re.search(r'href="([^"]+)"[^>]*data-testid="timeline-older"', first).group(1)
        second = client.get(older.replace("&amp;", "&")).content.decode()
    assert lines_in(second) == ["t_note", "created"]
    assert 'data-testid="timeline-newer"' in second and 'data-testid="timeline-older"' not in second


def test_a_colleagues_line_in_another_module_is_not_on_the_reps_timeline(client, org):
    customer = customer_make(owner=org.rep1)
    with kinds_registered(("t_opp", "opportunities")):
        timeline_line_make(customer=customer, kind="t_opp", owner=org.rep2, data={"note": "x"})
        client.force_login(org.rep1)
        rep = client.get(timeline(customer)).content.decode()
        client.force_login(org.manager)
        manager = client.get(timeline(customer)).content.decode()
    assert "t_opp: x" not in rep and "t_opp: x" in manager


def test_a_customer_outside_the_scope_is_not_found(client, org):
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep3)
    assert client.get(timeline(customer)).status_code == 404


def test_phone_numbers_on_the_timeline_are_masked_without_view_contact(client, org):
    customer = customer_make(owner=org.rep1, phone="13800001111")
    customer_update(actor=org.rep1, customer=customer, data={"phone": "13912345678"}, version=1)
    client.force_login(org.finance)
    html = client.get(timeline(customer)).content.decode()
    assert "139****5678" in html and "13912345678" not in html


def test_a_line_links_to_its_record_when_that_page_exists(client, org, monkeypatch):
    customer = customer_make(owner=org.rep1)
    other = customer_make(owner=org.rep1)
    monkeypatch.setattr(
        customer_views,
        "TIMELINE_OBJECT_URLS",
        {"opportunity": "customers:detail", "followup": "nowhere:detail"},
    )
    with kinds_registered(("t_opp", "opportunities")):
        timeline_line_make(
            customer=customer, kind="t_opp", object_type="opportunity", object_id=other.pk
        )
        timeline_line_make(customer=customer, kind="t_opp", object_type="followup", object_id=3)
        client.force_login(org.rep1)
        html = client.get(timeline(customer)).content.decode()
    assert f'<a href="/customers/{other.pk}/">t_opp: </a>' in html
    assert html.count('<div class="tl-text">t_opp: </div>') == 1  # no page: no link


def test_the_details_tab_shows_the_recent_activity(client, org):
    customer = customer_make(owner=org.rep1)
    for i in range(6):
        customer_update(actor=org.rep1, customer=customer, data={"remarks": f"r{i}"}, version=i + 1)
    client.force_login(org.rep1)
    html = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    recent = html.split('data-testid="recent-activity"', 1)[1]
    assert len(lines_in(recent)) == 5
    assert "See the whole timeline" in recent


def test_the_tab_costs_the_same_queries_for_1_and_for_30_lines(client, org):
    customer = customer_make(owner=org.rep1)
    client.force_login(org.manager)
    client.get(timeline(customer))  # warm the caches, as in a running app
    with CaptureQueriesContext(connection) as one:
        assert len(lines_in(client.get(timeline(customer)).content.decode())) == 1
    actors = [org.rep1, org.manager, org.admin]
    for i in range(29):
        customer_update(
            actor=actors[i % 3], customer=customer, data={"remarks": f"第{i}次"}, version=i + 1
        )
    with CaptureQueriesContext(connection) as thirty:
        assert len(lines_in(client.get(timeline(customer)).content.decode())) == 30
    assert len(thirty) == len(one)
