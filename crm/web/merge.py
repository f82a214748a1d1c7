"""The pages of merging duplicates (CUS-6, issue 8 §4), one mechanism for every module.

A module declares a `MergePages` (its keys, its fields, how it reads, shows and merges its
records) and gets three pages from it: possible duplicates (groups sharing a duplicate key,
crm.core.merge.duplicate_groups), "merge with…" (search the other record) and compare/merge
(side by side, a radio per field, what will move, the module's merge service). Customers and
leads declare theirs in crm.customers.views_merge and crm.leads.views_merge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from crm.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from crm.core.masking import contact_details_shown, mask_email, mask_phone
from crm.core.merge import MAX_ID, duplicate_groups
from crm.core.scope import user_can
from crm.web.views_support import query_url, render_page

GROUPS_PER_PAGE = 20
CANDIDATES_SHOWN = 10


@dataclass(frozen=True)
class MergePages:
    module: str  # the permission module: view for the lists, edit to merge
    # kind -> (key column, label), the first the default tab
    keys: dict[str, tuple[str, Any]]
    # (field, label) of the compare page, in order; the names the merge's `keep` takes
    fields: Callable[[], list[tuple[str, Any]]]
    live: Callable[[Any], QuerySet]  # live records within the user's scope
    get: Callable[[Any, Any], Any]  # one live record within the scope (NotFoundError)
    display: Callable[[Any], dict[str, Any]]  # field -> value as a person reads it
    moves: Callable[[Any], list[tuple[Any, int]]]  # what moves with the other record
    merge: Callable[..., Any]  # the service: actor, record, from_id, keep, version
    search: Callable[[QuerySet, str], QuerySet]
    name_of: Callable[[Any], str]
    sub_of: Callable[[Any], str]
    detail_url: str  # URL names taking the record's pk
    compare_url: str
    pick_url: str
    duplicates_url: str
    list_url: str
    titles: Callable[[], dict[str, Any]]  # duplicates, compare, pick, back

    def require(self, user: Any, action: str) -> None:
        if not user_can(user, self.module, action):
            raise PermissionDeniedError()


def _masked(user: Any) -> Callable[[str, str], str]:
    shown = contact_details_shown(user)

    def show(kind: str, value: str) -> str:
        if shown or not value:
            return value
        return mask_phone(value) if kind == "phone" else mask_email(value)

    return show


def _row(spec: MergePages, record: Any, show: Callable[[str, str], str]) -> dict[str, Any]:
    return {
        "pk": record.pk,
        "number": record.number,
        "name": spec.name_of(record),
        "sub": spec.sub_of(record),
        "phone": show("phone", record.phone),
        "email": show("email", record.email),
        "owner": record.owner.display_name if record.owner_id else "",
        "created": record.created_at,
        "url": reverse(spec.detail_url, args=[record.pk]),
    }


def duplicates_page(request: HttpRequest, spec: MergePages) -> HttpResponse:
    """Groups of live records within the viewer's scope sharing one duplicate key, 20 groups
    a page in key order (`?kind=`, `?after=` the last key of the previous page)."""
    user = request.user
    spec.require(user, "view")
    kind = request.GET.get("kind") or next(iter(spec.keys))
    if kind not in spec.keys:
        kind = next(iter(spec.keys))
    key_field, kind_label = spec.keys[kind]
    after = str(request.GET.get("after") or "").replace("\x00", "")[:254]
    page = duplicate_groups(
        spec.live(user).select_related("owner"),
        key_field=key_field,
        after=after,
        size=GROUPS_PER_PAGE,
    )
    can_merge = user_can(user, spec.module, "edit")
    show = _masked(user)
    for group in page.groups:
        group.rows = [_row(spec, r, show) for r in group.records]
        group.shown_key = show(kind, group.key) if kind in ("phone", "email") else group.key
        if can_merge and group.rows:
            first = group.rows[0]["pk"]
            for row in group.rows[1:]:
                row["compare_url"] = reverse(spec.compare_url, args=[first]) + f"?with={row['pk']}"
    here = reverse(spec.duplicates_url)
    titles = spec.titles()
    context = {
        "title": titles["duplicates"],
        "back_url": reverse(spec.list_url),
        "back_label": titles["back"],
        "kind": kind,
        "kind_label": kind_label,
        "kinds": [(code, label, f"{here}?kind={code}") for code, (_f, label) in spec.keys.items()],
        "page": page,
        "next_url": query_url(request, after=page.next_after) if page.has_next else "",
        "previous_url": query_url(request, after=None) if after else "",
    }
    return render_page(request, "web/merge/duplicates.html", context)


def pick_page(request: HttpRequest, spec: MergePages, pk: int) -> HttpResponse:
    """ "Merge with…": search the other record (within the scope) to compare with `pk`."""
    user = request.user
    spec.require(user, "edit")
    record = spec.get(user, pk)
    q = str(request.GET.get("q") or "").replace("\x00", "").strip()[:100]
    candidates = []
    if q:
        rows = spec.search(spec.live(user), q).exclude(pk=record.pk).select_related("owner")
        for other in rows.order_by("-created_at", "-id")[:CANDIDATES_SHOWN]:
            candidates.append(
                {
                    "number": other.number,
                    "name": spec.name_of(other),
                    "owner": other.owner.display_name if other.owner_id else "",
                    "compare_url": reverse(spec.compare_url, args=[record.pk])
                    + f"?with={other.pk}",
                }
            )
    titles = spec.titles()
    context = {
        "title": titles["pick"] % {"name": spec.name_of(record)},
        "back_url": reverse(spec.detail_url, args=[record.pk]),
        "back_label": spec.name_of(record),
        "here": reverse(spec.pick_url, args=[record.pk]),
        "q": q,
        "candidates": candidates,
    }
    return render_page(request, "web/merge/pick.html", context)


def _with_id(value: Any) -> int | None:
    text = str(value or "").strip()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ID:
        return int(text)
    return None


def compare_page(request: HttpRequest, spec: MergePages, pk: int) -> HttpResponse:
    """`pk` (the survivor, left) beside `?with=` (merged into it, right): GET shows them, POST
    merges with the chosen values (`keep_<field>` = self|other, `version` the survivor's)."""
    user = request.user
    spec.require(user, "edit")
    survivor = spec.get(user, pk)
    other_id = _with_id(request.GET.get("with"))
    if other_id is None or other_id == survivor.pk:
        return redirect(spec.pick_url, pk=survivor.pk)
    other = spec.get(user, other_id)
    fields = spec.fields()
    errors: dict[str, list[str]] = {}
    error = ""
    status = 200
    chosen: dict[str, str] = {}
    version = survivor.version
    if request.method == "POST":
        chosen = {
            name: request.POST[f"keep_{name}"]
            for name, _label in fields
            if request.POST.get(f"keep_{name}") in ("self", "other")
        }
        keep = {name: choice for name, choice in chosen.items() if choice == "other"}
        try:
            merged = spec.merge(
                actor=user,
                record=survivor,
                from_id=other.pk,
                keep=keep,
                version=request.POST.get("version"),
            )
        except ValidationFailed as exc:
            errors = {k: [str(m) for m in v] for k, v in exc.fields.items()}
            error = str(exc.message)
            status = 422
        except ConflictError as exc:
            error = str(exc.message)
            status = 409
            survivor = spec.get(user, pk)
            version = survivor.version
        except NotFoundError:
            raise
        else:
            messages.success(
                request,
                _("%(other)s was merged into %(survivor)s.")
                % {"other": other.number, "survivor": merged.number},
            )
            return redirect(spec.detail_url, pk=merged.pk)
        if status == 422:
            version = request.POST.get("version") or survivor.version
    show = _masked(user)
    left, right = spec.display(survivor), spec.display(other)
    rows = []
    for name, label in fields:
        if name == "custom":  # the custom fields' values, each by its label
            left[name] = _custom(left, type(survivor))
            right[name] = _custom(right, type(other))
        mine, theirs = left.get(name), right.get(name)
        if name in ("phone", "email"):
            mine, theirs = show(name, mine or ""), show(name, theirs or "")
        differs = left.get(name) != right.get(name)
        default = "other" if _empty(left.get(name)) and not _empty(right.get(name)) else "self"
        rows.append(
            {
                "name": name,
                "label": label,
                "left": _text(mine),
                "right": _text(theirs),
                "differs": differs,
                "keep": chosen.get(name, default),
            }
        )
    titles = spec.titles()
    context = {
        "title": titles["compare"],
        "back_url": reverse(spec.duplicates_url),
        "back_label": titles["duplicates"],
        "left": _row(spec, survivor, show),
        "right": _row(spec, other, show),
        "rows": rows,
        "moves": spec.moves(other),
        "version": version,
        "errors": errors,
        "error": error,
        "action_url": request.get_full_path(),
        "swap_url": reverse(spec.compare_url, args=[other.pk]) + f"?with={survivor.pk}",
    }
    return render_page(request, "web/merge/compare.html", context, status=status)


def _custom(display: dict[str, Any], model: Any) -> dict[str, Any]:
    from django.utils.text import capfirst

    from crm.core.audit import audit_field_label

    return {
        capfirst(audit_field_label(model, key)): value
        for key, value in display.items()
        if key.startswith("custom.") and not _empty(value)
    }


def _empty(value: Any) -> bool:
    return value in (None, "", {}, [])


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items() if not _empty(v))
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    return str(value)
