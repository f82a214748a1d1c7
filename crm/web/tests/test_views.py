"""The home dashboard shows the viewer's own figures (SYS-5) with a fixed number of queries."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.tests_support.factories import customer_make


def test_dashboard_counts_only_customers_in_the_viewers_scope(client, org):
    # given two customers of rep1 (one grade A) and one of rep3
    customer_make(owner=org.rep1, grade="A")
    customer_make(owner=org.rep1, grade="B")
    customer_make(owner=org.rep3, grade="A")

    # when rep1 and then the executive open the dashboard
    client.force_login(org.rep1)
    rep_figures = client.get("/").context["figures"]
    client.force_login(org.exec)
    exec_figures = client.get("/").context["figures"]

    # then each sees the figures of their own scope
    assert (rep_figures["total"], rep_figures["grade_a"]) == (2, 1)
    assert (exec_figures["total"], exec_figures["grade_a"]) == (3, 2)
    assert rep_figures["new_this_month"] == 2


def test_dashboard_query_count_does_not_grow_with_customers(client, org):
    client.force_login(org.admin)
    client.get("/")  # the process's first request parses the configuration (a constant)
    counts = []
    for batch in (1, 20):
        for _ in range(batch):
            customer_make(owner=org.rep1)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_user_without_customer_access_gets_a_welcome_not_figures(client, org):
    from crm.tests_support.factories import UserFactory

    nobody = UserFactory()
    client.force_login(nobody)
    response = client.get("/")
    assert response.status_code == 200
    assert "figures" not in response.context


def test_dashboard_shows_new_customers_per_month_within_the_viewers_scope(client, org):
    """The monthly chart (issue 5 §4) counts by the company's calendar months, the viewer's
    customers only, with empty months shown as zero."""
    import datetime as dt

    from django.utils import timezone

    from crm.customers.models import Customer
    from crm.customers.selectors import customers_created_by_month

    tz = timezone.get_default_timezone()
    now = timezone.localtime(timezone.now(), tz)
    first_of_month = now.replace(day=1, hour=0, minute=30, second=0, microsecond=0)
    # given a customer of rep1 created at 00:30 on the first of this month (still last month
    # in UTC), one of rep1 created about three months ago, and one of rep3 this month
    this_month = customer_make(owner=org.rep1)
    older = customer_make(owner=org.rep1)
    customer_make(owner=org.rep3)
    Customer.objects.filter(pk=this_month.pk).update(created_at=first_of_month)
    Customer.objects.filter(pk=older.pk).update(created_at=now - dt.timedelta(days=92))

    months = customers_created_by_month(user=org.rep1, months=12)

    assert len(months) == 12 and months[-1]["month"] == now.date().replace(day=1)
    assert months[-1]["count"] == 1  # rep3's customer is not in rep1's scope
    assert sum(m["count"] for m in months) == 2
    assert months[-1 - 3]["count"] + months[-1 - 2]["count"] == 1
    client.force_login(org.rep1)
    chart = client.get("/").context["growth_chart"]
    assert chart["data"] == [m["count"] for m in months]
