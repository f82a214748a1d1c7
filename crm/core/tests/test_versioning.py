"""crm.core.versioning.version_check: one optimistic-lock rule for edits, deletes, restores."""

from __future__ import annotations

import pytest
from django.utils import translation

from crm.core.errors import ConflictError, ValidationFailed
from crm.core.versioning import version_check
from crm.customers.services import customer_delete, customer_update
from crm.tests_support.factories import customer_make


def test_the_current_version_passes_whatever_its_form(org):
    customer = customer_make(owner=org.rep1)
    for version in (1, "1", " 1 "):
        version_check(locked=customer, version=version, label="this customer")


@pytest.mark.parametrize("version", [None, "", "abc", True, 1.5j])
def test_a_missing_or_malformed_version_is_a_field_error(org, version):
    customer = customer_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        version_check(locked=customer, version=version, label="this customer")
    assert set(exc.value.fields) == {"version"}


def test_a_stale_version_names_who_changed_it_when_and_the_current_version(org):
    customer = customer_make(owner=org.rep1)
    changed = customer_update(actor=org.manager, customer=customer, data={"grade": "A"}, version=1)
    with pytest.raises(ConflictError) as exc:
        version_check(locked=changed, version=1, label="this customer")
    assert exc.value.status == 409
    assert exc.value.extra == {
        "changed_by": org.manager.display_name,
        "changed_at": changed.updated_at.isoformat(),
        "current_version": 2,
    }
    assert org.manager.display_name in str(exc.value.message)


def test_a_stale_version_of_a_deleted_record_says_who_moved_it_to_the_recycle_bin(org):
    customer = customer_make(owner=org.rep1)
    deleted = customer_delete(actor=org.manager, customer=customer, version=1)
    with translation.override("zh-hans"), pytest.raises(ConflictError) as exc:
        version_check(locked=deleted, version=1, label="此客户")
    assert exc.value.extra["changed_by"] == org.manager.display_name
    assert exc.value.extra["changed_at"] == deleted.deleted_at.isoformat()
    assert "回收站" in str(exc.value.message) and "此客户" in str(exc.value.message)
