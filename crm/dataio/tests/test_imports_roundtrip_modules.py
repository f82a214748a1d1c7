"""Every template round-trips (issue 8 §8) for leads and opportunities: the list exported,
imported again with on-match update, changes nothing (follow-ups import create-only)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from crm.core.models import AuditEntry
from crm.dataio.imports import import_job_run_now, import_job_start
from crm.tests_support.factories import customer_make
from crm.tests_support.leads import lead_make
from crm.tests_support.sales import opportunity_make

pytestmark = pytest.mark.django_db


def exported(user, module: str, fmt: str) -> bytes:
    client = Client()
    client.force_login(user)
    response = client.get(f"/export/{module}/?format={fmt}")
    assert response.status_code == 200
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_leads_and_opportunities_round_trip(org, fmt):
    for i in range(3):
        lead_make(
            actor=org.manager,
            owner=org.rep1,
            company=f"往返线索{i}科技有限公司",
            phone=f"1380013900{i}",
            email=f"rt{i}@example.com",
            budget=Decimal("1000"),
        )
    customer = customer_make(owner=org.rep1, name="往返客户科技有限公司")
    for i in range(3):
        opportunity_make(
            owner=org.rep1,
            customer=customer,
            name=f"往返商机{i}",
            amount=Decimal("5000.00"),
            description="说明",
        )
    last = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first()
    for module in ("leads", "opportunities"):
        content = exported(org.manager, module, fmt)
        job = import_job_start(
            actor=org.manager,
            module_key=module,
            upload=SimpleUploadedFile(f"{module}.{fmt}", content),
            match="number",
            on_match="update_empty",
            run=False,
        )
        job = import_job_run_now(job.pk)
        assert job.state == "done", job.message
        assert (job.created, job.updated, job.rejected, job.skipped) == (0, 0, 0, 3), job.errors
        job = import_job_start(
            actor=org.manager,
            module_key=module,
            upload=SimpleUploadedFile(f"{module}.{fmt}", content),
            match="number",
            on_match="overwrite",
            run=False,
        )
        job = import_job_run_now(job.pk)
        assert (job.created, job.updated, job.rejected, job.skipped) == (0, 0, 0, 3), job.errors
    # Only the imports' own entries: no record changed.
    changed = AuditEntry.objects.filter(pk__gt=last).exclude(
        action__in=("login", "export", "import")
    )
    assert list(changed.values_list("action", "object_repr")) == []
