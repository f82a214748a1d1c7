"""What merging two duplicate records has in common, whatever the module (CUS-6, issue 8 §4).

A module's merge (crm.customers.merge, crm.leads.merge) keeps its own moves of related rows;
these are the parts that are the same for every module:

- `merge_keep_clean`: the `keep: {field: "self" | "other"}` choices, 422 naming unknown fields;
- `merge_other_id`: the id of the record to merge in, refusing a missing one and the record
  itself;
- `merged_target` / `merged_visible`: where a merged tombstone's old URL and number lead (the
  live survivor, following a chain of merges), for the redirects of pages and API;
- `duplicate_groups`: the "possible duplicates" page's groups of live records sharing a key,
  a GROUP BY on the indexed key column with HAVING count > 1, paged by key (no count of all).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Model, QuerySet
from django.http import HttpResponse
from django.utils.translation import gettext as _

from crm.core.errors import ConflictError, NotFoundError, ValidationFailed

MAX_ID = 2**63 - 1


def merge_keep_clean(keep: Any, fields: Iterable[str]) -> dict[str, str]:
    """`keep` as {field: "self"|"other"} over the mergeable `fields`; 422 (`keep`) naming
    unknown fields or values. None is no choice (everything stays the survivor's)."""
    if keep is None:
        return {}
    if not isinstance(keep, dict):
        raise ValidationFailed(fields={"keep": [_("Expected an object of field choices.")]})
    allowed = set(fields)
    errors = []
    for name, choice in keep.items():
        if name not in allowed:
            errors.append(_("Unknown or unmergeable field: %(field)s") % {"field": name})
        elif choice not in ("self", "other"):
            errors.append(_("Choose “self” or “other” for %(field)s.") % {"field": name})
    if errors:
        raise ValidationFailed(fields={"keep": errors})
    return dict(keep)


def merge_other_id(from_id: Any, survivor_id: int, *, choose: str, itself: str) -> int:
    """The id of the record to merge into `survivor_id`; 422 (`from_id`) with `choose` when
    it is missing or malformed, with `itself` when it is the survivor."""
    try:
        other_id = int(from_id)
    except (TypeError, ValueError):
        raise ValidationFailed(fields={"from_id": [choose]}) from None
    if not 1 <= other_id <= MAX_ID:
        raise ValidationFailed(fields={"from_id": [choose]})
    if other_id == survivor_id:
        raise ValidationFailed(fields={"from_id": [itself]})
    return other_id


def merged_restore_refuse(record: Any) -> None:
    """A merged tombstone is never restored (409): it would undo half a merge."""
    if getattr(record, "merged_into_id", None):
        raise ConflictError(
            _("This record was merged into another one and cannot be restored; open the survivor.")
        )


def merged_target(model: type[Model], record_id: Any) -> Model | None:
    """The live survivor a merged tombstone of `model` leads to (following a chain of
    merges), or None. `model` has a `merged_into` foreign key to itself."""
    try:
        pk = int(record_id)
    except (TypeError, ValueError):
        return None
    if not 1 <= pk <= MAX_ID:
        return None
    row = model.objects.filter(pk=pk).only("merged_into_id").first()
    seen = set()
    while row is not None and row.merged_into_id and row.pk not in seen:
        seen.add(row.pk)
        row = model.objects.filter(pk=row.merged_into_id).only("merged_into_id").first()
    return row if row is not None and row.pk != pk else None


def merged_visible(
    *, model: type[Model], get: Callable[..., Model], user: Any, record_id: Any
) -> Model | None:
    """The survivor of a merged record `user` may see (the tombstone within their scope, read
    with `get(user=..., record_id=..., include_deleted=True)`), for the redirects of the old
    page and API URL; None otherwise."""
    try:
        old = get(user=user, record_id=record_id, include_deleted=True)
    except NotFoundError:
        return None
    if not old.merged_into_id:
        return None
    return merged_target(model, old.pk)


def merged_by_number(
    *, model: type[Model], get: Callable[..., Model], user: Any, number: str
) -> Model | None:
    """The survivor of the merged record numbered `number`, when `user` may see both the
    tombstone and the survivor (an old number typed in the search still finds its record)."""
    row = model.objects.filter(number=number, merged_into__isnull=False).only("pk").first()
    if row is None:
        return None
    target = merged_visible(model=model, get=get, user=user, record_id=row.pk)
    if target is None:
        return None
    try:
        return get(user=user, record_id=target.pk, include_deleted=False)
    except NotFoundError:
        return None


def merged_api_redirect(location: str) -> HttpResponse:
    """The API's answer for a merged record's old URL: 308 to the survivor's."""
    response = HttpResponse(status=308)
    response["Location"] = location
    return response


# --- possible duplicates --------------------------------------------------------------------


@dataclass
class DuplicateGroup:
    key: str
    size: int
    records: list[Any] = field(default_factory=list)


@dataclass
class DuplicateGroupsPage:
    groups: list[DuplicateGroup]
    has_next: bool
    next_after: str
    after: str


def duplicate_groups(
    queryset: QuerySet, *, key_field: str, after: str = "", size: int = 20
) -> DuplicateGroupsPage:
    """Groups of the rows of `queryset` (already live and scoped) sharing a non-empty
    `key_field`, `size` groups per page from the key after `after`, key order.

    Two queries whatever the table's size: the keys (GROUP BY key HAVING count(*) > 1 on
    the key's index, ORDER BY key LIMIT size + 1; nothing counts all the groups), then the
    records of this page's keys (oldest first, so the first of a group is the default
    survivor)."""
    size = max(1, min(int(size), 100))
    keys_qs = queryset.exclude(**{key_field: ""})
    if after:
        keys_qs = keys_qs.filter(**{f"{key_field}__gt": after})
    rows = list(
        keys_qs.order_by()
        .values(key_field)
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by(key_field)
        .values_list(key_field, "n")[: size + 1]
    )
    has_next = len(rows) > size
    rows = rows[:size]
    groups = {key: DuplicateGroup(key=key, size=n) for key, n in rows}
    if groups:
        for record in queryset.filter(**{f"{key_field}__in": list(groups)}).order_by(
            "created_at", "id"
        ):
            groups[getattr(record, key_field)].records.append(record)
    return DuplicateGroupsPage(
        groups=list(groups.values()),
        has_next=has_next,
        next_after=rows[-1][0] if has_next and rows else "",
        after=after,
    )
