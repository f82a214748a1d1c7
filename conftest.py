"""Shared fixtures: the default roles' users in a small org, and factories."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import translation

from crm.core.configstate import process_cache
from crm.tests_support.factories import org_build


@pytest.fixture(autouse=True)
def _clear_cache():
    # Each test starts from the database's truth. The parsed configuration is keyed by the
    # stamp, which a test's rollback puts back: what a test wrote without bumping it (a
    # QuerySet.update) must not reach the next test under the same stamp.
    cache.clear()
    process_cache.clear()
    yield
    cache.clear()
    process_cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    # A request in English (an API call with Accept-Language: en) leaves English active in the
    # thread; the next test must not start in it.
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # PBKDF2 at production strength costs about a second per user, and `org` makes nine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def _media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _backup_dir(settings, tmp_path_factory):
    # Archives written by any test go to a temporary folder, never into data/backups.
    settings.CRM_BACKUP_DIR = tmp_path_factory.getbasetemp() / "backups"


@pytest.fixture(autouse=True)
def _media_root(settings, _media_dir):
    # Attachments written by any test go to a temporary folder, never into data/media.
    settings.MEDIA_ROOT = str(_media_dir)


@pytest.fixture
def org(db):
    """A small company: admin, two sales teams (manager + reps), service, finance, executive.

    Returns a namespace with .admin .manager .rep1 .rep2 .manager2 .rep3 .service .finance
    .exec and the departments .dept1 .dept2 .dept_service.
    """
    return org_build()


@pytest.fixture(autouse=True)
def _seeded_defaults(request):
    """Transactional tests flush every table afterwards, including the rows the data
    migrations seed (default roles, lists, numbering rules); put them back before each such
    test so it starts from what a fresh installation has."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from django.contrib.contenttypes.models import ContentType

    from crm.accounts.roles import roles_seed
    from crm.core.dictionaries import dictionaries_seed
    from crm.core.numbering import numbering_rule_get
    from crm.sales.stages import stages_seed

    # The flush also recreated the content types under new ids; forget the cached old ones.
    ContentType.objects.clear_cache()
    roles_seed()
    dictionaries_seed()
    numbering_rule_get(key="customer")
    numbering_rule_get(key="opportunity")
    stages_seed()
