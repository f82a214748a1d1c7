"""Seeded role names and descriptions show in the user's language (issue 5 §4): the Chinese
interface showed "Own customers" and English names beside the Chinese ones."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import reverse

from crm.accounts.models import Role
from crm.accounts.roles import DEFAULT_ROLES

pytestmark = pytest.mark.django_db


def test_the_roles_page_in_chinese_shows_no_english_seed_text(client, org):
    # given the seeded roles and the Chinese interface
    client.force_login(org.admin)
    # when the administrator opens the roles page
    html = client.get(reverse("settings:roles")).content.decode()
    # then each role shows its Chinese name and description, and no English one
    for seed in DEFAULT_ROLES.values():
        assert seed.name in html and seed.description in html
        assert seed.name_en not in html, seed.name_en
        assert seed.description_en.replace("'", "&#x27;") not in html, seed.description_en


def test_the_roles_page_in_english_shows_the_english_texts(client, org):
    client.force_login(org.admin)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(reverse("settings:roles")).content.decode()
    assert "Sales rep" in html and "Own customers" in html
    assert "本人负责的客户" not in html


def test_role_badges_in_the_users_table_follow_the_language(client, org):
    client.force_login(org.admin)
    html = client.get(reverse("settings:users")).content.decode()
    assert "销售代表" in html and "Sales rep" not in html


def test_an_administrator_edits_both_descriptions(client, org):
    role = Role.objects.get(code="sales_rep")
    client.force_login(org.admin)
    response = client.post(
        reverse("settings:role_edit", args=[role.pk]),
        {
            "name": "销售代表",
            "name_en": "Sales rep",
            "description": "负责自己的客户",
            "description_en": "Looks after own customers",
            "perm-customers": ["view"],
            "scope-customers": "own",
        },
    )
    assert response.status_code == 302
    role.refresh_from_db()
    assert role.description == "负责自己的客户"
    assert role.description_en == "Looks after own customers"


def test_the_migration_turns_an_untouched_english_description_into_the_pair():
    """Databases seeded before descriptions had two languages hold the English text."""
    migration = importlib.import_module("crm.accounts.migrations.0003_role_description_en")
    rep = Role.objects.get(code="sales_rep")
    rep.description, rep.description_en = "Own customers", ""
    rep.save()
    custom = Role.objects.get(code="finance")
    custom.description, custom.description_en = "开票专用", ""
    custom.save()

    migration.pair_descriptions(apps, None)

    rep.refresh_from_db()
    custom.refresh_from_db()
    assert (rep.description, rep.description_en) == ("本人负责的客户", "Own customers")
    assert custom.description == "开票专用"  # an administrator's own text is kept
