"""The bell and the notifications page (issue 6 §5)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.notify.models import Notification
from crm.tests_support.factories import customer_make
from crm.tests_support.notify import notification_make

pytestmark = pytest.mark.django_db
LIST = reverse("notify:list")


def test_the_bell_shows_the_unread_count_on_every_page(client, org):
    for _ in range(3):
        notification_make(recipient=org.rep1)
    notification_make(recipient=org.rep1, read=True)
    client.force_login(org.rep1)
    html = client.get(reverse("home")).content.decode()
    assert 'data-testid="notify-bell"' in html
    assert '<span class="notify-count" data-testid="notify-count">3</span>' in html


def test_the_bell_says_99_plus_beyond_99(client, org):
    Notification.objects.bulk_create(
        Notification(recipient=org.rep1, kind="x", text="n") for _ in range(120)
    )
    client.force_login(org.rep1)
    assert 'data-testid="notify-count">99+<' in client.get(reverse("home")).content.decode()


def test_the_bell_costs_one_query_per_page(client, org):
    """The customer list with and without the bell's count: exactly one query more, the
    bounded count on the unread index (the list's other counts are unchanged)."""
    customer_make(owner=org.rep1)
    client.force_login(org.rep1)
    url = reverse("customers:list")
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    bell = [q for q in ctx.captured_queries if "notify_notification" in q["sql"]]
    assert len(bell) == 1 and "LIMIT 100" in bell[0]["sql"]


def test_htmx_partials_do_not_count(client, org):
    client.force_login(org.rep1)
    with CaptureQueriesContext(connection) as ctx:
        client.get(
            reverse("customers:list"), headers={"HX-Request": "true", "HX-Target": "results"}
        )
    assert not [q for q in ctx.captured_queries if "notify_notification" in q["sql"]]


def test_the_page_lists_all_or_unread(client, org):
    notification_make(recipient=org.rep1, text="未读的提醒")
    notification_make(recipient=org.rep1, text="已读的提醒", read=True)
    notification_make(recipient=org.rep2, text="别人的提醒")
    client.force_login(org.rep1)
    html = client.get(LIST).content.decode()
    assert "未读的提醒" in html and "已读的提醒" in html and "别人的提醒" not in html
    html = client.get(LIST + "?show=unread").content.decode()
    assert "未读的提醒" in html and "已读的提醒" not in html


def test_the_page_query_count_does_not_grow_with_rows(client, org):
    client.force_login(org.rep1)
    counts = []
    for total in (1, 20):
        while Notification.objects.filter(recipient=org.rep1).count() < total:
            notification_make(recipient=org.rep1)
        client.get(LIST)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(LIST)
        assert response.content.decode().count('data-testid="notification"') == total
        counts.append(len(ctx))
    assert counts[0] == counts[1]


def test_opening_marks_read_and_follows_only_same_site_links(client, org):
    inside = notification_make(recipient=org.rep1, link="/customers/")
    outside = notification_make(recipient=org.rep1, link="https://evil.example/")
    client.force_login(org.rep1)
    response = client.post(reverse("notify:open", args=[inside.pk]))
    assert response.status_code == 302 and response["Location"] == "/customers/"
    response = client.post(reverse("notify:open", args=[outside.pk]))
    assert response["Location"] == LIST
    assert not Notification.objects.filter(recipient=org.rep1, is_read=False).exists()


def test_someone_elses_notification_is_404(client, org):
    note = notification_make(recipient=org.rep2)
    client.force_login(org.rep1)
    assert client.post(reverse("notify:read", args=[note.pk])).status_code == 404
    assert client.post(reverse("notify:open", args=[note.pk])).status_code == 404
    note.refresh_from_db()
    assert not note.is_read


def test_mark_read_by_htmx_answers_the_list_and_the_bell(client, org):
    note = notification_make(recipient=org.rep1)
    notification_make(recipient=org.rep1)
    client.force_login(org.rep1)
    response = client.post(
        reverse("notify:read", args=[note.pk]),
        headers={"HX-Request": "true", "HX-Target": "notify-results"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'id="notify-bell"' in html and 'hx-swap-oob="true"' in html
    assert 'data-testid="notify-count">1<' in html


def test_mark_all_read(client, org):
    for _ in range(2):
        notification_make(recipient=org.rep1)
    client.force_login(org.rep1)
    response = client.post(reverse("notify:read_all"))
    assert response.status_code == 302 and response["Location"] == LIST
    assert not Notification.objects.filter(is_read=False).exists()
    html = client.get(LIST).content.decode()
    assert 'data-testid="notify-count"' not in html
