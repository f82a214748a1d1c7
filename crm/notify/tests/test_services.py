"""Notifications (issue 6 §5): each person reads and marks only their own; the bell's count is
one bounded query."""

from __future__ import annotations

import pytest

from crm.core.errors import NotFoundError
from crm.notify.models import Notification
from crm.notify.selectors import (
    notification_get,
    notifications_for,
    safe_link,
    unread_badge,
    unread_count,
)
from crm.notify.services import (
    channel_register,
    notification_mark_read,
    notification_send,
    notifications_mark_all_read,
)
from crm.tests_support.notify import notification_make

pytestmark = pytest.mark.django_db


def test_a_user_reads_only_their_own_newest_first(org):
    first = notification_make(recipient=org.rep1, text="一")
    second = notification_make(recipient=org.rep1, text="二", read=True)
    notification_make(recipient=org.rep2, text="别人的")
    assert list(notifications_for(user=org.rep1)) == [second, first]
    assert list(notifications_for(user=org.rep1, unread=True)) == [first]


def test_marking_someone_elses_notification_is_not_found(org):
    note = notification_make(recipient=org.rep1)
    with pytest.raises(NotFoundError):
        notification_get(user=org.rep2, notification_id=note.pk)
    with pytest.raises(NotFoundError):
        notification_mark_read(actor=org.admin, notification=note)
    note.refresh_from_db()
    assert note.is_read is False


def test_mark_read_and_mark_all_read(org):
    a, b = notification_make(recipient=org.rep1), notification_make(recipient=org.rep1)
    other = notification_make(recipient=org.rep2)
    marked = notification_mark_read(actor=org.rep1, notification=a)
    assert marked.is_read and marked.read_at is not None
    assert notifications_mark_all_read(actor=org.rep1) == 1
    assert notifications_mark_all_read(actor=org.rep1) == 0
    b.refresh_from_db()
    other.refresh_from_db()
    assert b.is_read and not other.is_read


def test_the_unread_count_is_one_bounded_query(org, django_assert_num_queries):
    Notification.objects.bulk_create(
        Notification(recipient=org.rep1, kind="x", text=f"n{i}") for i in range(105)
    )
    with django_assert_num_queries(1) as ctx:
        assert unread_count(user=org.rep1) == 100
    assert "LIMIT 100" in ctx.captured_queries[0]["sql"]
    assert unread_badge(100) == "99+" and unread_badge(99) == "99" and unread_badge(0) == ""


def test_only_same_site_links_are_followed():
    assert safe_link("/followups/12/") == "/followups/12/"
    for bad in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/\\evil", ""):
        assert safe_link(bad) == ""


def test_other_channels_get_each_new_notification_after_commit(
    org, monkeypatch, django_capture_on_commit_callbacks
):
    from crm.notify import services

    delivered = []
    monkeypatch.setattr(services, "_CHANNELS", {})
    channel_register("test", delivered.append)
    with django_capture_on_commit_callbacks(execute=True):
        note = notification_send(recipient=org.rep1, kind="x", text="t", dedup_key="k")
        again = notification_send(recipient=org.rep1, kind="x", text="t", dedup_key="k")
    assert delivered == [note] and again is None
