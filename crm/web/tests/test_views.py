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
