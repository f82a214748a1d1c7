"""Backup and restore (SYS-3, issue 8 §5): one archive holds the database and the files.

An archive is a tar.gz with three parts:

- `database/db.sqlite3` (SQLite: a copy made with the online backup API, so a write in
  progress never tears it) or `database/db.pgdump` (PostgreSQL: `pg_dump --format=custom`);
- `files/<path>`: every file of the attachments' storage (the local folder; an S3 bucket is
  skipped and the manifest says so: a bucket is backed up by its own versioning/replication,
  copying it through the web server would double its traffic and could take hours);
- `manifest.json`, written last: the app version, the time, the database vendor, the applied
  migrations, the row count of every table *as of the snapshot*, and the sha256 of the dump
  and of every file, so that a restore can prove it got back what was saved.

`archive_write` makes an archive; `archive_restore` checks an archive against its manifest,
puts it into an empty database (or any, with force), and verifies the result. Both are plain
functions that take the database settings (a Django settings dict) and the files' folder as
arguments, so the restore drill can restore into a fresh database beside the live one. The
Backup rows, the schedule and the notifications live in crm.dataio.services.backups.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils import timezone

FORMAT = 1
MANIFEST = "manifest.json"
DB_SQLITE = "database/db.sqlite3"
DB_PGDUMP = "database/db.pgdump"
FILES = "files/"
CHUNK = 1024 * 1024
# Tables Django fills on `migrate` itself, or that the CRM's own migrations seed (roles,
# default settings, dictionary lists): a database holding rows only there is "empty" for a
# restore. A freshly migrated database must pass (test_restore_into_migrated_database).
MIGRATION_SEEDED = frozenset(
    {
        "django_migrations",
        "django_content_type",
        "auth_permission",
    }
)


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says why, for the operator."""


@dataclass
class ArchiveResult:
    path: Path
    size: int
    sha256: str
    manifest: dict[str, Any]


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    tables: int
    rows: int
    files: int
    problems: list[str] = field(default_factory=list)


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crm")
    except PackageNotFoundError:
        return "unknown"


def vendor_of(db: dict[str, Any]) -> str:
    engine = db["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqlite"
    if engine.endswith("postgresql"):
        return "postgresql"
    raise BackupError(f"backups support SQLite and PostgreSQL, not {engine}")


def default_database() -> dict[str, Any]:
    """The live database's settings (in tests: the test database's)."""
    from django.db import connections

    return connections["default"].settings_dict


def files_root() -> Path | None:
    """The local folder of the attachments' storage, or None when it is not local (S3)."""
    if isinstance(default_storage, FileSystemStorage):
        return Path(default_storage.location)
    return None


def backup_dir() -> Path:
    return Path(settings.CRM_BACKUP_DIR)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Hashing(io.RawIOBase):
    """Reads a file through, hashing what passes, so a file is read once into the archive."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        return data


# --- the database: snapshot, counts, migrations ---------------------------------------------


def _sqlite_snapshot(db: dict[str, Any], target: Path) -> None:
    """Copy the live file with SQLite's online backup API: a consistent copy even while the
    web server writes (the copy is one read transaction of the source)."""
    source = sqlite3.connect(str(db["NAME"]))
    try:
        dest = sqlite3.connect(str(target))
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()


def _sqlite_facts(path: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Row counts of every table and the applied migrations of an SQLite file."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return _facts(conn.cursor(), "sqlite")
    finally:
        conn.close()


def _facts(cursor: Any, vendor: str) -> tuple[dict[str, int], dict[str, list[str]]]:
    if vendor == "sqlite":
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    else:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        )
    tables = [row[0] for row in cursor.fetchall()]
    counts: dict[str, int] = {}
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        cursor.execute(f"SELECT COUNT(*) FROM {quoted}")
        counts[table] = int(cursor.fetchone()[0])
    migrations: dict[str, list[str]] = {}
    if "django_migrations" in counts:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        for app, name in cursor.fetchall():
            migrations.setdefault(app, []).append(name)
    return counts, migrations


def pg_env(db: dict[str, Any]) -> dict[str, str]:
    """The connection for pg_dump/pg_restore as PG* variables: a password on the command line
    would show in `ps` to every user of the machine."""
    env = {**os.environ}
    pairs = {
        "PGHOST": db.get("HOST"),
        "PGPORT": db.get("PORT"),
        "PGUSER": db.get("USER"),
        "PGPASSWORD": db.get("PASSWORD"),
        "PGDATABASE": db.get("NAME"),
        "PGSSLMODE": (db.get("OPTIONS") or {}).get("sslmode"),
    }
    for key, value in pairs.items():
        if value not in (None, ""):
            env[key] = str(value)
    return env


def _pg_connect(db: dict[str, Any]) -> Any:
    import psycopg

    params = {
        "dbname": db.get("NAME"),
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    sslmode = (db.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        params["sslmode"] = sslmode
    return psycopg.connect(**{k: v for k, v in params.items() if v is not None})


def pg_tool(name: str, conn: Any) -> str:
    """pg_dump/pg_restore of the server's major version (an older pg_dump refuses a newer
    server; Debian installs each version under /usr/lib/postgresql/<major>/bin), else PATH's."""
    major = int(conn.info.server_version) // 10000
    candidate = Path(f"/usr/lib/postgresql/{major}/bin/{name}")
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise BackupError(
        f"{name} not found (looked in {candidate.parent} and PATH); install the PostgreSQL "
        f"{major} client tools"
    )


def _pg_snapshot(db: dict[str, Any], target: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    """pg_dump in custom format, and the row counts of the very same snapshot: a repeatable
    read transaction exports its snapshot, counts in it, and pg_dump --snapshot dumps it."""
    conn = _pg_connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = cur.fetchone()[0]
            counts, migrations = _facts(cur, "postgresql")
            tool = pg_tool("pg_dump", conn)
            proc = subprocess.run(
                [
                    tool,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                ],
                env=pg_env(db),
                capture_output=True,
                text=True,
                check=False,
            )
            conn.rollback()
        if proc.returncode != 0:
            raise BackupError(f"pg_dump failed: {proc.stderr.strip()[:1000]}")
    finally:
        conn.close()
    return counts, migrations


# --- writing an archive ---------------------------------------------------------------------


def archive_name(moment: dt.datetime) -> str:
    local = timezone.localtime(moment)
    return f"crm-backup-{local:%Y%m%d-%H%M%S}.tar.gz"


def archive_write(
    *,
    directory: Path,
    now: dt.datetime | None = None,
    db: dict[str, Any] | None = None,
    media: Path | bool | None = True,
) -> ArchiveResult:
    """Write one archive into `directory` and return its path, size, sha256 and manifest.

    Written under a `.partial` name and renamed when complete, so a crash never leaves
    something that looks like a backup.
    """
    db = db or default_database()
    vendor = vendor_of(db)
    moment = now or timezone.now()
    root = files_root() if media is True else (media or None)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / archive_name(moment)
    n = 1
    while final.exists():  # two in one second (tests, a double click)
        final = directory / archive_name(moment).replace(".tar.gz", f"-{n}.tar.gz")
        n += 1
    partial = final.with_name(final.name + ".partial")
    with tempfile.TemporaryDirectory(dir=directory, prefix=".backup-") as tmp:
        if vendor == "sqlite":
            dump = Path(tmp) / "db.sqlite3"
            _sqlite_snapshot(db, dump)
            counts, migrations = _sqlite_facts(dump)
            member = DB_SQLITE
        else:
            dump = Path(tmp) / "db.pgdump"
            counts, migrations = _pg_snapshot(db, dump)
            member = DB_PGDUMP
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "app": "crm",
            "app_version": app_version(),
            "created_at": timezone.localtime(moment).isoformat(),
            "database": {
                "vendor": vendor,
                "file": member,
                "size": dump.stat().st_size,
                "sha256": file_sha256(dump),
            },
            "migrations": migrations,
            "tables": counts,
            "files": {"storage": "local" if root else "s3", "skipped": "", "items": []},
        }
        if root is None:
            manifest["files"]["skipped"] = (
                "The attachments are in an S3-compatible bucket: not copied into the archive; "
                "back the bucket up with its own versioning or replication."
            )
        try:
            with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
                tar.add(dump, arcname=member)
                if root is not None and root.exists():
                    _files_add(tar, root, manifest["files"]["items"])
                body = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(body)
                info.mtime = int(moment.timestamp())
                tar.addfile(info, io.BytesIO(body))
            os.replace(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return ArchiveResult(
        path=final, size=final.stat().st_size, sha256=file_sha256(final), manifest=manifest
    )


def _files_add(tar: tarfile.TarFile, root: Path, items: list[dict[str, Any]]) -> None:
    """Every regular file under the storage folder, hashed while it is read into the tar."""
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if not path.is_file() or path.is_symlink():
                continue
            rel = path.relative_to(root).as_posix()
            info = tar.gettarinfo(str(path), arcname=FILES + rel)
            with open(path, "rb") as fh:
                hashing = _Hashing(fh)
                tar.addfile(info, hashing)
            items.append({"path": rel, "size": info.size, "sha256": hashing.digest.hexdigest()})


# --- restoring ------------------------------------------------------------------------------


def archive_manifest(path: Path) -> dict[str, Any]:
    try:
        with tarfile.open(path, "r:gz") as tar:
            member = tar.getmember(MANIFEST)
            fh = tar.extractfile(member)
            if fh is None:
                raise KeyError(MANIFEST)
            manifest = json.loads(fh.read())
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(
            f"{path} is not a CRM backup archive (no readable manifest): {exc}"
        ) from exc
    if manifest.get("app") != "crm" or manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: unknown archive format {manifest.get('format')!r}")
    return manifest


def _safe_member(name: str) -> str:
    """A member path that stays inside the folder it is extracted into."""
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise BackupError(f"unsafe path in the archive: {name!r}")
    return pure.as_posix()


def target_rows(db: dict[str, Any]) -> dict[str, int]:
    """Row counts of the target database's tables ({} when it has none or does not exist)."""
    vendor = vendor_of(db)
    if vendor == "sqlite":
        path = Path(db["NAME"])
        if not path.exists() or path.stat().st_size == 0:
            return {}
        return _sqlite_facts(path)[0]
    conn = _pg_connect(db)
    try:
        with conn.cursor() as cur:
            return _facts(cur, "postgresql")[0]
    finally:
        conn.close()


def data_tables(counts: dict[str, int]) -> list[str]:
    """The tables holding data someone entered (not only what `migrate` put there)."""
    return sorted(t for t, n in counts.items() if n and t not in seeded_tables())


def seeded_tables() -> frozenset[str]:
    """MIGRATION_SEEDED plus the tables the CRM's data migrations fill (roles, settings,
    dictionaries), named by their models so a renamed table follows."""
    from django.apps import apps

    names = set(MIGRATION_SEEDED)
    for label in SEEDED_MODELS:
        try:
            names.add(apps.get_model(label)._meta.db_table)
        except LookupError:
            continue
    return frozenset(names)


SEEDED_MODELS = (
    "accounts.Role",
    "accounts.RolePermission",
    "core.ConfigStamp",
    "core.DictionaryItem",
    "core.NumberingRule",
    "core.SystemSetting",
    "sales.Stage",
)


def archive_restore(
    path: Path,
    *,
    db: dict[str, Any] | None = None,
    media: Path | bool | None = True,
    force: bool = False,
) -> RestoreResult:
    """Restore an archive into `db` (default: the live database) and `media`, then verify.

    Refuses a database that holds data unless `force`. Every member is checked against the
    manifest's sha256 before anything is written; after the restore the row count of every
    table is compared with the manifest. Raises BackupError naming what did not match.
    """
    db = db or default_database()
    vendor = vendor_of(db)
    path = Path(path)
    manifest = archive_manifest(path)
    if manifest["database"]["vendor"] != vendor:
        raise BackupError(
            f"the archive holds a {manifest['database']['vendor']} database; the target is "
            f"{vendor} (restore it into a database of the same kind)"
        )
    if not force:
        busy = data_tables(target_rows(db))
        if busy:
            raise BackupError(
                "the target database is not empty (rows in "
                + ", ".join(busy[:8])
                + (" …" if len(busy) > 8 else "")
                + "); restore into an empty database, or pass --force to overwrite it"
            )
    root = files_root() if media is True else (media or None)
    work_dir = Path(db["NAME"]).parent if vendor == "sqlite" else backup_dir()
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix=".restore-") as tmp:
        staged = Path(tmp)
        _extract_checked(path, manifest, staged)
        dump = staged / manifest["database"]["file"]
        if vendor == "sqlite":
            _sqlite_restore(dump, Path(db["NAME"]))
        else:
            _pg_restore(dump, db)
        files = 0
        if root is not None and manifest["files"]["storage"] == "local":
            files = _files_restore(staged / "files", root)
    return _verify(manifest, db, root, files)


def _extract_checked(path: Path, manifest: dict[str, Any], staged: Path) -> None:
    """Extract the dump and the files into `staged`, hashing each against the manifest."""
    expected = {manifest["database"]["file"]: manifest["database"]["sha256"]}
    for item in manifest["files"]["items"]:
        expected[FILES + item["path"]] = item["sha256"]
    seen: set[str] = set()
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.name == MANIFEST:
                    continue
                name = _safe_member(member.name)
                if not member.isfile():
                    raise BackupError(f"unexpected entry in the archive: {name!r}")
                if name not in expected:
                    raise BackupError(f"{name} is in the archive but not in its manifest")
                out = staged / name
                out.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                digest = hashlib.sha256()
                with open(out, "wb") as fh:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        fh.write(chunk)
                if digest.hexdigest() != expected[name]:
                    raise BackupError(
                        f"checksum mismatch for {name}: the archive is damaged "
                        f"(sha256 {digest.hexdigest()}, manifest {expected[name]})"
                    )
                seen.add(name)
    except (OSError, EOFError, tarfile.TarError, ValueError) as exc:
        raise BackupError(f"{path}: the archive cannot be read: {exc}") from exc
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError("the archive lacks what its manifest lists: " + ", ".join(missing[:5]))


def _sqlite_restore(dump: Path, target: Path) -> None:
    """Put the snapshot in place through the backup API into the target: SQLite then handles
    the target's journal (WAL) itself, which copying the file over it would corrupt. Django's
    connections are closed first so none keeps reading the old pages."""
    from django.db import connections

    connections.close_all()
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(str(target))
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()


def _pg_restore(dump: Path, db: dict[str, Any]) -> None:
    from django.db import connections

    connections.close_all()
    conn = _pg_connect(db)
    try:
        tool = pg_tool("pg_restore", conn)
    finally:
        conn.close()
    proc = subprocess.run(
        [
            tool,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={db['NAME']}",
            str(dump),
        ],
        env=pg_env(db),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BackupError(f"pg_restore failed: {proc.stderr.strip()[:1000]}")


def _files_restore(staged: Path, root: Path) -> int:
    count = 0
    if not staged.exists():
        return 0
    for folder, _dirs, names in os.walk(staged):
        for name in names:
            source = Path(folder) / name
            dest = root / source.relative_to(staged)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
            count += 1
    return count


def _verify(
    manifest: dict[str, Any], db: dict[str, Any], root: Path | None, files: int
) -> RestoreResult:
    """Compare the restored database and files with the manifest."""
    counts = target_rows(db)
    problems = []
    for table, expected in sorted(manifest["tables"].items()):
        got = counts.get(table)
        if got != expected:
            problems.append(f"table {table}: {got} rows, the manifest says {expected}")
    if root is not None and manifest["files"]["storage"] == "local":
        for item in manifest["files"]["items"]:
            path = root / item["path"]
            if not path.exists():
                problems.append(f"file {item['path']} is missing")
            elif file_sha256(path) != item["sha256"]:
                problems.append(f"file {item['path']}: checksum differs from the manifest")
    if problems:
        raise BackupError("verification failed: " + "; ".join(problems[:20]))
    return RestoreResult(
        manifest=manifest,
        tables=len(counts),
        rows=sum(manifest["tables"].values()),
        files=files,
        problems=problems,
    )
