"""What each module offers to imports and exports (SYS-4, issue 8 §2 §3).

A module declares one `DataModule` in `crm/<app>/dataio.py` and registers it from its
AppConfig.ready(): its columns (the built-in fields plus the active custom fields), the rows
its list shows for a user and a query string, and how a cell's value is read. The export
writes a column's `label` as the header and a choice's label as the cell, the import reads
either back, so an exported file re-imports unchanged. Modules still to come (tasks, products,
orders, payments) get import and export by declaring the same few lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.functional import Promise

KINDS = (
    "text",
    "textarea",
    "integer",
    "decimal",
    "date",
    "datetime",
    "choice",
    "multichoice",
    "bool",
    "user",
    "phone",
    "email",
    "url",
)


@dataclass(frozen=True)
class Column:
    key: str  # "name", "owner", "custom.<key>", "contact.phone"
    label: str | Promise  # the header: the model field's verbose_name
    kind: str  # one of KINDS
    dictionary: str | None = None  # DictionaryItem kind (choice columns store codes)
    choices: tuple[tuple[str, str], ...] | None = None  # TextChoices (code, label)
    required: bool = False
    importable: bool = True  # False: number-like/derived, exported only
    personal: bool = False  # phone/email: masked without view_contact


@dataclass
class ImportRow:
    """One data row of an import file, as the engine hands it to a module's batch writer.

    `line` is the spreadsheet's row number (the header is row 1). `values` holds the mapped,
    non-empty cells by column key, already parsed per Column.kind into what the module's
    services take as input: a choice's code (a label read back as its code; an unknown text
    passed as typed, so the service answers with the form's message), a user's id, a date,
    a Decimal, a custom column's stored value under values["custom"][key]. `errors` are
    (column key or service field name, message) pairs: the engine's own (a cell it could
    not read) come first; the writer adds the services' and sets `outcome`.
    """

    line: int
    cells: list[Any]
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    outcome: str = ""  # create | update | skip | reject

    def reject(self, key: str, message: Any) -> None:
        self.errors.append((key, str(message)))
        self.outcome = "reject"

    def reject_all(self, exc: Any, names: dict[str, str] | None = None) -> None:
        """Every field message of a service's ValidationFailed, under its column (`names`
        renames service fields such as customer_id to the column that fed them)."""
        for name, messages in exc.fields.items():
            for message in messages:
                self.reject((names or {}).get(name, name), message)


def value_is_empty(value: Any) -> bool:
    """An empty field for "update the empty fields only" (0 and False are values)."""
    return value is None or value == "" or value == [] or value == {}


@dataclass
class ImportContext:
    """What a batch writer needs about the whole import (built once per run)."""

    actor: Any
    module: DataModule
    match: list[str]  # the match keys in the order asked for (subset of ImportSpec.match_keys)
    on_match: str  # skip | update_empty | overwrite
    dry_run: bool
    columns: dict[str, Column]  # the mapped columns by key
    # Within-file duplicates: {hash of (field, normalised value): first line}; the writer
    # calls seen_before() so a second row with the same key is rejected (kept across batches).
    seen: dict[int, int] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)  # the writer's per-import memo

    def seen_before(self, key: str, value: str, line: int) -> int | None:
        """The earlier line with this normalised key value in the file, else None (and
        remember this one). Values are hashed: a million rows stay within memory."""
        import hashlib

        # One int per entry (no tuple): ~100 bytes a row and key at a million rows.
        digest = int.from_bytes(
            hashlib.blake2b(f"{key}\0{value}".encode(), digest_size=8).digest(), "big"
        )
        first = self.seen.setdefault(digest, line)
        return first if first != line else None

    def keeps(self, current: Any) -> bool:
        """On a match, whether the record's current value stays: "update the empty fields
        only" keeps every value that is there; "overwrite" keeps none."""
        return self.on_match == "update_empty" and not value_is_empty(current)

    def custom_changes(self, current: dict[str, Any] | None, incoming: dict[str, Any]) -> dict:
        """The custom values a matched row writes, by the same rule field by field."""
        return {k: v for k, v in incoming.items() if not self.keeps((current or {}).get(k))}


@dataclass(frozen=True)
class ImportSpec:
    """A module's part in imports (crm.dataio.imports runs the file, the module writes).

    - `match_keys`: the keys an existing record may be matched by, e.g. ("number",
      "credit_code", "name", "phone", "email"); the API refuses others (422 `match`).
    - `default_match`: the order used when the import does not say.
    - `write_batch(ctx, rows)`: validate and write one batch (about 500 rows) inside the
      transaction the engine opened for it (the engine rolls it back for a dry run, so the
      writer writes the same way in both). For every row it sets row.outcome to "create",
      "update", "skip" or "reject" (with row.reject(key, message) naming the column key or
      the service's field name and the form's message). It must not run queries per row:
      one lookup per match key per batch, bulk_create/bulk_update, audit_record_many.
    - `action`: the permission action that allows importing (crm.core.permissions; the
      module's `permission` is the module checked). Updating a matched record also needs
      "edit", checked by the writer.
    - `example`: {column key: cell} for the template's example row.
    """

    match_keys: tuple[str, ...]
    default_match: tuple[str, ...]
    write_batch: Callable[[ImportContext, list[ImportRow]], None]
    action: str = "create"
    example: Callable[[], dict[str, Any]] | None = None


@dataclass(frozen=True)
class DataModule:
    key: str  # customers | contacts | leads | opportunities | followups
    label: str | Promise
    permission: str  # crm.core.permissions module ("customers" for contacts too)
    columns: Callable[[], list[Column]]  # built-ins + active custom fields
    rows: Callable[[Any, QueryDict], QuerySet]  # (user, GET) -> the list as the page shows it
    value: Callable[[Any, Column], Any]  # (obj, column) -> python value for a cell
    # The module's recycle bin as its page shows it (exported by those who may empty it);
    # None: the module has no recycle bin.
    deleted_rows: Callable[[Any, QueryDict], QuerySet] | None = None
    # How the module imports (None: no import; see ImportSpec).
    importer: ImportSpec | None = None


_MODULES: dict[str, DataModule] = {}


def dataio_module_register(module: DataModule) -> None:
    """Declare (or re-declare, e.g. in tests) a module's import/export part."""
    _MODULES[module.key] = module


def dataio_module(key: str) -> DataModule:
    """The declared module; KeyError for a key nobody declared (the API answers 404)."""
    return _MODULES[key]


def dataio_modules() -> list[DataModule]:
    return list(_MODULES.values())


# --- helpers the declarations share ------------------------------------------------------------


def field_column(model: Any, name: str, kind: str, **options: Any) -> Column:
    """A column for a model field, labelled with its verbose_name (what the forms call it),
    required when the form requires it (not blank), choices from the field's TextChoices."""
    field = model._meta.get_field(name)
    if "choices" not in options and field.choices and kind in ("choice", "multichoice"):
        options["choices"] = tuple((str(c), label) for c, label in field.choices)
    # Required: the form cannot leave it empty and the model has no default to fill in.
    options.setdefault("required", not field.blank and not field.has_default())
    options.setdefault("personal", kind in ("phone", "email"))
    return Column(key=name, label=field.verbose_name, kind=kind, **options)


def custom_columns(module: str) -> list[Column]:
    """The module's active custom fields as columns (crm.core.customfields), keyed
    `custom.<key>`, labelled with the field's label in the interface language."""
    from crm.core.customfields import custom_fields_active

    return [
        Column(
            key=f"custom.{field.key}",
            label=field.display_label,
            kind=field.type,
            dictionary=field.dictionary_kind if field.type in ("choice", "multichoice") else None,
            required=field.required,
            personal=field.type in ("phone", "email"),
        )
        for field in custom_fields_active(module)
    ]


def custom_value(obj: Any, column: Column) -> Any:
    """The stored JSON value of a custom column (codes for choices, an id for a user)."""
    return (getattr(obj, "custom", None) or {}).get(column.key.removeprefix("custom."))


def attribute_value(obj: Any, column: Column) -> Any:
    """The default reader: custom values from `custom`, "a.b" through a relation (None when
    the relation is empty), anything else as the attribute."""
    if column.key.startswith("custom."):
        return custom_value(obj, column)
    value = obj
    for part in column.key.split("."):
        if value is None:
            return None
        value = getattr(value, part, None)
    return value
