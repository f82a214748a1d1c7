"""Approvals (CUS-8, issue 7 §5): request → approvers by rule → decision → effect applied.

Generic on purpose: the customer lifecycle registers the first kind; order discounts and
contracts will register theirs the same way. Core imports no app: a module declares its kind
from its AppConfig.ready():

    approval_kind_register(
        "customer_lifecycle",
        label=_("Customer status change"),
        object_type="customer",
        approvers=lambda obj, requester: [...users...],   # who decides, by rule
        apply=lambda approval, actor: ...,                 # the effect; raise AppError if it
                                                           # can no longer apply
        describe=lambda approval: "...",                   # human text, reader's language
        url=lambda approval: "/customers/12/",             # the object's page
        visible=lambda user: Q(...),                       # approvals whose object `user`
                                                           # may see (a filter on Approval)
        customer_id=lambda obj: obj.pk,                    # for the customer's timeline
    )

Services (keyword-only, atomic, audited; errors from crm.core.errors):

    approval_request(actor=, kind=, obj=, payload=, note="") -> Approval
    approval_approve(actor=, approval=, comment="") -> Approval   # applies the effect
    approval_reject(actor=, approval=, comment=) -> Approval      # a comment is required
    approval_withdraw(actor=, approval=) -> Approval              # the requester only

One pending request per kind and object (a unique constraint; a second one is 409). Only an
approver decides (403 otherwise); a decided request is 409. Approving runs the kind's `apply`
in the same transaction: when the effect can no longer apply (the object changed meanwhile)
the answer is 409 `apply_failed` and the request stays pending. The requester and the
decider are both in the audit trail (the request's own entries, and the object's entry the
handler writes) and on the customer's timeline. Approvers are notified of a request, the
requester of the decision, once each, through the notifier the notify app registers
(`approval_notifier_register(notification_send)`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.audit import audit_record
from crm.core.errors import (
    AppError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from crm.core.models import Approval, AuditEntry
from crm.core.text import typed_text

NOTE_MAX = 2000
# The nav badge counts at most this many (and shows "99+" beyond 99), like the bell.
PENDING_COUNTED = 100
TIMELINE_MODULE = "customers"


class ApplyFailed(ConflictError):
    """409: the approved change can no longer be applied; the request stays pending."""

    code = "apply_failed"
    default_message = gettext_lazy(
        "The change can no longer be applied: the record changed after the request was made."
    )


@dataclass(frozen=True)
class ApprovalKind:
    code: str
    label: Any
    object_type: str
    approvers: Callable[[Any, Any], Iterable[Any]]
    apply: Callable[[Approval, Any], Any]
    describe: Callable[[Approval], str]
    url: Callable[[Approval], str]
    visible: Callable[[Any], Q]
    customer_id: Callable[[Any], int | None] | None = None
    # The owner whose data scope governs the approval's timeline lines (the customer's).
    timeline_owner: Callable[[Approval], int | None] | None = None


_KINDS: dict[str, ApprovalKind] = {}
# Core imports no app: the notify app registers how a person is told (notification_send's
# keywords: recipient, kind, text, link, dedup_key).
_NOTIFIERS: list[Callable[..., Any]] = []


def approval_notifier_register(send: Callable[..., Any]) -> None:
    """How approvers and requesters are told (from the notify app's ready())."""
    if send not in _NOTIFIERS:
        _NOTIFIERS.append(send)


def approval_kind_register(
    kind: str,
    *,
    label: Any,
    object_type: str,
    approvers: Callable[[Any, Any], Iterable[Any]],
    apply: Callable[[Approval, Any], Any],
    describe: Callable[[Approval], str],
    url: Callable[[Approval], str],
    visible: Callable[[Any], Q],
    customer_id: Callable[[Any], int | None] | None = None,
    timeline_owner: Callable[[Approval], int | None] | None = None,
) -> None:
    """Declare a kind of approval (from an AppConfig.ready()); see the module's docstring."""
    _KINDS[kind] = ApprovalKind(
        code=kind,
        label=label,
        object_type=object_type,
        approvers=approvers,
        apply=apply,
        describe=describe,
        url=url,
        visible=visible,
        customer_id=customer_id,
        timeline_owner=timeline_owner,
    )


def approval_kinds() -> dict[str, ApprovalKind]:
    return dict(_KINDS)


def approval_kind(code: str) -> ApprovalKind:
    try:
        return _KINDS[code]
    except KeyError:
        raise ValueError(f"unknown approval kind {code!r}: register it first") from None


def approval_describe(approval: Approval) -> str:
    """The request in words, in the current language; the kind's label if it cannot say."""
    kind = _KINDS.get(approval.kind)
    if kind is None:
        return approval.kind
    try:
        return str(kind.describe(approval))
    except Exception:  # a request stored before its wording changed must not break a page
        return str(kind.label)


def approval_kind_label(code: str) -> str:
    kind = _KINDS.get(code)
    return str(kind.label) if kind is not None else code


def approval_object_url(approval: Approval) -> str:
    kind = _KINDS.get(approval.kind)
    if kind is None:
        return ""
    try:
        return kind.url(approval) or ""
    except Exception:
        return ""


def approval_page_url(approval: Approval) -> str:
    return reverse("approvals:detail", args=[approval.pk])


# --- approvers -----------------------------------------------------------------------------


def approvers_by_rule(*, owner: Any, module: str, exclude: Any = None) -> list[Any]:
    """The default rule (issue 7 §5): the owner's supervisor; if there is none (or it is
    inactive, or it is `exclude`), the active users holding `<module>.approve` in the owner's
    department. `exclude` (the requester) never approves their own request."""
    from crm.accounts.models import RolePermission, User

    if owner is None:
        return []
    exclude_id = getattr(exclude, "pk", None)
    supervisor_id = getattr(owner, "supervisor_id", None)
    if supervisor_id and supervisor_id != exclude_id:
        supervisor = User.objects.filter(pk=supervisor_id, is_active=True).first()
        if supervisor is not None:
            return [supervisor]
    if owner.department_id is None:
        return []
    roles = [
        role_id
        for role_id, actions in RolePermission.objects.filter(module=module).values_list(
            "role_id", "actions"
        )
        if "approve" in (actions or [])
    ]
    users = (
        User.objects.filter(is_active=True, department_id=owner.department_id)
        .filter(Q(roles__in=roles) | Q(is_superuser=True))
        .exclude(pk=exclude_id)
        .distinct()
        .order_by("id")
    )
    return list(users)


# --- reading -------------------------------------------------------------------------------


def _through():
    return Approval.approvers.through


def approvals_visible_to(user: Any) -> QuerySet[Approval]:
    """Approvals `user` requested, may decide, or whose object they may see."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Approval.objects.none()
    condition = Q(requested_by_id=user.pk) | Q(
        pk__in=_through().objects.filter(user_id=user.pk).values("approval_id")
    )
    for kind in _KINDS.values():
        seen = kind.visible(user)
        if seen is None:
            continue
        condition |= Q(kind=kind.code) & seen
    return Approval.objects.filter(condition)


def approvals_waiting_for(user: Any) -> QuerySet[Approval]:
    """Pending approvals `user` may decide."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Approval.objects.none()
    return Approval.objects.filter(
        state=Approval.State.PENDING,
        pk__in=_through().objects.filter(user_id=user.pk).values("approval_id"),
    )


def approvals_pending_count(*, user: Any) -> int:
    """How many pending approvals wait for `user`, counted up to PENDING_COUNTED: one query."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return (
        _through()
        .objects.filter(user_id=user.pk, approval__state=Approval.State.PENDING)
        .values("pk")[:PENDING_COUNTED]
        .count()
    )


def approval_get(*, user: Any, approval_id: Any) -> Approval:
    """One approval the user may see (404 otherwise), with its people."""
    try:
        pk = int(approval_id)
    except (TypeError, ValueError):
        raise NotFoundError() from None
    if not 1 <= pk <= 2**63 - 1:
        raise NotFoundError()
    approval = (
        approvals_visible_to(user)
        .filter(pk=pk)
        .select_related("requested_by", "decided_by")
        .prefetch_related("approvers")
        .first()
    )
    if approval is None:
        raise NotFoundError()
    return approval


def approver_ids(approval: Approval) -> list[int]:
    """The approvers' ids (prefetched `approvers` when the caller prefetched them)."""
    return sorted(u.pk for u in approval.approvers.all())


def approval_pending_for(*, kind: str, object_type: str, object_id: int) -> Approval | None:
    return (
        Approval.objects.filter(
            kind=kind,
            object_type=object_type,
            object_id=object_id,
            state=Approval.State.PENDING,
        )
        .select_related("requested_by")
        .first()
    )


# --- writing -------------------------------------------------------------------------------


def _timeline(approval: Approval, *, actor: Any, event: str) -> None:
    if approval.customer_id is None:
        return
    from crm.core.timeline import timeline_record

    timeline_record(
        customer_id=approval.customer_id,
        kind="approval",
        actor=actor,
        owner_id=_timeline_owner(approval),
        object_type="approval",
        object_id=approval.pk,
        data={
            "event": event,
            "kind": approval.kind,
            "payload": approval.payload,
            "requested_by": approval.requested_by.display_name,
            "decided_by": approval.decided_by.display_name if approval.decided_by_id else "",
            "comment": approval.comment[:200],
        },
        module=TIMELINE_MODULE,
    )


def _timeline_owner(approval: Approval) -> int | None:
    """The owner whose scope governs the line (the kind says: the customer's owner)."""
    kind = _KINDS.get(approval.kind)
    if kind is None or kind.timeline_owner is None:
        return None
    return kind.timeline_owner(approval)


def _notify(*, recipient: Any, kind: str, text: str, approval: Approval, key: str) -> None:
    for send in _NOTIFIERS:
        send(
            recipient=recipient,
            kind=kind,
            text=text,
            link=approval_page_url(approval),
            dedup_key=f"approval:{approval.pk}:{key}",
        )


def _note(value: Any, field: str) -> str:
    text = typed_text(value).strip() if value is not None else ""
    if len(text) > NOTE_MAX:
        raise ValidationFailed(
            fields={field: [_("At most %(limit)d characters.") % {"limit": NOTE_MAX}]}
        )
    return text


def _already_pending(existing: Approval) -> ConflictError:
    return ConflictError(
        _(
            "A request is already waiting for approval (requested by %(who)s on %(when)s); "
            "it must be decided or withdrawn before another one."
        )
        % {
            "who": existing.requested_by.display_name,
            "when": timezone.localtime(existing.created_at).strftime("%Y-%m-%d %H:%M"),
        },
        extra={"approval_id": existing.pk},
    )


@transaction.atomic
def approval_request(
    *, actor: Any, kind: str, obj: Any, payload: dict[str, Any], note: str = ""
) -> Approval:
    """Ask for an approval of `payload` on `obj`; the approvers are chosen by the kind's rule
    (never the requester). 409 when one of the same kind is pending on the object; 422 when
    the rule finds nobody."""
    handler = approval_kind(kind)
    note_text = _note(note, "note")
    existing = approval_pending_for(kind=kind, object_type=handler.object_type, object_id=obj.pk)
    if existing is not None:
        raise _already_pending(existing)
    approvers = [u for u in handler.approvers(obj, actor) if u.pk != actor.pk]
    if not approvers:
        raise ValidationFailed(
            _("Nobody can approve this request."),
            fields={
                "approver": [
                    _(
                        "No approver found: the owner has no supervisor and nobody else in "
                        "the owner's department may approve. Ask an administrator to set a "
                        "supervisor or grant the approve permission."
                    )
                ]
            },
        )
    approval = Approval(
        kind=kind,
        object_type=handler.object_type,
        object_id=obj.pk,
        customer_id=handler.customer_id(obj) if handler.customer_id else None,
        requested_by=actor,
        payload=payload,
        note=note_text,
    )
    try:
        with transaction.atomic():
            approval.save()
    except IntegrityError:
        # Another request of the same kind on the same object won the race.
        existing = approval_pending_for(
            kind=kind, object_type=handler.object_type, object_id=obj.pk
        )
        if existing is not None:
            raise _already_pending(existing) from None
        raise
    approval.approvers.set(approvers)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=approval,
        object_repr=_repr(approval),
        changes=[
            {"field": "state", "before": None, "after": Approval.State.PENDING},
            {"field": "approvers", "before": None, "after": [u.display_name for u in approvers]},
            *([{"field": "note", "before": None, "after": note_text}] if note_text else []),
        ],
    )
    _timeline(approval, actor=actor, event="requested")
    with translation.override(settings.LANGUAGE_CODE):
        text = _("%(who)s asks for your approval: %(what)s") % {
            "who": actor.display_name,
            "what": approval_describe(approval),
        }
        for user in approvers:
            _notify(
                recipient=user, kind="approval_requested", text=text, approval=approval, key="ask"
            )
    return approval


def _repr(approval: Approval) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return f"#{approval.pk} {approval_describe(approval)}"[:200]


def _locked(approval: Approval) -> Approval:
    # No select_related: on PostgreSQL a lock that waited re-reads the locked row but not
    # the joined ones, so a decider joined before the wait would read as missing.
    locked = Approval.objects.select_for_update().filter(pk=approval.pk).first()
    if locked is None:
        raise NotFoundError()
    return locked


def _decided(locked: Approval) -> ConflictError:
    who = locked.decided_by.display_name if locked.decided_by_id else ""
    return ConflictError(
        _("This request is no longer pending: it was %(state)s%(by)s.")
        % {
            "state": str(locked.get_state_display()).lower(),
            "by": (_(" by %(who)s") % {"who": who}) if who else "",
        },
        extra={"state": locked.state},
    )


def _require_approver(actor: Any, locked: Approval) -> None:
    if not _through().objects.filter(approval_id=locked.pk, user_id=actor.pk).exists():
        raise PermissionDeniedError(_("Only the approvers of this request may decide it."))


def _decide(*, actor: Any, locked: Approval, state: str, comment: str) -> Approval:
    before = locked.state
    locked.state = state
    locked.comment = comment
    locked.decided_by = actor
    locked.decided_at = timezone.now()
    locked.save(update_fields=["state", "comment", "decided_by", "decided_at", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=locked,
        object_repr=_repr(locked),
        changes=[
            {"field": "state", "before": before, "after": state},
            {"field": "requested_by", "before": None, "after": locked.requested_by.display_name},
            *([{"field": "comment", "before": None, "after": comment}] if comment else []),
        ],
    )
    _timeline(locked, actor=actor, event=state)
    if state != Approval.State.WITHDRAWN:
        with translation.override(settings.LANGUAGE_CODE):
            template = (
                _("%(who)s approved your request: %(what)s")
                if state == Approval.State.APPROVED
                else _("%(who)s rejected your request: %(what)s")
            )
            text = template % {"who": actor.display_name, "what": approval_describe(locked)}
            if comment:
                text += _(" — “%(comment)s”") % {"comment": comment[:200]}
            _notify(
                recipient=locked.requested_by,
                kind=f"approval_{state}",
                text=text,
                approval=locked,
                key="decided",
            )
    return locked


@transaction.atomic
def approval_approve(*, actor: Any, approval: Approval, comment: str = "") -> Approval:
    """Approve and apply the change through the kind's handler, in this transaction."""
    locked = _locked(approval)
    _require_approver(actor, locked)
    if locked.state != Approval.State.PENDING:
        raise _decided(locked)
    comment_text = _note(comment, "comment")
    handler = approval_kind(locked.kind)
    try:
        with transaction.atomic():
            handler.apply(locked, actor)
    except ApplyFailed:
        raise
    except AppError as exc:
        raise ApplyFailed(
            _("The change can no longer be applied: %(why)s") % {"why": exc.message},
            extra={"approval_id": locked.pk},
        ) from None
    return _decide(actor=actor, locked=locked, state=Approval.State.APPROVED, comment=comment_text)


@transaction.atomic
def approval_reject(*, actor: Any, approval: Approval, comment: str) -> Approval:
    """Reject with a comment (required: the requester is told why)."""
    locked = _locked(approval)
    _require_approver(actor, locked)
    if locked.state != Approval.State.PENDING:
        raise _decided(locked)
    comment_text = _note(comment, "comment")
    if not comment_text:
        raise ValidationFailed(fields={"comment": [_("Say why you reject the request.")]})
    return _decide(actor=actor, locked=locked, state=Approval.State.REJECTED, comment=comment_text)


@transaction.atomic
def approval_withdraw(*, actor: Any, approval: Approval) -> Approval:
    """The requester takes a pending request back."""
    locked = _locked(approval)
    if locked.requested_by_id != getattr(actor, "pk", None):
        raise PermissionDeniedError(_("Only the person who made the request may withdraw it."))
    if locked.state != Approval.State.PENDING:
        raise _decided(locked)
    return _decide(actor=actor, locked=locked, state=Approval.State.WITHDRAWN, comment="")


# --- the timeline line ---------------------------------------------------------------------


def approval_line_render(data: dict[str, Any]) -> str:
    what = approval_describe(
        Approval(kind=str(data.get("kind", "")), payload=data.get("payload") or {})
    )
    event = data.get("event")
    values = {
        "what": what,
        "who": data.get("requested_by") or _("Someone"),
        "by": data.get("decided_by") or _("Someone"),
    }
    if event == "requested":
        text = _("%(who)s asked for approval: %(what)s") % values
    elif event == Approval.State.APPROVED:
        text = _("%(by)s approved %(who)s's request: %(what)s") % values
    elif event == Approval.State.REJECTED:
        text = _("%(by)s rejected %(who)s's request: %(what)s") % values
    elif event == Approval.State.WITHDRAWN:
        text = _("%(who)s withdrew the request: %(what)s") % values
    else:
        text = what
    comment = data.get("comment")
    if comment:
        text += _(" — “%(comment)s”") % {"comment": comment}
    return text


APPROVAL_LINE_LABEL = gettext_lazy("Approval")
