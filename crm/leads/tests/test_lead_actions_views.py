"""The lead actions in the UI (LEAD-4; namespace lead_actions): the assign dialog, the bulk bar,
the convert page, disqualify and requalify."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse

from crm.customers.models import Customer
from crm.leads.models import Lead
from crm.notify.models import Notification
from crm.tests_support.factories import customer_make
from crm.tests_support.lead_rules import rule_make
from crm.tests_support.leads import lead_make

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _state(lead: Lead) -> Lead:
    lead.refresh_from_db()
    return lead


# --- assign ----------------------------------------------------------------------------------


def test_the_assign_dialog_gives_the_lead_to_the_chosen_user(org):
    lead = lead_make()
    response = _client(org.manager).post(
        reverse("lead_actions:assign", args=[lead.pk]), {"owner_id": org.rep1.pk}
    )
    assert response.status_code == 302
    assert _state(lead).owner == org.rep1
    assert Notification.objects.filter(recipient=org.rep1, kind="lead_assigned").exists()


def test_the_assign_dialog_can_ask_the_rules(org):
    lead = lead_make()
    rule_make(user=org.rep2)
    _client(org.admin).post(reverse("lead_actions:assign", args=[lead.pk]), {"by_rules": "1"})
    assert _state(lead).owner == org.rep2


def test_a_refused_owner_is_a_message_not_a_change(org):
    lead = lead_make()
    client = _client(org.admin)
    response = client.post(
        reverse("lead_actions:assign", args=[lead.pk]), {"owner_id": org.finance.pk}, follow=True
    )
    assert _state(lead).owner is None
    assert any("leads" in str(m) or "线索" in str(m) for m in response.context["messages"])


def test_reps_cannot_assign_and_others_leads_are_not_found(org):
    lead = lead_make(owner=org.rep1)
    rep = _client(org.rep1)
    assert (
        rep.post(
            reverse("lead_actions:assign", args=[lead.pk]), {"owner_id": org.rep2.pk}
        ).status_code
        == 403
    )
    theirs = lead_make(owner=org.rep3)
    response = _client(org.manager).post(
        reverse("lead_actions:assign", args=[theirs.pk]), {"owner_id": org.rep1.pk}
    )
    assert response.status_code == 404
    assert _state(theirs).owner == org.rep3


def test_the_bulk_bar_assigns_to_a_user_or_by_the_rules(org):
    leads = [lead_make() for _ in range(3)]
    client = _client(org.admin)
    response = client.post(
        reverse("lead_actions:bulk_assign"),
        {"ids": [x.pk for x in leads[:2]], "owner_id": org.rep1.pk, "action": "assign"},
    )
    assert response.status_code == 302
    assert [_state(x).owner for x in leads] == [org.rep1, org.rep1, None]
    rule_make(user=org.rep3)
    client.post(
        reverse("lead_actions:bulk_assign"),
        {"ids": [x.pk for x in leads], "action": "assign_rules"},
    )
    # The rules give the unassigned lead an owner; the worked ones keep theirs.
    assert [_state(x).owner for x in leads] == [org.rep1, org.rep1, org.rep3]


def test_the_bulk_bar_without_an_owner_or_selection_changes_nothing(org):
    lead = lead_make()
    client = _client(org.admin)
    client.post(reverse("lead_actions:bulk_assign"), {"ids": [lead.pk], "action": "assign"})
    client.post(reverse("lead_actions:bulk_assign"), {"owner_id": org.rep1.pk, "action": "assign"})
    assert _state(lead).owner is None


def test_the_bulk_bar_goes_back_to_the_list_only(org):
    client = _client(org.admin)
    lead = lead_make()
    response = client.post(
        reverse("lead_actions:bulk_assign"),
        {"ids": [lead.pk], "owner_id": org.rep1.pk, "next": "https://evil.example/"},
    )
    assert "evil" not in response["Location"]


# --- disqualify / requalify --------------------------------------------------------------------


def test_disqualify_needs_a_reason_then_requalify(org):
    lead = lead_make(owner=org.rep1)
    client = _client(org.rep1)
    client.post(reverse("lead_actions:disqualify", args=[lead.pk]), {"reason": ""})
    assert _state(lead).status == "new"
    client.post(
        reverse("lead_actions:disqualify", args=[lead.pk]),
        {"reason": "unreachable", "note": "电话停机"},
    )
    lead = _state(lead)
    assert lead.status == "disqualified" and lead.disqualify_reason == "unreachable"
    client.post(reverse("lead_actions:requalify", args=[lead.pk]))
    assert _state(lead).status == "new"


def test_qualify_button_marks_the_lead_qualified(org):
    lead = lead_make(owner=org.rep1)
    client = _client(org.rep1)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the messages read in English
    page = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert 'data-testid="qualify"' in page
    response = client.post(reverse("lead_actions:qualify", args=[lead.pk]), follow=True)
    assert response.status_code == 200 and _state(lead).status == "qualified"
    page = response.content.decode()
    assert "The lead is qualified" in page and 'data-testid="qualify"' not in page
    # Again: a message, no change, no error page.
    response = client.post(reverse("lead_actions:qualify", args=[lead.pk]), follow=True)
    assert response.status_code == 200 and "already qualified" in response.content.decode()
    # Disqualified, then requalified: qualified again.
    client.post(reverse("lead_actions:disqualify", args=[lead.pk]), {"reason": "no_need"})
    client.post(reverse("lead_actions:requalify", args=[lead.pk]))
    assert _state(lead).status == "qualified"
    assert client.get(reverse("lead_actions:qualify", args=[lead.pk])).status_code == 405
    assert (
        _client(org.exec).post(reverse("lead_actions:qualify", args=[lead.pk])).status_code == 403
    )
    assert (
        _client(org.rep3).post(reverse("lead_actions:qualify", args=[lead.pk])).status_code == 404
    )


def test_disqualify_needs_the_edit_permission(org):
    lead = lead_make(owner=org.rep1)
    assert (
        _client(org.exec)
        .post(reverse("lead_actions:disqualify", args=[lead.pk]), {"reason": "no_need"})
        .status_code
        == 403
    )


# --- convert ----------------------------------------------------------------------------------


def test_the_convert_page_is_prefilled_from_the_lead(org):
    lead = lead_make(owner=org.rep1, company="远航物流有限公司", name="孙经理")
    response = _client(org.rep1).get(reverse("lead_actions:convert", args=[lead.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="远航物流有限公司"' in html and 'value="孙经理"' in html


def test_converting_into_a_new_customer_with_an_opportunity(org):
    lead = lead_make(owner=org.rep1, company="远航物流有限公司", name="孙经理")
    response = _client(org.rep1).post(
        reverse("lead_actions:convert", args=[lead.pk]),
        {
            "mode": "new",
            "name": "远航物流有限公司",
            "industry": "logistics",
            "grade": "A",
            "phone": lead.phone,
            "contact_name": "孙经理",
            "contact_phone": lead.phone,
            "with_opportunity": "on",
            "opportunity_name": "仓储系统",
            "opportunity_amount": "200000",
        },
    )
    customer = Customer.objects.get(name="远航物流有限公司")
    assert response.status_code == 302 and response["Location"] == reverse(
        "customers:detail", args=[customer.pk]
    )
    lead = _state(lead)
    assert lead.status == "converted" and lead.converted_customer == customer
    assert lead.converted_opportunity.name == "仓储系统"
    assert customer.grade == "A"


def test_the_convert_page_shows_field_errors_and_saves_nothing(org):
    lead = lead_make(owner=org.rep1)
    response = _client(org.rep1).post(
        reverse("lead_actions:convert", args=[lead.pk]),
        {"mode": "new", "name": "", "industry": "", "contact_name": "x", "contact_phone": "1"},
    )
    assert response.status_code == 422
    assert "has-error" in response.content.decode()
    assert _state(lead).status == "new"


def test_the_duplicate_warning_then_convert_anyway(org):
    other = customer_make(owner=org.rep1, phone="13812340000")
    lead = lead_make(owner=org.rep1, phone="13812340000")
    data = {
        "mode": "new",
        "name": lead.company,
        "industry": "it",
        "phone": lead.phone,
        "contact_name": lead.name,
        "contact_phone": lead.phone,
    }
    client = _client(org.rep1)
    response = client.post(reverse("lead_actions:convert", args=[lead.pk]), data)
    assert response.status_code == 409
    html = response.content.decode()
    assert 'data-testid="duplicate-warning"' in html and other.number in html
    assert _state(lead).status == "new"
    response = client.post(
        reverse("lead_actions:convert", args=[lead.pk]), {**data, "confirm_duplicates": "1"}
    )
    assert response.status_code == 302
    assert _state(lead).status == "converted"


def test_a_blocked_duplicate_offers_to_convert_into_it(org):
    other = customer_make(owner=org.rep1)
    lead = lead_make(owner=org.rep1, company=other.name)
    data = {
        "mode": "new",
        "name": other.name,
        "industry": "it",
        "phone": lead.phone,
        "contact_name": lead.name,
        "contact_phone": lead.phone,
    }
    client = _client(org.rep1)
    response = client.post(reverse("lead_actions:convert", args=[lead.pk]), data)
    assert response.status_code == 409
    assert 'data-testid="link-existing"' in response.content.decode()
    response = client.post(
        reverse("lead_actions:convert", args=[lead.pk]), {**data, "link_customer": other.pk}
    )
    assert response.status_code == 302
    assert _state(lead).converted_customer == other


def test_the_existing_customer_search_and_conversion(org):
    mine = customer_make(owner=org.rep1, name="星河科技有限公司")
    theirs = customer_make(owner=org.rep3, name="星河贸易有限公司")
    lead = lead_make(owner=org.rep1)
    client = _client(org.rep1)
    response = client.get(
        reverse("lead_actions:convert", args=[lead.pk]),
        {"q": "星河"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert mine.name in html and theirs.name not in html
    assert "<form" not in html  # only the results
    response = client.post(
        reverse("lead_actions:convert", args=[lead.pk]),
        {"mode": "existing", "customer_id": mine.pk},
    )
    assert response.status_code == 302
    assert _state(lead).converted_customer == mine
    assert mine.contacts.filter(name=lead.name).exists()


def test_a_converted_lead_goes_back_to_its_page(org):
    lead = lead_make(owner=org.rep1)
    Lead.objects.filter(pk=lead.pk).update(status="converted")
    response = _client(org.rep1).get(reverse("lead_actions:convert", args=[lead.pk]))
    assert response.status_code == 302


# --- the partials --------------------------------------------------------------------------------


def _render(template: str, user, **context) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return render_to_string(template, {"request": request, **context}, request=request)


def test_the_actions_partial_offers_what_the_viewer_may_do(org):
    lead = lead_make(owner=org.rep1)
    as_manager = _render("leads/_actions.html", org.manager, lead=lead)
    assert 'data-testid="assign"' in as_manager and 'data-testid="convert"' in as_manager
    assert 'data-testid="disqualify"' in as_manager and "reason-no_budget" in as_manager
    assert 'data-testid="qualify"' in as_manager
    as_rep = _render("leads/_actions.html", org.rep1, lead=lead)
    assert 'data-testid="assign"' not in as_rep and 'data-testid="convert"' in as_rep
    as_exec = _render("leads/_actions.html", org.exec, lead=lead)
    assert "data-testid" not in as_exec
    Lead.objects.filter(pk=lead.pk).update(status="disqualified", disqualify_reason="no_need")
    lead.refresh_from_db()
    html = _render("leads/_actions.html", org.rep1, lead=lead)
    assert 'data-testid="requalify"' in html and 'data-testid="convert"' not in html
    assert 'data-testid="qualify"' not in html
    Lead.objects.filter(pk=lead.pk).update(status="qualified", disqualify_reason="")
    lead.refresh_from_db()
    html = _render("leads/_actions.html", org.rep1, lead=lead)
    assert 'data-testid="convert"' in html and 'data-testid="qualify"' not in html


def test_the_bulk_bar_partial_is_for_assigners(org):
    html = _render("leads/_bulk_bar.html", org.manager)
    assert 'data-testid="bulk-assign"' in html and 'data-testid="bulk-assign-rules"' in html
    assert org.rep1.display_name in html and org.finance.display_name not in html
    assert "data-testid" not in _render("leads/_bulk_bar.html", org.rep1)
