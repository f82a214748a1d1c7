"""Backup and restore (SYS-3): the archive, the restore drill, refusals, verification."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from crm.customers.lifecycle import customer_lifecycle_change
from crm.customers.models import Customer
from crm.dataio import backups
from crm.dataio.backups import BackupError, archive_restore, archive_write
from crm.tests_support.activities import followup_make
from crm.tests_support.factories import customer_make
from crm.tests_support.files import attachment_make, png_bytes
from crm.tests_support.leads import lead_make
from crm.tests_support.notify import notification_make
from crm.tests_support.sales import opportunity_make, stage

DRILL = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def every_module(org):
    """Data of every module: customers with contacts, leads, opportunities with a stage
    change, follow-ups, attachments, an approval, notifications and the audit they write."""
    from crm.sales.services import opportunity_move_stage

    customer = customer_make(owner=org.rep1, status="deal")
    customer_make(owner=org.rep2)
    lead_make(owner=org.rep1)
    opp = opportunity_make(owner=org.rep1, customer=customer)
    opportunity_move_stage(
        actor=org.rep1, opportunity=opp, stage=stage("proposal"), version=opp.version
    )
    followup_make(customer=customer, actor=org.rep1)
    attachment_make(actor=org.rep1, record=customer)
    attachment_make(actor=org.rep1, record=customer, name="图.png", content=png_bytes())
    fresh = Customer.objects.get(pk=customer.pk)
    _, approval = customer_lifecycle_change(
        actor=org.rep1, customer=fresh, status="lost", reason="price_high", version=fresh.version
    )
    assert approval is not None
    notification_make(recipient=org.rep1)
    return customer


def sqlite_target(tmp_path: Path) -> dict:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "restored.sqlite3")}


def table_rows(db: dict, table: str) -> list[tuple]:
    """Every row of a table, ordered, read straight from the database file or server."""
    quoted = '"' + table + '"'
    if backups.vendor_of(db) == "sqlite":
        conn = sqlite3.connect(db["NAME"])
        try:
            return sorted(conn.execute(f"SELECT * FROM {quoted}").fetchall(), key=repr)
        finally:
            conn.close()
    conn = backups._pg_connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM {quoted}")
            return sorted(cur.fetchall(), key=repr)
    finally:
        conn.close()


@pytest.fixture
def fresh_db(tmp_path):
    """A new, empty database of the live kind: an SQLite file, or a PostgreSQL database
    created for the test (and dropped after)."""
    live = dict(connection.settings_dict)
    if backups.vendor_of(live) == "sqlite":
        yield sqlite_target(tmp_path)
        return
    name = f"crm_restore_{uuid.uuid4().hex[:10]}"
    admin = backups._pg_connect(live)
    admin.autocommit = True
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {**live, "NAME": name}
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@DRILL
def test_restore_drill_every_table_comes_back_identical(org, tmp_path, fresh_db, settings):
    every_module(org)
    result = archive_write(directory=tmp_path / "out")
    manifest = result.manifest
    assert manifest["database"]["vendor"] == backups.vendor_of(connection.settings_dict)
    assert manifest["tables"][Customer._meta.db_table] == 2
    from crm.core.models import Attachment

    stored = {item["path"] for item in manifest["files"]["items"]}
    names = set(Attachment.objects.values_list("file", flat=True))
    assert len(names) == 2 and names <= stored  # (the shared test folder may hold more)
    assert "dataio" in manifest["migrations"]

    media = tmp_path / "media-restored"
    restored = archive_restore(result.path, db=fresh_db, media=media)
    assert restored.files == len(stored)

    live = connection.settings_dict
    compared = 0
    for model in apps.get_models(include_auto_created=True):
        if not model._meta.managed or model._meta.proxy:
            continue
        table = model._meta.db_table
        assert table_rows(fresh_db, table) == table_rows(live, table), table
        compared += 1
    assert compared > 30
    for item in manifest["files"]["items"]:
        original = Path(settings.MEDIA_ROOT) / item["path"]
        assert (media / item["path"]).read_bytes() == original.read_bytes()


@DRILL
def test_restore_refuses_a_database_with_data_unless_forced(org, tmp_path, fresh_db):
    customer_make(owner=org.rep1)
    archive = archive_write(directory=tmp_path / "out", media=None).path
    archive_restore(archive, db=fresh_db, media=None)
    with pytest.raises(BackupError, match="not empty"):
        archive_restore(archive, db=fresh_db, media=None)
    result = archive_restore(archive, db=fresh_db, media=None, force=True)
    assert result.rows == sum(result.manifest["tables"].values())


@DRILL
def test_the_commands_back_up_and_refuse_the_live_database(org, tmp_path, capsys):
    customer_make(owner=org.rep1)
    call_command("backup", to=str(tmp_path))
    archive = next(tmp_path.glob("crm-backup-*.tar.gz"))
    assert str(archive) in capsys.readouterr().out
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(archive))
    call_command("restore", str(archive), force=True)
    assert "verified against the manifest" in capsys.readouterr().out
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_a_freshly_migrated_database_counts_as_empty():
    """Only what `migrate` seeds (roles, stages, dictionaries): a restore target."""
    assert backups.data_tables(backups.target_rows(connection.settings_dict)) == []


def _rewrite(archive: Path, out: Path, change) -> Path:
    """Copy an archive, passing each member's (name, bytes) through `change`."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read()
            data = change(member.name, data)
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


@DRILL
def test_a_damaged_archive_fails_the_checksum_and_writes_nothing(org, tmp_path, fresh_db):
    customer = customer_make(owner=org.rep1)
    attachment_make(actor=org.rep1, record=customer)
    archive = archive_write(directory=tmp_path / "out").path

    def flip(name, data):
        if name.startswith("files/"):
            return data[:-1] + bytes([data[-1] ^ 1])
        return data

    damaged = _rewrite(archive, tmp_path / "damaged.tar.gz", flip)
    with pytest.raises(BackupError, match="checksum mismatch"):
        archive_restore(damaged, db=fresh_db, media=tmp_path / "m")
    assert backups.target_rows(fresh_db) == {}
    with pytest.raises(CommandError, match="checksum mismatch"):
        call_command("restore", str(damaged), force=True)


@DRILL
def test_counts_that_differ_from_the_manifest_fail_verification(org, tmp_path, fresh_db):
    customer_make(owner=org.rep1)
    archive = archive_write(directory=tmp_path / "out", media=None).path

    def inflate(name, data):
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["tables"][Customer._meta.db_table] += 1
            return json.dumps(manifest).encode()
        return data

    lying = _rewrite(archive, tmp_path / "lying.tar.gz", inflate)
    with pytest.raises(BackupError, match="verification failed: table customers_customer"):
        archive_restore(lying, db=fresh_db, media=None)


def test_not_an_archive_is_a_clear_error(tmp_path):
    bogus = tmp_path / "x.tar.gz"
    bogus.write_bytes(b"not a tar")
    with pytest.raises(BackupError, match="not a CRM backup archive"):
        backups.archive_manifest(bogus)


def test_unsafe_member_paths_are_refused():
    for name in ("/etc/passwd", "../x", "files/../../x"):
        with pytest.raises(BackupError, match="unsafe path"):
            backups._safe_member(name)


@pytest.mark.postgres
@pytest.mark.django_db
def test_pg_dump_matches_the_server_and_gets_the_password_from_the_environment():
    if backups.vendor_of(connection.settings_dict) != "postgresql":
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL")
    db = {**connection.settings_dict, "PASSWORD": "s3cret"}
    conn = backups._pg_connect(connection.settings_dict)
    try:
        tool = backups.pg_tool("pg_dump", conn)
        major = int(conn.info.server_version) // 10000
    finally:
        conn.close()
    assert f"/{major}/" in tool or tool.endswith("pg_dump")
    env = backups.pg_env(db)
    assert env["PGPASSWORD"] == "s3cret" and env["PGDATABASE"] == db["NAME"]
