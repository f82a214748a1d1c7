"""The API keeps the promises of its own OpenAPI document (issue 5 §2).

schemathesis reads /api/v1/openapi.json and sends every operation generated requests, valid
and invalid (boundary values, wrong types, missing fields), through the WSGI app in-process, as
an administrator and as a sales rep holding real API tokens, over a small company's data. Any
5xx, any body that does not match its documented schema, any status or content type the
document does not list fails the test. Examples are bounded and derandomised so that the run is
reproducible and fits in CI (about a minute on 2 cores).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm.accounts.services import api_token_create
from crm.core.dictionaries import KINDS
from crm.customers.models import Customer
from crm.customers.services import customer_delete
from crm.tests_support.factories import customer_make, mobile_number
from crm.wsgi import application

MAX_EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def _wsgi_in_test_transaction():
    """Django closes "old" connections around every request it handles; the test client turns
    that off, and a bare WSGI call must too, or the first request would close the connection
    holding the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# The document is public and built without the database, so it can be read at collection time:
# each operation becomes its own test item. (schemathesis' fixture-based loader relies on a
# pytest internal that pytest 9 no longer has.)
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json",
    application,
    config=schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            # Links between operations are not followed by the pytest integration.
            "phases": {"stateful": {"enabled": False}},
        }
    ),
)


@dataclass
class World:
    """What the generated requests are steered towards: random ids almost never exist, and
    random bodies almost never pass the business rules, so every other request uses a real
    id and a valid body with one generated field, to reach the success answers too."""

    headers: dict[str, str]
    ids: dict[str, list[int | str]]
    login: dict[str, str]
    counter: itertools.count = field(default_factory=itertools.count)

    def steer(self, case) -> None:
        n = next(self.counter)
        if n % 2:
            return  # left as generated
        for name in list(case.path_parameters or {}):
            choices = self.ids.get(name)
            if choices:
                case.path_parameters[name] = choices[n // 2 % len(choices)]
        template = VALID_BODIES.get((case.method, case.path))
        if case.path == "/api/v1/auth/token":
            template = lambda n: dict(self.login)  # noqa: E731
        if template is not None and isinstance(case.body, dict):
            generated = list(case.body.items())[:1]  # one generated field, the rest valid
            body = {**template(n), **dict(generated)}
            if "version" in body and not (generated and generated[0][0] == "version"):
                # a real id was set above: send the version it has now
                pk = (case.path_parameters or {}).get("customer_id")
                current = Customer.objects.filter(pk=pk).first()
                body["version"] = current.version if current else 0
            case.body = body


def _customer_body(n: int) -> dict[str, Any]:
    return {
        "name": f"生成测试{n:04d}科技有限公司",
        "industry": "it",
        "phone": mobile_number(700000 + n),
        "contacts": [{"name": "王强", "phone": mobile_number(800000 + n)}],
    }


VALID_BODIES = {
    ("POST", "/api/v1/customers"): _customer_body,
    ("PATCH", "/api/v1/customers/{customer_id}"): lambda n: {"version": 0, "remarks": f"备注{n}"},
    ("POST", "/api/v1/customers/{customer_id}/contacts"): lambda n: {
        "name": "赵敏",
        "email": f"zhao{n}@example.com",
    },
    ("PATCH", "/api/v1/contacts/{contact_id}"): lambda n: {"title": f"经理{n}"},
    ("POST", "/api/v1/users/{user_id}/deactivate"): lambda n: {},
    # A web form's public endpoint (no token needed; the per-address limit answers 429 after
    # five, which the document lists too).
    ("POST", "/api/v1/public/forms/{key}/submit"): lambda n: {
        "company": f"网页表单{n:04d}科技有限公司",
        "name": "王强",
        "phone": mobile_number(900000 + n),
    },
}


@pytest.fixture(params=["admin", "rep1"])
def world(request, org, _wsgi_in_test_transaction) -> World:
    """A real user's API token, over a small company's data: customers in and out of the
    caller's scope, an individual, one in the recycle bin."""
    own = customer_make(
        owner=org.rep1,
        name="契约测试科技有限公司",
        contacts=[
            {"name": "甲", "phone": "13900000001", "is_primary": True},
            {"name": "乙", "email": "yi@example.com"},
        ],
    )
    other = customer_make(owner=org.rep3, name="范围之外贸易有限公司")
    person = customer_make(owner=org.rep1, name="张三", type="individual")
    gone = customer_make(owner=org.rep1, name="回收站里科技有限公司")
    customer_delete(actor=org.admin, customer=gone, version=gone.version)
    from crm.tests_support.files import attachment_make, png_bytes
    from crm.tests_support.notify import notification_make

    files = [
        attachment_make(actor=org.rep1, record=own, name="合同.pdf"),
        attachment_make(actor=org.rep1, record=own, name="现场.png", content=png_bytes()),
        attachment_make(actor=org.rep3, record=other, name="范围外.pdf"),
    ]
    notes = [notification_make(recipient=getattr(org, request.param)) for _ in range(2)]
    notes.append(notification_make(recipient=org.rep3))
    from crm.leads.webforms import web_form_create

    web_form = web_form_create(actor=org.admin, data={"name": "契约测试表单", "grade": "A"})
    _token, raw = api_token_create(user=getattr(org, request.param), name="schemathesis")
    return World(
        headers={"Authorization": f"Bearer {raw}"},
        ids={
            "customer_id": [own.pk, person.pk, gone.pk, other.pk],
            "contact_id": list(own.contacts.values_list("pk", flat=True)),
            "user_id": [org.rep2.pk, org.rep3.pk],
            "kind": list(KINDS),
            "attachment_id": [f.pk for f in files],
            "notification_id": [n.pk for n in notes],
            "key": [web_form.key, "no-such-form-key-000000"],
        },
        login={"username": org.manager.username, "password": org.password},
    )


@pytest.mark.django_db
@schema.parametrize()
@settings(
    deadline=None,
    derandomize=True,
    max_examples=MAX_EXAMPLES,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_its_documented_contract(case, world):
    # when any generated request is sent, then the answer is what the document promises
    world.steer(case)
    case.call_and_validate(headers=world.headers, checks=CHECKS)
