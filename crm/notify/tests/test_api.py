"""The notifications API (issue 6 §6): GET /notifications (unread=1), POST
/notifications/{id}/read, POST /notifications/read-all — each caller's own only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.tests_support.api import api_as
from crm.tests_support.notify import notification_make

pytestmark = pytest.mark.django_db


def test_list_is_paginated_and_filters_unread(org):
    unread = notification_make(recipient=org.rep1, text="未读", link="/customers/1/")
    notification_make(recipient=org.rep1, text="已读", read=True)
    notification_make(recipient=org.rep2, text="别人的")
    api = api_as(org.rep1)
    body = api.get("notifications").json()
    assert [i["text"] for i in body["items"]] == ["已读", "未读"]
    assert body["unread_count"] == 1 and body["has_next"] is False and body["page"] == 1
    only = api.get("notifications", {"unread": "1"}).json()
    assert [i["id"] for i in only["items"]] == [unread.pk]
    assert only["items"][0]["link"] == "/customers/1/"
    assert api.get("notifications", {"unread": "yes"}).status_code == 422


def test_mark_read_answers_the_notification_and_others_are_404(org):
    note = notification_make(recipient=org.rep1)
    assert api_as(org.rep2).post(f"notifications/{note.pk}/read").status_code == 404
    response = api_as(org.rep1).post(f"notifications/{note.pk}/read")
    assert response.status_code == 200
    assert response.json()["is_read"] is True and response.json()["read_at"]
    assert api_as(org.rep1).post("notifications/99999999/read").status_code == 404


def test_read_all_says_how_many(org):
    for _ in range(3):
        notification_make(recipient=org.rep1)
    notification_make(recipient=org.rep2)
    assert api_as(org.rep1).post("notifications/read-all").json() == {"updated": 3}
    assert api_as(org.rep2).get("notifications", {"unread": "1"}).json()["unread_count"] == 1


def test_the_list_query_count_does_not_grow_with_rows(org):
    api = api_as(org.rep1)
    counts = []
    for total in (1, 20):
        while len(api.get("notifications").json()["items"]) < total:
            notification_make(recipient=org.rep1)
        with CaptureQueriesContext(connection) as ctx:
            assert len(api.get("notifications").json()["items"]) == total
        counts.append(len(ctx))
    assert counts[0] == counts[1]
