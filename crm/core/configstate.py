"""Configuration every request reads, parsed once per process and kept fresh by a stamp.

Dictionaries, system settings, role grants, the supervisor chain and the department tree are
read on nearly every request and change a few times a day. They live here as plain Python
values (dicts and tuples, never model instances), in a cache local to the process, keyed by a
stamp stored in the database (`core.ConfigStamp`):

- every configuration write bumps the stamp in the same transaction (`config_changed()`,
  called by the services, and by the signal receivers of `config_models_register()` for
  writes through the ORM elsewhere: admin, factories, shell);
- a reader reads the stamp at most once per request (`config_scope()`, entered by
  `ConfigStampMiddleware`), and outside a scope (tasks, CLI) once per use; a stamp it has not
  seen makes it drop what it had and load each section again on first use.

So every process sees a change at its next request, whatever the cache backend (nothing here
goes through Django's cache: no network round trip and no unpickling per lookup). The stamp is
a random token, not a counter: a rolled-back bump can never be reused for other data.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connection, models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

# None: no scope (read the stamp per use); "": a scope whose stamp has not been read yet.
_scope_stamp: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "crm_config_stamp", default=None
)
_UNREAD = ""
MISSING_STAMP = "missing"  # no stamp row (a flushed test database): still a valid key

Loader = Callable[[], Any]
_loaders: dict[str, Loader] = {}


def config_section_register(name: str, loader: Loader) -> None:
    """Declare a section of configuration and the function that loads it from the database.

    The loader returns plain values; they are shared by every reader of the process, so
    readers must not mutate them.
    """
    _loaders[name] = loader


class ProcessConfigCache:
    """The parsed sections of one stamp, for one process (tests make several to stand for
    several processes)."""

    def __init__(self) -> None:
        # One tuple, replaced whole: a thread that still works with the previous stamp can
        # never mix its sections with another stamp's.
        self._state: tuple[str, dict[str, Any]] = ("", {})
        self.loads = 0

    def section(self, name: str, stamp: str) -> Any:
        token, sections = self._state
        if token != stamp:
            sections = {}
            self._state = (stamp, sections)
        try:
            return sections[name]
        except KeyError:
            pass
        value = _loaders[name]()
        self.loads += 1
        sections[name] = value
        return value

    def clear(self) -> None:
        self._state = ("", {})


process_cache = ProcessConfigCache()


def _stamp_read() -> str:
    from crm.core.models import ConfigStamp

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT token FROM {ConfigStamp._meta.db_table} WHERE id = 1")
        row = cursor.fetchone()
    return row[0] if row else MISSING_STAMP


def config_stamp() -> str:
    """The current stamp: read once per scope (request), else on every call."""
    stamp = _scope_stamp.get()
    if stamp is None:
        return _stamp_read()
    if stamp == _UNREAD:
        stamp = _stamp_read()
        _scope_stamp.set(stamp)
    return stamp


def config_section(name: str) -> Any:
    """One parsed section of the configuration, as of the current stamp."""
    return process_cache.section(name, config_stamp())


@contextlib.contextmanager
def config_scope() -> Iterator[None]:
    """Read the stamp at most once inside the block (a request, a task run)."""
    token = _scope_stamp.set(_UNREAD)
    try:
        yield
    finally:
        _scope_stamp.reset(token)


def _forget_scope_stamp() -> None:
    if _scope_stamp.get() is not None:
        _scope_stamp.set(_UNREAD)


def config_changed() -> None:
    """Bump the stamp; call it inside the transaction of every configuration write.

    Other processes see the new stamp when the transaction commits, together with the data.
    This scope reads the stamp again on its next lookup, so the rest of a request that
    changed something sees the change (inside its transaction) and, after a rollback, the
    old stamp again (a rolled-back token is random and never comes back).
    """
    from crm.core.models import ConfigStamp

    token = uuid.uuid4().hex
    now = timezone.now()
    if not ConfigStamp.objects.filter(pk=1).update(token=token, changed_at=now):
        ConfigStamp.objects.update_or_create(pk=1, defaults={"token": token, "changed_at": now})
    _forget_scope_stamp()
    if connection.in_atomic_block:
        transaction.on_commit(_forget_scope_stamp)


class ConfigStampMiddleware:
    """One stamp read per request at most (none for requests that read no configuration)."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        with config_scope():
            return self.get_response(request)


# --- writes outside the services ------------------------------------------------------------


def config_models_register(*models_: type[models.Model], fields: set[str] | None = None) -> None:
    """Bump the stamp whenever one of these models is saved or deleted through the ORM.

    `fields`: for a model that also holds other data (users), only saves that may touch one
    of these fields bump it (a save with `update_fields` naming none of them does not: a
    login's last_login update leaves every cache alone).
    """
    for model in models_:
        post_save.connect(_make_save_receiver(fields), sender=model, weak=False)
        post_delete.connect(_on_delete, sender=model, weak=False)
        for field in model._meta.local_many_to_many:
            m2m_changed.connect(_on_m2m, sender=field.remote_field.through, weak=False)


def _make_save_receiver(fields: set[str] | None) -> Callable[..., None]:
    def receiver(sender: Any, update_fields: Any = None, raw: bool = False, **kwargs: Any) -> None:
        if raw:
            return  # loaddata: the stamp row itself is bumped by whoever loads
        if fields is not None and update_fields is not None and not (set(update_fields) & fields):
            return
        config_changed()

    return receiver


def _on_delete(sender: Any, **kwargs: Any) -> None:
    config_changed()


def _on_m2m(sender: Any, action: str, **kwargs: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        config_changed()
