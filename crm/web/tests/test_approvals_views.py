"""The approvals pages, the nav badge, the customer page's "Change status" action and banner,
and Settings → Approvals (issue 7 §5)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.core.config import setting_get, setting_set
from crm.core.models import Approval
from crm.customers.lifecycle import customer_lifecycle_change
from crm.customers.models import Customer
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db
LIST = reverse("approvals:list")


def ask_lost(org, owner=None):
    customer = customer_make(owner=owner or org.rep1, status="deal")
    _c, approval = customer_lifecycle_change(
        actor=customer.owner,
        customer=customer,
        status="lost",
        reason="competitor",
        version=customer.version,
    )
    return customer, approval


def test_the_nav_shows_approvals_with_the_pending_count_for_the_approver(client, org):
    ask_lost(org)
    ask_lost(org)
    client.force_login(org.manager)
    html = client.get(reverse("home")).content.decode()
    assert f'href="{LIST}"' in html
    assert '<span class="nav-badge" data-testid="nav-badge">2</span>' in html
    client.force_login(org.rep1)
    html = client.get(reverse("home")).content.decode()
    assert f'href="{LIST}"' in html and 'data-testid="nav-badge"' not in html


def test_the_badge_is_one_query(org, rf):
    from crm.web.approvals import PendingBadge

    ask_lost(org)
    badge = PendingBadge(org.manager)
    with CaptureQueriesContext(connection) as ctx:
        assert bool(badge) and str(badge) == "1"
    assert len(ctx.captured_queries) == 1


def test_tabs_waiting_mine_all_and_the_state_filter(client, org):
    _c, waiting = ask_lost(org)
    _c, withdrawn = ask_lost(org)
    from crm.core.approvals import approval_withdraw

    approval_withdraw(actor=org.rep1, approval=withdrawn)
    client.force_login(org.manager)
    html = client.get(LIST).content.decode()
    assert html.count('data-testid="approval-row"') == 1
    assert reverse("approvals:detail", args=[waiting.pk]) in html
    html = client.get(LIST + "?tab=all").content.decode()
    assert html.count('data-testid="approval-row"') == 2
    html = client.get(LIST + "?tab=all&state=withdrawn").content.decode()
    assert html.count('data-testid="approval-row"') == 1
    client.force_login(org.rep1)
    html = client.get(LIST + "?tab=mine").content.decode()
    assert html.count('data-testid="approval-row"') == 2
    client.force_login(org.rep2)
    html = client.get(LIST + "?tab=all").content.decode()
    assert 'data-testid="approvals-empty"' in html
    # nonsense parameters fall back to the defaults
    assert client.get(LIST + "?tab=zzz&state=zzz&page=x").status_code == 200


def test_the_list_page_costs_the_same_queries_for_one_row_or_many(client, org):
    ask_lost(org)
    client.force_login(org.manager)
    client.get(LIST + "?tab=all")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(LIST + "?tab=all").status_code == 200
        return len(ctx.captured_queries)

    one = queries()
    for _ in range(5):
        ask_lost(org, owner=org.rep2)
    many = queries()
    assert many == one


def test_approve_from_the_page_applies_and_redirects(client, org):
    customer, approval = ask_lost(org)
    client.force_login(org.manager)
    html = client.get(reverse("approvals:detail", args=[approval.pk])).content.decode()
    assert 'data-testid="approve"' in html and 'data-testid="withdraw"' not in html
    response = client.post(reverse("approvals:approve", args=[approval.pk]), {"comment": "好"})
    assert response.status_code == 302
    assert Customer.objects.get(pk=customer.pk).status == "lost"
    html = client.get(reverse("approvals:detail", args=[approval.pk])).content.decode()
    assert 'data-testid="approve"' not in html


def test_reject_without_a_comment_says_why_and_stays_pending(client, org):
    _customer, approval = ask_lost(org)
    client.force_login(org.manager)
    response = client.post(reverse("approvals:reject", args=[approval.pk]), {"comment": ""})
    assert response.status_code == 422
    assert 'data-testid="approval-error"' in response.content.decode()
    assert Approval.objects.get(pk=approval.pk).state == "pending"


def test_a_non_approver_gets_403_and_the_requester_withdraws(client, org):
    _customer, approval = ask_lost(org)
    client.force_login(org.rep1)
    html = client.get(reverse("approvals:detail", args=[approval.pk])).content.decode()
    assert 'data-testid="approve"' not in html and 'data-testid="withdraw"' in html
    assert client.post(reverse("approvals:approve", args=[approval.pk])).status_code == 403
    assert client.post(reverse("approvals:withdraw", args=[approval.pk])).status_code == 302
    assert Approval.objects.get(pk=approval.pk).state == "withdrawn"
    client.force_login(org.rep3)
    assert client.get(reverse("approvals:detail", args=[approval.pk])).status_code == 404


def test_the_customer_page_changes_status_and_shows_the_pending_banner(client, org):
    customer = customer_make(owner=org.rep1, status="deal")
    client.force_login(org.rep1)
    detail = reverse("customers:detail", args=[customer.pk])
    html = client.get(detail).content.decode()
    assert 'data-testid="lifecycle"' in html and 'data-testid="approval-banner"' not in html
    response = client.post(
        reverse("customers:lifecycle", args=[customer.pk]),
        {"status": "lost", "reason": "competitor", "version": customer.version},
    )
    assert response.status_code == 302
    html = client.get(detail).content.decode()
    assert 'data-testid="approval-banner"' in html and 'data-testid="lifecycle"' not in html
    assert Customer.objects.get(pk=customer.pk).status == "deal"


def test_the_customer_page_applies_a_free_transition_and_reports_a_bad_one(client, org):
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep1)
    url = reverse("customers:lifecycle", args=[customer.pk])
    client.post(url, {"status": "lost", "version": customer.version})  # no reason
    assert Customer.objects.get(pk=customer.pk).status == "potential"
    client.post(url, {"status": "intent", "version": customer.version})
    assert Customer.objects.get(pk=customer.pk).status == "intent"
    client.force_login(org.service)
    assert client.post(url, {"status": "deal", "version": 2}).status_code == 403


def test_the_edit_form_no_longer_changes_the_status(client, org):
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep1)
    html = client.get(reverse("customers:edit", args=[customer.pk])).content.decode()
    import re

    select = re.search(r'<select[^>]*name="status"[^>]*>', html).group(0)
    assert "disabled" in select
    # a tampered form that sends another status is refused with the pointer to the action
    from crm.core.errors import ValidationFailed
    from crm.customers.services import customer_update

    with pytest.raises(ValidationFailed):
        customer_update(actor=org.rep1, customer=customer, data={"status": "deal"}, version=1)


def test_settings_page_sets_the_transitions(client, org):
    url = reverse("approvals_settings")
    client.force_login(org.rep1)
    assert client.get(url).status_code == 403
    client.force_login(org.admin)
    html = client.get(url).content.decode()
    assert 'data-testid="transition-deal:lost"' in html
    response = client.post(url, {"transition": ["deal:lost", "intent:lost"]})
    assert response.status_code == 302
    assert setting_get("lifecycle_approval") == ["deal:lost", "intent:lost"]
    response = client.post(url, {"transition": ["deal:zzz"]})
    assert response.status_code == 422
    assert setting_get("lifecycle_approval") == ["deal:lost", "intent:lost"]
    response = client.post(url, {})
    assert response.status_code == 302 and setting_get("lifecycle_approval") == []
    setting_set(key="lifecycle_approval", value=["deal:lost"])
