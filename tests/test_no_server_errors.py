"""Bad input never reaches a 500 (DESIGN invariant 5).

Every UI URL, found by walking the URL patterns (so a new page is covered without editing this
file), is requested as an administrator and as a sales rep with ids that exist, that do not, and
that no database column can hold, with odd query strings (negative and huge page numbers,
impossible dates, unknown sorts, NUL bytes, digits that are not ASCII, very long text), and
posted with odd bodies, with and without HTMX. Any 5xx fails the test. Everything runs inside a
rolled-back transaction, so the walk changes nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from crm.accounts.models import Department, Role
from crm.core.models import DictionaryItem
from crm.tests_support.factories import customer_make

HUGE = "9" * 25  # beyond BIGINT: SQLite's driver overflows if it gets that far
# Not walked: logging out would end the session the walk uses; the language switch only sets a
# cookie.
SKIPPED = {"logout", "set_language"}
CSRF_EXEMPT = {"webform_public"}
ODD_QUERIES = [
    "page=-1",
    f"page={HUGE}",
    "page=%C2%B2",  # '²': str.isdigit() says yes, int() says no
    "sort=-nonsense",
    "q=%00" + "长" * 300,
    "created_from=2026-02-30&created_to=9999-12-31&date_from=0001-01-01&date_to=9999-12-31",
    f"owner={HUGE}&owner_id=%C2%B2&actor={HUGE}&department={HUGE}&role={HUGE}",
    "tab=history&page=100000&status=%00&type=%00&grade=ZZ&action=zzz",
    f"customer={HUGE}&plan=%C2%B2&opportunity={HUGE}&author={HUGE}&tab=zzz&next=//evil.example",
    "customer=1&plan=1&next=http://evil.example/&q=%00",
    "tab=timeline&page=100000&kind=%00&kind=created,,nonsense&kind=" + "长" * 300,
]
ODD_BODIES = [
    {},
    {
        "name": "名\x00" + "长" * 3000,
        "version": HUGE,
        "owner": HUGE,
        "to_user": HUGE,
        "first_contact_date": "2026-02-30",
        "budget": "1e999",
        "occurred_at": "2026-02-30T25:00",
        "next_at": HUGE,
        "due_on": "0001-01-01",
        "method": "\x00",
        "summary": "长" * 6000,
        "plan": HUGE,
        "customer": HUGE,
        "opportunity": "%C2%B2",
        "contact": HUGE,
        "next": "//evil.example",
    },
    {
        "owner": "%C2%B2",
        "to_user": "abc",
        "version": "-1",
        "budget": "NaN",
        "roles": HUGE,
        "department": HUGE,
        "supervisor": HUGE,
        "parent": HUGE,
        "transfer_to": HUGE,
        "position": HUGE,
        "recycle_bin_days": HUGE,
    },
    {
        "perm-customers": ["zzz", "view"],
        "scope-customers": "zzz",
        "duplicate_name": "zzz",
        "contacts-0-name": "甲",
        f"contacts-{HUGE}-name": "乙",
        "contacts-primary": HUGE,
        "_remove_contact": HUGE,
        "original": "forged",
        "new-phone": HUGE,
        "new-email": "\x00",
        "stage_id": HUGE,
        "ordered_ids": [HUGE, "x"],
        "amount": "1e999",
        "actual_amount": "-1",
        "closed_on": "2026-02-30",
        "occurred_on": "0000-00-00",
        "lost_reason": "\x00",
        "customer": HUGE,
        "probability": HUGE,
    },
]


def url_names() -> list[str]:
    names: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace in ("admin", "api"):
                    continue  # Django's admin; the API has its own tests (schemas bound input)
                walk(p.url_patterns, prefix + (f"{p.namespace}:" if p.namespace else ""))
            elif isinstance(p, URLPattern) and p.name:
                names.append(prefix + p.name)

    walk(get_resolver().url_patterns, "")
    return sorted(set(names) - SKIPPED)


def urls_for(name: str, real: dict[str, object]) -> list[str]:
    """The URL of `name` with real ids, with ids that do not exist, and with huge ids."""
    variants = [real, {k: 0 if k != "kind" else "zzz" for k in real}]
    variants.append({k: int(HUGE) if k != "kind" else "x" * 300 for k in real})
    found = []
    for values in variants:
        shapes = [(), ("pk",), ("kind",), ("token_id",), ("key",), ("pk", "contact_id")]
        shapes.append(("module",))
        for shape in [*shapes, ("kind", "pk")]:
            try:
                found.append(reverse(name, kwargs={k: values[k] for k in shape}))
                break
            except NoReverseMatch:  # another shape, or a value the route refuses
                continue
    if not found:
        raise AssertionError(f"cannot build a URL for {name}: teach urls_for its parameters")
    return list(dict.fromkeys(found))


def real_ids(name: str, org, customer, contact) -> dict[str, object]:
    from crm.activities.models import FollowUp
    from crm.tests_support.activities import followup_make, opportunity_row_make

    if name == "activities:opportunity_tab":
        found = customer.opportunities.first() or opportunity_row_make(customer=customer)
        return {"pk": found.pk, "contact_id": contact.pk, "kind": "industry", "token_id": 1}
    if name.startswith("activities:") and name != "activities:customer_tab":
        found = FollowUp.objects.filter(customer=customer).first() or followup_make(
            customer=customer, next_in=dt.timedelta(days=1)
        )
        return {"pk": found.pk, "contact_id": contact.pk, "kind": "industry", "token_id": 1}
    from crm.sales.models import Opportunity, Stage

    if name.startswith("sales:"):
        # an opportunity of the customer (made on first use, so every test has one)
        opportunity = Opportunity.objects.filter(customer=customer).first()
        if opportunity is None:
            from crm.tests_support.sales import opportunity_make

            opportunity = opportunity_make(owner=customer.owner, customer=customer)
        pk = opportunity.pk
    elif name.startswith("stages:"):
        pk = Stage.objects.get(code="proposal").pk
    elif name.startswith("custom_fields:"):
        from crm.core.models import CustomField

        pk = CustomField.objects.get_or_create(
            module="customers", key="walk", defaults={"label": "走查", "type": "choice"}
        )[0].pk
    elif name.startswith("lead_rules:"):
        from crm.leads.models import AssignmentRule

        rule = AssignmentRule.objects.order_by("id").first()
        pk = (rule or AssignmentRule.objects.create(name="规则", is_active=False)).pk
    elif name.startswith(("leads:", "lead_actions:")):
        # a lead of the customer's owner (made on first use), with a follow-up logged on it
        from crm.leads.models import Lead
        from crm.tests_support.leads import lead_make

        lead = Lead.objects.filter(owner=customer.owner).first()
        if lead is None:
            lead = lead_make(owner=customer.owner)
            followup_make(lead=lead, next_in=dt.timedelta(days=1))
        pk = lead.pk
    elif name.startswith("settings:user"):
        pk = org.rep2.pk
    elif name.startswith("settings:department"):
        pk = Department.objects.order_by("id").values_list("pk", flat=True).first()
    elif name.startswith("settings:role"):
        pk = Role.objects.get(code="sales_rep").pk
    elif name.startswith("settings:list_item"):
        pk = DictionaryItem.objects.get(kind="industry", code="other").pk
    elif name.startswith("webforms:") or name == "webform_public":
        pk = _web_form().pk
    elif name.startswith("pool:"):
        pk = _pool_customer(org).pk
    else:
        pk = customer.pk
    values = {"pk": pk, "contact_id": contact.pk, "kind": "industry", "token_id": 1}
    values["key"] = _web_form().key if name == "webform_public" else "-"
    values["module"] = "customers"  # an export (crm.dataio): the odd queries reach the list's
    return values


def _pool_customer(org):
    """A customer in the public pool (no owner): its pages must hold without one."""
    from crm.customers.models import Customer
    from crm.customers.pool import customer_release

    found = Customer.objects.filter(owner__isnull=True, deleted_at__isnull=True).first()
    if found is None:
        found = customer_make(owner=org.rep2, name="公海边界科技有限公司")
        customer_release(actor=org.admin, customer=found, reason="边界")
    return found


def _web_form():
    from crm.leads.models import WebForm

    return WebForm.objects.get_or_create(
        key="odd-input-form-00000001",
        defaults={"name": "边界表单", "fields": ["company", "name"], "required": ["company"]},
    )[0]


@pytest.mark.parametrize("role", ["admin", "rep1"])
def test_no_url_answers_odd_input_with_a_server_error(org, role):
    # given a customer of rep1 with two contacts, and one of rep3 (outside rep1's scope)
    customer = customer_make(
        owner=org.rep1,
        name="边界测试科技有限公司",
        contacts=[
            {"name": "甲", "phone": "13900000001", "is_primary": True},
            {"name": "乙", "phone": "13900000002"},
        ],
    )
    other = customer_make(owner=org.rep3, name="范围之外科技有限公司")
    contact = customer.contacts.order_by("id").last()
    client = Client(raise_request_exception=False)
    client.force_login(getattr(org, role))
    failures: list[str] = []

    def call(method: str, url: str, **kwargs) -> None:
        with transaction.atomic():
            response = getattr(client, method)(url, **kwargs)
            transaction.set_rollback(True)
        if response.status_code >= 500:
            body = kwargs.get("data")
            failures.append(
                f"{method.upper()} {url[:120]} {str(body)[:80]} -> {response.status_code}"
            )

    # when every URL is requested with odd ids, queries and bodies
    for name in url_names():
        for url in urls_for(name, real_ids(name, org, customer, contact)):
            for query in ["", *ODD_QUERIES]:
                call("get", f"{url}?{query}" if query else url)
            call("get", url, headers={"HX-Request": "true", "HX-Target": "tab-body"})
            for body in ODD_BODIES:
                call("post", url, data=body)
            call("post", url, data=ODD_BODIES[1], headers={"HX-Request": "true"})
        # and the customer pages with the out-of-scope customer and its contact, and with a
        # customer in the public pool (no owner)
        if name.startswith("customers:"):
            for record in (other, _pool_customer(org)):
                try:
                    url = reverse(
                        name, kwargs={"pk": record.pk, "contact_id": record.contacts.first().pk}
                    )
                except NoReverseMatch:  # the route takes no contact id
                    try:
                        url = reverse(name, kwargs={"pk": record.pk})
                    except NoReverseMatch:  # the route takes no id at all
                        continue
                call("get", url)
                for tab in ("timeline", "history", "contacts", "opportunities", "followups"):
                    call("get", f"{url}?tab={tab}")
                call("post", url, data=ODD_BODIES[2])

    # then none of them failed with a server error
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:40])


def test_every_ui_url_refuses_a_post_without_the_csrf_token(org):
    # given a logged-in administrator whose browser does not send the CSRF token
    customer = customer_make(owner=org.rep1, name="跨站测试科技有限公司")
    contact = customer.contacts.get()
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.admin)
    accepted = []

    # when every UI URL (state-changing or not) is posted to; a web form's public page is
    # the one exception by design: visitors have no session, and its signed `_t` token takes
    # the CSRF token's place (crm/leads/tests/test_webforms.py)
    for name in [*url_names(), "logout", "set_language"]:
        if name in CSRF_EXEMPT:
            continue
        url = urls_for(name, real_ids(name, org, customer, contact))[0]
        with transaction.atomic():
            response = client.post(url, {"name": "x", "language": "en"})
            transaction.set_rollback(True)
        if response.status_code != 403:
            accepted.append(f"{url} -> {response.status_code}")

    # then Django's CSRF check refuses every one (no view is csrf_exempt)
    assert not accepted, "\n".join(accepted)


def test_every_ui_url_answers_an_oversized_form_with_the_413_page(org, settings, caplog):
    """Issue 5 §2: a form body over DATA_UPLOAD_MAX_MEMORY_SIZE was Django's bare 400 page
    with an ERROR traceback; every page now answers the CRM's own 413 page, logging no ERROR."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    customer = customer_make(owner=org.rep1, name="超限测试科技有限公司")
    contact = customer.contacts.get()
    client = Client(raise_request_exception=False)
    client.force_login(org.admin)
    wrong = []
    with caplog.at_level("INFO"):
        for name in [*url_names(), "logout", "set_language"]:
            url = urls_for(name, real_ids(name, org, customer, contact))[0]
            with transaction.atomic():
                response = client.post(url, {"name": "长" * 2048, "notes": "x"})
                transaction.set_rollback(True)
            if response.status_code != 413 or b'data-testid="error-413"' not in response.content:
                wrong.append(f"{url} -> {response.status_code}")
    assert not wrong, "\n".join(wrong)
    assert not [r for r in caplog.records if r.levelno >= 40]
