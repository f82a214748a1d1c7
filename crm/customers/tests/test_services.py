"""Customer archive writes (CUS-1..7, SYS-2, SYS-5): every rule a later module copies."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from crm.core.config import setting_set
from crm.core.dictionaries import dictionaries_clear_cache
from crm.core.errors import (
    ConflictError,
    DuplicateError,
    DuplicateWarning,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from crm.core.models import AuditEntry, DictionaryItem, NumberSequence
from crm.core.validators import credit_code_with_checksum
from crm.customers.models import Contact, Customer
from crm.customers.selectors import (
    CustomerFilters,
    customer_list,
    customers_deleted_visible_to,
    customers_visible_to,
)
from crm.customers.services import (
    contact_create,
    contact_delete,
    contact_update,
    customer_create,
    customer_delete,
    customer_restore,
    customer_transfer,
    customer_update,
    customers_purge_expired,
    customers_search_reindex,
    customers_transfer_all,
)
from crm.tests_support.factories import customer_make

CREDIT_CODE = credit_code_with_checksum("91310000MA1FL0000")


def enterprise(owner=None, **fields):
    data = {
        "type": "enterprise",
        "name": "华科技术有限公司",
        "industry": "it",
        "source": "website",
        "grade": "A",
        "phone": "13812345678",
    }
    if owner is not None:
        data["owner_id"] = owner.pk
    data.update(fields)
    return data


def contact(name="王伟", **fields):
    return {"name": name, "title": "采购经理", "phone": "13900001111", **fields}


def state() -> tuple:
    """What a refused write must leave untouched."""
    return (
        Customer.objects.count(),
        Contact.objects.count(),
        AuditEntry.objects.exclude(action__startswith="log").count(),
        list(NumberSequence.objects.values_list("period", "last_value")),
    )


def audit_of(customer, action):
    return list(AuditEntry.objects.filter(object_id=customer.pk, action=action).order_by("id"))


def fields_of(exc_info) -> set[str]:
    return set(exc_info.value.fields)


def search(user, q):
    return list(customer_list(user=user, filters=CustomerFilters(q=q)))


# --- create (CUS-1, CUS-3) ------------------------------------------------------------------


class TestCreate:
    def test_with_contacts_the_first_becomes_primary_when_none_is_marked(self, org):
        customer = customer_create(
            actor=org.rep1,
            data=enterprise(),
            contacts=[contact("王伟"), contact("李娜", phone="13900002222")],
        )
        assert customer.number.startswith("KH")
        assert customer.owner == org.rep1  # owner defaults to the creator
        assert [(c.name, c.is_primary) for c in customer.contacts.order_by("id")] == [
            ("王伟", True),
            ("李娜", False),
        ]

    def test_the_marked_primary_contact_is_kept(self, org):
        customer = customer_create(
            actor=org.rep1,
            data=enterprise(),
            contacts=[contact("王伟"), contact("李娜", phone="13900002222", is_primary=True)],
        )
        assert customer.contacts.get(is_primary=True).name == "李娜"

    def test_two_primary_contacts_are_refused_and_nothing_is_saved(self, org):
        before = state()
        with pytest.raises(ValidationFailed) as exc:
            customer_create(
                actor=org.rep1,
                data=enterprise(),
                contacts=[contact(is_primary=True), contact("李娜", is_primary=True)],
            )
        assert "contacts" in fields_of(exc)
        assert state() == before

    def test_an_enterprise_without_contacts_is_refused(self, org):
        before = state()
        with pytest.raises(ValidationFailed) as exc:
            customer_create(actor=org.rep1, data=enterprise(), contacts=[])
        assert fields_of(exc) == {"contacts"}
        assert state() == before

    def test_an_individual_without_contacts_is_their_own_contact(self, org):
        customer = customer_create(
            actor=org.rep1,
            data=enterprise(type="individual", name="张三", email="zhang@example.com"),
        )
        [only] = customer.contacts.all()
        assert (only.name, only.phone, only.email, only.is_primary) == (
            "张三",
            "13812345678",
            "zhang@example.com",
            True,
        )

    def test_every_validation_error_is_reported_at_once_and_nothing_is_saved(self, org):
        customer_make(owner=org.rep1)  # a number sequence exists and must not move
        before = state()
        with pytest.raises(ValidationFailed) as exc:
            customer_create(
                actor=org.rep1,
                data={
                    "type": "enterprise",
                    "name": "华科",  # an abbreviation
                    "industry": "astrology",  # not in the list
                    "source": "",
                    "grade": "Z",
                    "phone": "12345",
                    "email": "not-an-email",
                    "credit_code": "91350100M000100Y44",  # checksum typo
                    "budget": "lots",
                    "first_contact_date": "2026-13-40",
                },
                contacts=[contact(phone="555"), {"name": "", "phone": ""}],
            )
        assert fields_of(exc) == {
            "name",
            "industry",
            "grade",
            "phone",
            "email",
            "credit_code",
            "budget",
            "first_contact_date",
            "contacts.0.phone",
            "contacts.1.name",
            "contacts.1.phone",
        }
        assert exc.value.status == 422
        body = exc.value.as_dict()
        assert all(isinstance(m, str) and m for msgs in body["fields"].values() for m in msgs)
        assert state() == before

    def test_a_phone_or_an_email_is_required(self, org):
        with pytest.raises(ValidationFailed) as exc:
            customer_create(
                actor=org.rep1, data=enterprise(phone="", email=""), contacts=[contact()]
            )
        assert fields_of(exc) == {"phone"}
        customer = customer_create(
            actor=org.rep1,
            data=enterprise(phone="", email="Info@HuaKe.CN"),
            contacts=[contact()],
        )
        assert customer.email == "Info@huake.cn"

    def test_values_are_stored_normalised(self, org):
        customer = customer_create(
            actor=org.rep1,
            data=enterprise(
                phone="+86 138 1234 5678",
                credit_code=CREDIT_CODE.lower(),
                grade="a",
                budget="¥1,500,000",
                address="上海市\x00浦东新区",  # a stray NUL from a paste is dropped
            ),
            contacts=[contact(phone="(021)12345678")],
        )
        customer.refresh_from_db()
        assert (customer.phone, customer.credit_code, customer.grade) == (
            "13812345678",
            CREDIT_CODE,
            "A",
        )
        assert str(customer.budget) == "1500000.00"
        assert customer.address == "上海市浦东新区"
        assert customer.contacts.get().phone == "021-12345678"

    def test_only_an_enterprise_has_a_credit_code(self, org):
        with pytest.raises(ValidationFailed) as exc:
            customer_create(
                actor=org.rep1,
                data=enterprise(type="individual", name="张三", credit_code=CREDIT_CODE),
            )
        assert fields_of(exc) == {"credit_code"}

    def test_the_create_is_audited_with_the_filled_fields(self, org):
        customer = customer_create(actor=org.rep1, data=enterprise(), contacts=[contact()])
        [entry] = audit_of(customer, "create")
        assert entry.actor == org.rep1
        changes = {c["field"]: (c["before"], c["after"]) for c in entry.changes}
        assert changes["name"] == (None, "华科技术有限公司")
        assert changes["industry"] == (None, "信息技术")  # shown as a person reads it
        assert changes["owner"] == (None, "李明")
        assert changes["contacts"] == (None, "王伟")
        assert "address" not in changes  # blank fields are not listed

    def test_a_rep_may_only_make_themselves_owner(self, org):
        with pytest.raises(ValidationFailed) as exc:
            customer_create(actor=org.rep1, data=enterprise(owner=org.rep2), contacts=[contact()])
        assert fields_of(exc) == {"owner"}

    def test_a_manager_may_create_for_a_subordinate_but_not_for_another_team(self, org):
        customer = customer_create(
            actor=org.manager, data=enterprise(owner=org.rep2), contacts=[contact()]
        )
        assert customer.owner == org.rep2
        with pytest.raises(ValidationFailed) as exc:
            customer_create(
                actor=org.manager,
                data=enterprise(owner=org.rep3, name="另一家科技有限公司"),
                contacts=[contact()],
            )
        assert fields_of(exc) == {"owner"}

    @pytest.mark.parametrize("username", ["service", "finance", "exec"])
    def test_roles_without_create_are_refused(self, org, username):
        with pytest.raises(PermissionDeniedError):
            customer_create(actor=getattr(org, username), data=enterprise(), contacts=[contact()])


# --- update and versions (CUS-7, invariant 4) -----------------------------------------------


class TestUpdate:
    def test_an_update_increments_the_version_and_audits_each_changed_field(self, org):
        customer = customer_make(owner=org.rep1, grade="B", industry="it")
        updated = customer_update(
            actor=org.rep1,
            customer=customer,
            data={"grade": "A", "industry": "finance", "address": "北京市海淀区"},
            version=customer.version,
        )
        assert updated.version == customer.version + 1
        assert updated.updated_by == org.rep1
        [entry] = audit_of(customer, "update")
        assert entry.changes == [
            {"field": "industry", "before": "信息技术", "after": "金融"},
            {"field": "grade", "before": "B", "after": "A"},
            {"field": "address", "before": "", "after": "北京市海淀区"},
        ]

    def test_an_update_that_changes_nothing_keeps_the_version(self, org):
        customer = customer_make(owner=org.rep1, grade="B")
        same = customer_update(
            actor=org.rep1, customer=customer, data={"grade": "b"}, version=customer.version
        )
        assert same.version == customer.version
        assert audit_of(customer, "update") == []

    def test_a_stale_edit_is_refused_with_who_and_when_and_nothing_is_saved(self, org):
        customer = customer_make(owner=org.rep1, grade="B")
        opened = customer.version
        # Given the manager saved a change after the rep opened the form
        customer_update(actor=org.manager, customer=customer, data={"grade": "A"}, version=opened)
        before = Customer.objects.get(pk=customer.pk)
        # when the rep saves from the stale copy
        with pytest.raises(ConflictError) as exc:
            customer_update(actor=org.rep1, customer=customer, data={"grade": "C"}, version=opened)
        # then the conflict says who changed it, when, and the current version
        assert exc.value.status == 409
        assert exc.value.extra["changed_by"] == "王经理"
        assert exc.value.extra["current_version"] == opened + 1
        assert exc.value.extra["changed_at"] == before.updated_at.isoformat()
        assert "王经理" in str(exc.value.message)
        after = Customer.objects.get(pk=customer.pk)
        assert (after.grade, after.version, after.updated_at) == (
            "A",
            before.version,
            before.updated_at,
        )

    @pytest.mark.parametrize("version", [None, "", "abc"])
    def test_a_missing_version_is_a_field_error(self, org, version):
        customer = customer_make(owner=org.rep1)
        with pytest.raises(ValidationFailed) as exc:
            customer_update(actor=org.rep1, customer=customer, data={"grade": "A"}, version=version)
        assert fields_of(exc) == {"version"}

    def test_validation_errors_on_update_save_nothing(self, org):
        customer = customer_make(owner=org.rep1, grade="B")
        with pytest.raises(ValidationFailed) as exc:
            customer_update(
                actor=org.rep1,
                customer=customer,
                data={"grade": "A", "phone": "123", "name": "华"},
                version=customer.version,
            )
        assert fields_of(exc) == {"phone", "name"}
        assert Customer.objects.get(pk=customer.pk).grade == "B"

    def test_a_rep_may_not_change_the_owner(self, org):
        customer = customer_make(owner=org.rep1)
        with pytest.raises(ValidationFailed) as exc:
            customer_update(
                actor=org.rep1,
                customer=customer,
                data={"owner_id": org.rep2.pk},
                version=customer.version,
            )
        assert fields_of(exc) == {"owner"}
        assert Customer.objects.get(pk=customer.pk).owner == org.rep1

    @pytest.mark.parametrize("owner_value", ["same", "", None])
    def test_a_rep_resubmitting_the_owner_unchanged_or_blank_is_fine(self, org, owner_value):
        customer = customer_make(owner=org.rep1, grade="B")
        owner = org.rep1.pk if owner_value == "same" else owner_value
        updated = customer_update(
            actor=org.rep1,
            customer=customer,
            data={"owner_id": owner, "grade": "A"},
            version=customer.version,
        )
        assert (updated.owner, updated.grade) == (org.rep1, "A")

    def test_a_manager_may_reassign_within_the_team_and_it_is_audited(self, org):
        customer = customer_make(owner=org.rep1)
        updated = customer_update(
            actor=org.manager,
            customer=customer,
            data={"owner_id": str(org.rep2.pk)},
            version=customer.version,
        )
        assert updated.owner == org.rep2
        [entry] = audit_of(customer, "update")
        assert entry.changes == [{"field": "owner", "before": "李明", "after": "张芳"}]

    def test_a_blank_owner_on_an_edit_keeps_the_owner(self, org):
        # A form whose owner select was left empty must not hand the customer to the editor.
        customer = customer_make(owner=org.rep1, grade="B")
        updated = customer_update(
            actor=org.manager,
            customer=customer,
            data={"owner_id": "", "grade": "A"},
            version=customer.version,
        )
        assert updated.owner == org.rep1

    def test_a_retired_list_value_survives_resubmitting_the_form(self, org):
        customer = customer_make(owner=org.rep1, industry="energy")
        DictionaryItem.objects.filter(kind="industry", code="energy").update(is_active=False)
        dictionaries_clear_cache()
        updated = customer_update(
            actor=org.rep1,
            customer=customer,
            data={"industry": "energy", "grade": "A"},
            version=customer.version,
        )
        assert (updated.industry, updated.grade) == ("energy", "A")
        # but nobody can pick the retired value for another customer
        other = customer_make(owner=org.rep1, industry="it")
        with pytest.raises(ValidationFailed) as exc:
            customer_update(
                actor=org.rep1, customer=other, data={"industry": "energy"}, version=other.version
            )
        assert fields_of(exc) == {"industry"}

    def test_turning_an_enterprise_into_an_individual_drops_no_rule(self, org):
        customer = customer_make(owner=org.rep1, credit_code=CREDIT_CODE)
        with pytest.raises(ValidationFailed) as exc:
            customer_update(
                actor=org.rep1,
                customer=customer,
                data={"type": "individual"},
                version=customer.version,
            )
        assert fields_of(exc) == {"credit_code"}

    def test_renaming_refreshes_the_search_keys(self, org):
        customer = customer_make(owner=org.rep1, name="旧名字科技有限公司")
        customer_update(
            actor=org.rep1,
            customer=customer,
            data={"name": "新名字科技有限公司"},
            version=customer.version,
        )
        assert search(org.rep1, "新名字") == [customer]
        assert search(org.rep1, "旧名字") == []

    def test_editing_a_deleted_customer_is_refused(self, org):
        customer = customer_make(owner=org.rep1)
        deleted = customer_delete(actor=org.manager, customer=customer)
        with pytest.raises(ConflictError):
            customer_update(
                actor=org.manager, customer=customer, data={"grade": "A"}, version=deleted.version
            )

    def test_a_customer_outside_the_actors_scope_is_not_found(self, org):
        customer = customer_make(owner=org.rep3)
        with pytest.raises(NotFoundError):
            customer_update(
                actor=org.rep1, customer=customer, data={"grade": "A"}, version=customer.version
            )
        with pytest.raises(NotFoundError):
            customer_delete(actor=org.manager, customer=customer)
        assert Customer.objects.get(pk=customer.pk).deleted_at is None

    @pytest.mark.parametrize("username", ["service", "finance", "exec"])
    def test_read_only_roles_may_not_edit(self, org, username):
        customer = customer_make(owner=org.rep1)
        with pytest.raises(PermissionDeniedError):
            customer_update(
                actor=getattr(org, username),
                customer=customer,
                data={"grade": "A"},
                version=customer.version,
            )


# --- duplicate check (CUS-6) ----------------------------------------------------------------


class TestDuplicates:
    @pytest.mark.parametrize(
        "variant",
        [
            "华科技术有限公司",
            "华科技术 有限责任公司",
            "华科技术（有限公司）",
            "华科 技术 股份有限公司",
            "华科技术公司",
        ],
    )
    def test_the_same_normalised_name_is_blocked(self, org, variant):
        existing = customer_make(owner=org.rep1, name="华科技术有限公司")
        before = state()
        with pytest.raises(DuplicateError) as exc:
            customer_create(
                actor=org.rep1,
                data=enterprise(name=variant, phone="13700000000"),
                contacts=[contact(phone="13700000001")],
            )
        assert exc.value.status == 409
        assert fields_of(exc) == {"name"}
        assert exc.value.extra["existing"]["number"] == existing.number
        assert state() == before

    @pytest.mark.parametrize(
        "variant", ["ａｂｃ 科技 有限公司", "ABC科技公司", "Abc 科技有限责任公司"]
    )
    def test_width_case_and_spaces_do_not_hide_a_duplicate(self, org, variant):
        customer_make(owner=org.rep1, name="ABC科技有限公司")
        with pytest.raises(DuplicateError):
            customer_create(
                actor=org.rep1,
                data=enterprise(name=variant, phone="13700000000"),
                contacts=[contact(phone="13700000001")],
            )

    def test_a_different_core_name_is_not_a_duplicate(self, org):
        customer_make(owner=org.rep1, name="华科技术有限公司")
        customer = customer_create(
            actor=org.rep1,
            data=enterprise(name="北京华科技术有限公司", phone="13700000000"),
            contacts=[contact(phone="13700000001")],
        )
        assert customer.pk

    def test_the_same_credit_code_is_blocked(self, org):
        existing = customer_make(owner=org.rep1, credit_code=CREDIT_CODE)
        with pytest.raises(DuplicateError) as exc:
            customer_create(
                actor=org.rep1,
                data=enterprise(name="完全不同的名称有限公司", credit_code=CREDIT_CODE.lower()),
                contacts=[contact(phone="13700000001")],
            )
        assert fields_of(exc) == {"credit_code"}
        assert exc.value.extra["existing"]["number"] == existing.number

    def test_the_same_phone_warns_until_the_user_confirms(self, org):
        customer_make(owner=org.rep1, phone="13811112222")
        data = enterprise(name="另一家科技有限公司", phone="138 1111 2222")
        before = state()
        with pytest.raises(DuplicateWarning) as exc:
            customer_create(actor=org.rep1, data=data, contacts=[contact()])
        assert fields_of(exc) == {"phone"}
        assert state() == before
        customer = customer_create(
            actor=org.rep1, data=data, contacts=[contact()], confirm_duplicates=True
        )
        assert customer.phone == "13811112222"

    def test_a_contacts_phone_matches_too(self, org):
        customer_make(owner=org.rep1, contacts=[contact(phone="13922223333")])
        with pytest.raises(DuplicateWarning) as exc:
            customer_create(
                actor=org.rep1,
                data=enterprise(name="另一家科技有限公司", phone="13700000000"),
                contacts=[contact(phone="13922223333")],
            )
        assert fields_of(exc) == {"phone"}

    def test_a_phone_matching_several_records_is_reported_once(self, org):
        first = customer_make(owner=org.rep1, phone="13811112222")
        customer_make(owner=org.rep1, contacts=[contact(phone="13811112222")])
        with pytest.raises(DuplicateWarning) as exc:
            customer_create(
                actor=org.rep1,
                data=enterprise(name="另一家科技有限公司", phone="13811112222"),
                contacts=[contact(phone="13811112222")],
            )
        assert len(exc.value.fields["phone"]) == 1
        assert [w["number"] for w in exc.value.extra["warnings"]] == [first.number]

    def test_the_same_email_warns(self, org):
        customer_make(owner=org.rep1, email="info@huake.cn")
        with pytest.raises(DuplicateWarning) as exc:
            customer_create(
                actor=org.rep1,
                data=enterprise(name="另一家科技有限公司", phone="", email="INFO@huake.cn"),
                contacts=[contact(phone="13700000001")],
            )
        assert fields_of(exc) == {"email"}

    def test_rules_are_configurable(self, org):
        customer_make(owner=org.rep1, name="华科技术有限公司", phone="13811112222")
        # names only warn, phones block
        setting_set(key="duplicate_rules", value={"name": "warn", "phone": "block"})
        with pytest.raises(DuplicateWarning):
            customer_create(
                actor=org.rep1,
                data=enterprise(phone="13700000000"),
                contacts=[contact(phone="13700000001")],
            )
        with pytest.raises(DuplicateError) as exc:
            customer_create(
                actor=org.rep1,
                data=enterprise(name="另一家科技有限公司", phone="13811112222"),
                contacts=[contact(phone="13700000001")],
            )
        assert fields_of(exc) == {"phone"}
        # and switched off entirely
        setting_set(key="duplicate_rules", value={"name": "off", "phone": "off"})
        customer = customer_create(
            actor=org.rep1,
            data=enterprise(phone="13811112222"),
            contacts=[contact(phone="13700000001")],
        )
        assert customer.pk

    def test_the_body_names_the_record_the_actor_may_see(self, org):
        existing = customer_make(owner=org.rep2, name="华科技术有限公司")
        # the manager sees rep2's customers: number and a link target
        with pytest.raises(DuplicateError) as exc:
            customer_create(
                actor=org.manager,
                data=enterprise(phone="13700000000"),
                contacts=[contact(phone="13700000001")],
            )
        body = exc.value.as_dict()
        assert body["existing"] == {
            "field": "name",
            "id": existing.pk,
            "number": existing.number,
            "name": existing.name,
            "visible": True,
        }
        assert existing.number in body["fields"]["name"][0]

    def test_the_body_names_only_the_owner_when_the_actor_may_not_see_the_record(self, org):
        existing = customer_make(owner=org.rep2, name="华科技术有限公司")
        with pytest.raises(DuplicateError) as exc:
            customer_create(
                actor=org.rep1,
                data=enterprise(phone="13700000000"),
                contacts=[contact(phone="13700000001")],
            )
        body = exc.value.as_dict()
        assert body["existing"] == {"field": "name", "owner": "张芳", "visible": False}
        assert existing.number not in str(body)
        assert "张芳" in body["fields"]["name"][0]

    def test_individuals_with_the_same_name_only_warn(self, org):
        customer_make(owner=org.rep1, type="individual", name="张伟", contacts=[])
        data = enterprise(type="individual", name="张伟", phone="13700000000")
        with pytest.raises(DuplicateWarning) as exc:
            customer_create(actor=org.rep1, data=data)
        assert fields_of(exc) == {"name"}
        assert customer_create(actor=org.rep1, data=data, confirm_duplicates=True).pk

    def test_a_deleted_customer_does_not_block_its_name(self, org):
        old = customer_make(owner=org.rep1, name="华科技术有限公司")
        customer_delete(actor=org.manager, customer=old)
        assert customer_create(
            actor=org.rep1,
            data=enterprise(phone="13700000000"),
            contacts=[contact(phone="13700000001")],
        ).pk

    def test_renaming_into_an_existing_name_is_blocked(self, org):
        customer_make(owner=org.rep1, name="华科技术有限公司")
        other = customer_make(owner=org.rep1, name="另一家科技有限公司")
        with pytest.raises(DuplicateError):
            customer_update(
                actor=org.rep1,
                customer=other,
                data={"name": "华科技术 有限责任公司"},
                version=other.version,
            )
        assert Customer.objects.get(pk=other.pk).name == "另一家科技有限公司"

    def test_a_customer_is_not_its_own_duplicate(self, org):
        customer = customer_make(owner=org.rep1, name="华科技术有限公司")
        updated = customer_update(
            actor=org.rep1,
            customer=customer,
            data={"name": "华科技术有限责任公司"},
            version=customer.version,
        )
        assert updated.name == "华科技术有限责任公司"


# --- recycle bin (invariant 4) --------------------------------------------------------------


class TestRecycleBin:
    def test_delete_moves_the_customer_to_the_recycle_bin(self, org):
        customer = customer_make(owner=org.rep1)
        deleted = customer_delete(actor=org.manager, customer=customer, version=customer.version)
        assert deleted.deleted_by == org.manager and deleted.version == customer.version + 1
        assert customer not in customers_visible_to(org.manager)
        assert customer in customers_deleted_visible_to(org.manager)
        assert customer not in customers_deleted_visible_to(org.rep3)  # scope applies there too
        assert Contact.objects.filter(customer=customer).exists()  # nothing is lost
        assert len(audit_of(customer, "delete")) == 1

    def test_a_rep_without_delete_permission_is_refused(self, org):
        customer = customer_make(owner=org.rep1)
        with pytest.raises(PermissionDeniedError):
            customer_delete(actor=org.rep1, customer=customer)
        assert Customer.objects.get(pk=customer.pk).deleted_at is None

    def test_a_stale_delete_is_refused(self, org):
        customer = customer_make(owner=org.rep1)
        customer_update(
            actor=org.rep1, customer=customer, data={"grade": "A"}, version=customer.version
        )
        with pytest.raises(ConflictError):
            customer_delete(actor=org.manager, customer=customer, version=customer.version)

    def test_restore_brings_it_back(self, org):
        customer = customer_make(owner=org.rep1)
        customer_delete(actor=org.manager, customer=customer)
        restored = customer_restore(actor=org.manager, customer=customer)
        assert restored.deleted_at is None and restored.deleted_by is None
        assert customer in customers_visible_to(org.rep1)
        assert len(audit_of(customer, "restore")) == 1
        # restoring twice changes nothing more
        customer_restore(actor=org.manager, customer=customer)
        assert len(audit_of(customer, "restore")) == 1

    def test_a_second_delete_with_the_same_version_is_refused(self, org):
        """Issue 5 §1: a delete that finds the customer already deleted still checks the
        version, so a repeated (or a colleague's) delete from the same copy gets 409."""
        customer = customer_make(owner=org.rep1)
        customer_delete(actor=org.manager, customer=customer, version=customer.version)
        with pytest.raises(ConflictError) as exc:
            customer_delete(actor=org.admin, customer=customer, version=customer.version)
        assert exc.value.extra["current_version"] == customer.version + 1
        assert exc.value.extra["changed_by"] == org.manager.display_name
        assert "recycle bin" in str(exc.value.message) or "回收站" in str(exc.value.message)
        assert len(audit_of(customer, "delete")) == 1

    def test_deleting_a_deleted_customer_without_a_version_changes_nothing(self, org):
        """Without a version a repeated delete is a no-op that succeeds (idempotent)."""
        customer = customer_make(owner=org.rep1)
        first = customer_delete(actor=org.manager, customer=customer)
        again = customer_delete(actor=org.admin, customer=customer)
        assert (again.version, again.deleted_by, again.deleted_at) == (
            first.version,
            org.manager,
            first.deleted_at,
        )
        assert len(audit_of(customer, "delete")) == 1

    def test_a_restore_from_a_stale_copy_is_refused(self, org):
        """Given the recycle bin showed version 2, when the customer was restored and deleted
        again since (version 4), then a restore sent with version 2 is a conflict."""
        customer = customer_make(owner=org.rep1)
        shown = customer_delete(actor=org.manager, customer=customer).version
        customer_restore(actor=org.manager, customer=customer, version=shown)
        customer_delete(actor=org.manager, customer=customer)
        with pytest.raises(ConflictError) as exc:
            customer_restore(actor=org.admin, customer=customer, version=shown)
        assert exc.value.extra["current_version"] == shown + 2
        assert Customer.objects.get(pk=customer.pk).deleted_at is not None
        assert len(audit_of(customer, "restore")) == 1

    @pytest.mark.parametrize("version", ["", "abc", True])
    def test_a_malformed_version_on_delete_or_restore_is_a_field_error(self, org, version):
        customer = customer_make(owner=org.rep1)
        with pytest.raises(ValidationFailed) as exc:
            customer_delete(actor=org.manager, customer=customer, version=version)
        assert fields_of(exc) == {"version"}
        customer_delete(actor=org.manager, customer=customer)
        with pytest.raises(ValidationFailed) as exc:
            customer_restore(actor=org.manager, customer=customer, version=version)
        assert fields_of(exc) == {"version"}

    def test_the_sweep_purges_only_what_is_older_than_the_retention(self, org):
        now = timezone.now()
        old = customer_make(owner=org.rep1)
        recent = customer_make(owner=org.rep1)
        live = customer_make(owner=org.rep1)
        customer_delete(actor=org.manager, customer=old)
        customer_delete(actor=org.manager, customer=recent)
        Customer.objects.filter(pk=old.pk).update(deleted_at=now - dt.timedelta(days=31))
        Customer.objects.filter(pk=recent.pk).update(deleted_at=now - dt.timedelta(days=29))

        assert customers_purge_expired(now=now) == 1
        assert set(Customer.objects.values_list("pk", flat=True)) == {recent.pk, live.pk}
        assert not Contact.objects.filter(customer_id=old.pk).exists()
        [entry] = AuditEntry.objects.filter(action="purge")
        assert (entry.object_id, entry.actor_name) == (old.pk, "system")
        # the history outlives the record
        assert AuditEntry.objects.filter(object_id=old.pk, action="create").exists()
        # idempotent: running it again purges nothing and writes nothing
        assert customers_purge_expired(now=now) == 0
        assert AuditEntry.objects.filter(action="purge").count() == 1

    def test_the_retention_is_configurable(self, org):
        customer = customer_make(owner=org.rep1)
        customer_delete(actor=org.manager, customer=customer)
        setting_set(key="recycle_bin_days", value=7)
        assert customers_purge_expired(now=timezone.now() + dt.timedelta(days=6)) == 0
        assert customers_purge_expired(now=timezone.now() + dt.timedelta(days=8)) == 1


# --- transfer (ORG-3) -----------------------------------------------------------------------


class TestTransfer:
    def test_a_transfer_is_audited(self, org):
        customer = customer_make(owner=org.rep1)
        moved = customer_transfer(actor=org.manager, customer=customer, to_user=org.rep2)
        assert moved.owner == org.rep2 and moved.version == customer.version + 1
        [entry] = audit_of(customer, "transfer")
        assert entry.changes == [{"field": "owner", "before": "李明", "after": "张芳"}]

    def test_a_rep_may_not_transfer(self, org):
        customer = customer_make(owner=org.rep1)
        with pytest.raises(PermissionDeniedError):
            customer_transfer(actor=org.rep1, customer=customer, to_user=org.rep2)

    def test_a_manager_may_not_transfer_outside_the_team(self, org):
        customer = customer_make(owner=org.rep1)
        with pytest.raises(ValidationFailed) as exc:
            customer_transfer(actor=org.manager, customer=customer, to_user=org.rep3)
        assert fields_of(exc) == {"owner"}
        assert Customer.objects.get(pk=customer.pk).owner == org.rep1

    def test_transfer_all_moves_every_customer_of_a_leaving_user(self, org):
        kept = customer_make(owner=org.rep2)
        mine = [customer_make(owner=org.rep1) for _ in range(3)]
        customer_delete(actor=org.manager, customer=mine[0])  # the recycle bin moves too
        assert customers_transfer_all(from_user=org.rep1, to_user=org.rep2, actor=org.admin) == 3
        assert set(Customer.objects.filter(owner=org.rep2)) == {kept, *mine}
        for customer in mine:
            [entry] = audit_of(customer, "transfer")
            assert entry.actor == org.admin
            assert entry.changes == [{"field": "owner", "before": "李明", "after": "张芳"}]
        # a stale form of a transferred customer is refused, not silently applied
        with pytest.raises(ConflictError):
            customer_update(
                actor=org.admin, customer=mine[1], data={"grade": "A"}, version=mine[1].version
            )


# --- contacts (CUS-3) -----------------------------------------------------------------------


def primaries(customer) -> list[str]:
    return list(customer.contacts.filter(is_primary=True).values_list("name", flat=True))


class TestContacts:
    def test_a_new_primary_contact_takes_over(self, org):
        customer = customer_make(owner=org.rep1, contacts=[contact("王伟")])
        contact_create(actor=org.rep1, customer=customer, data=contact("李娜", phone="13900002222"))
        assert primaries(customer) == ["王伟"]
        contact_create(
            actor=org.rep1,
            customer=customer,
            data=contact("赵强", phone="13900003333", is_primary=True),
        )
        assert primaries(customer) == ["赵强"]
        entries = audit_of(customer, "update")
        assert [e.changes for e in entries][-1] == [
            {"field": "contacts", "before": None, "after": "赵强"}
        ]

    def test_making_a_contact_primary_demotes_the_other(self, org):
        customer = customer_make(
            owner=org.rep1, contacts=[contact("王伟"), contact("李娜", phone="13900002222")]
        )
        li = customer.contacts.get(name="李娜")
        contact_update(actor=org.rep1, contact=li, data={"is_primary": True})
        assert primaries(customer) == ["李娜"]

    def test_the_primary_contact_cannot_just_be_unmarked(self, org):
        customer = customer_make(
            owner=org.rep1, contacts=[contact("王伟"), contact("李娜", phone="13900002222")]
        )
        wang = customer.contacts.get(name="王伟")
        contact_update(actor=org.rep1, contact=wang, data={"is_primary": False, "title": "总监"})
        assert primaries(customer) == ["王伟"]
        assert customer.contacts.get(name="王伟").title == "总监"

    def test_a_contact_update_is_audited_field_by_field(self, org):
        customer = customer_make(owner=org.rep1, contacts=[contact("王伟")])
        wang = customer.contacts.get()
        contact_update(actor=org.rep1, contact=wang, data={"title": "总监", "phone": "13900009999"})
        [entry] = audit_of(customer, "update")
        assert {c["field"]: (c["before"], c["after"]) for c in entry.changes} == {
            "contact.title": ("采购经理", "总监"),
            "contact.phone": ("13900001111", "13900009999"),
        }

    def test_contact_errors_are_named_per_field(self, org):
        customer = customer_make(owner=org.rep1)
        with pytest.raises(ValidationFailed) as exc:
            contact_create(
                actor=org.rep1,
                customer=customer,
                data={"name": "", "phone": "12", "email": "x@", "notes": "长" * 2001},
            )
        assert fields_of(exc) == {"name", "phone", "email", "notes"}
        assert customer.contacts.count() == 1

    def test_deleting_the_primary_contact_promotes_the_next(self, org):
        customer = customer_make(
            owner=org.rep1, contacts=[contact("王伟"), contact("李娜", phone="13900002222")]
        )
        contact_delete(actor=org.rep1, contact=customer.contacts.get(name="王伟"))
        assert primaries(customer) == ["李娜"]

    def test_the_last_contact_of_an_enterprise_cannot_be_deleted(self, org):
        customer = customer_make(owner=org.rep1, contacts=[contact("王伟")])
        with pytest.raises(ValidationFailed) as exc:
            contact_delete(actor=org.rep1, contact=customer.contacts.get())
        assert fields_of(exc) == {"contacts"}
        assert primaries(customer) == ["王伟"]

    def test_contact_changes_refresh_the_customers_search_keys(self, org):
        customer = customer_make(owner=org.rep1, contacts=[contact("王伟")])
        new = contact_create(
            actor=org.rep1, customer=customer, data=contact("欧阳娜娜", phone="13955556666")
        )
        assert search(org.rep1, "欧阳") == [customer]
        assert search(org.rep1, "5666") == [customer]
        contact_update(actor=org.rep1, contact=new, data={"name": "司马光"})
        assert search(org.rep1, "司马") == [customer]
        assert search(org.rep1, "欧阳") == []
        contact_delete(actor=org.rep1, contact=new)
        assert search(org.rep1, "司马") == []

    def test_contacts_of_a_customer_outside_the_scope_are_not_found(self, org):
        customer = customer_make(owner=org.rep3)
        with pytest.raises(NotFoundError):
            contact_create(actor=org.rep1, customer=customer, data=contact("李娜"))
        with pytest.raises(NotFoundError):
            contact_update(actor=org.rep1, contact=customer.contacts.get(), data={"title": "x"})
        assert customer.contacts.count() == 1

    def test_contacts_of_a_deleted_customer_are_frozen(self, org):
        customer = customer_make(
            owner=org.rep1, contacts=[contact("王伟"), contact("李娜", phone="13900002222")]
        )
        customer_delete(actor=org.manager, customer=customer)
        for attempt in (
            lambda: contact_create(actor=org.manager, customer=customer, data=contact("赵强")),
            lambda: contact_update(
                actor=org.manager, contact=customer.contacts.first(), data={"title": "x"}
            ),
            lambda: contact_delete(actor=org.manager, contact=customer.contacts.last()),
        ):
            with pytest.raises(ConflictError):
                attempt()
        assert customer.contacts.count() == 2

    def test_read_only_roles_may_not_touch_contacts(self, org):
        customer = customer_make(owner=org.rep1)
        with pytest.raises(PermissionDeniedError):
            contact_create(actor=org.service, customer=customer, data=contact("李娜"))


# --- search keys ----------------------------------------------------------------------------


def test_reindex_rebuilds_stale_search_keys(org):
    customer = customer_make(owner=org.rep1, name="北京华科技术有限公司")
    expected = Customer.objects.values("search_blob", "search_document", "name_key").get()
    # Given keys written by an older version of the index format
    Customer.objects.update(search_blob="", search_document="", name_key="", pinyin="")
    assert search(org.rep1, "bjhk") == []
    # when the reindex runs (twice: it is idempotent)
    assert customers_search_reindex(batch_size=1) == 1
    assert customers_search_reindex() == 1
    # then search and duplicate keys are back
    assert Customer.objects.values("search_blob", "search_document", "name_key").get() == expected
    assert search(org.rep1, "bjhk") == [customer]
