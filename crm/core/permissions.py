"""Function permissions and data scopes (ORG-2).

A role grants, per module, a set of actions and a data scope. A user's effective grant for a
module is the union of their roles' actions and the widest of their scopes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    VIEW = "view", _("View")
    CREATE = "create", _("Create")
    EDIT = "edit", _("Edit")
    DELETE = "delete", _("Delete")
    EXPORT = "export", _("Export")
    TRANSFER = "transfer", _("Transfer")
    APPROVE = "approve", _("Approve")
    CONFIGURE = "configure", _("Configure")
    VIEW_CONTACT = "view_contact", _("View contact details")
    ASSIGN = "assign", _("Assign")
    CLAIM = "claim", _("Claim")


class Scope(models.TextChoices):
    """Ordered narrowest to widest; the widest of a user's roles wins."""

    OWN = "own", _("Own records")
    SUBORDINATES = "subordinates", _("Own and subordinates' records")
    DEPARTMENT = "department", _("Own department")
    DEPARTMENT_TREE = "department_tree", _("Department and sub-departments")
    ALL = "all", _("All records")


SCOPE_ORDER = [s.value for s in Scope]


@dataclass(frozen=True)
class Module:
    code: str
    label: str
    actions: tuple[str, ...]
    scoped: bool = True
    # What a user's roles must grant for the user to be made owner of one of the module's
    # records (a transfer, the owner field): at least to see such records. A module may ask
    # more (e.g. ("view", "edit")) to keep read-only roles out of the owner lists.
    owner_actions: tuple[str, ...] = ("view",)
    # Records that hang on a customer and are read with it: a user whose scope in this module
    # covers the customer's owner reads all of the customer's records of this module (the
    # follow-up log of a customer is read whole by whoever works the customer).
    follows_customer: bool = False


MODULES: dict[str, Module] = {
    "customers": Module(
        "customers",
        _("Customers"),
        ("view", "create", "edit", "delete", "export", "transfer", "approve", "view_contact"),
        # An owner works the customer: read-only roles (service, finance, executives) see
        # every customer but are not offered as owners (issue 5 §4).
        owner_actions=("view", "edit"),
    ),
    # Opportunities (OPP-1..5), scoped by their owner; an owner works them, so read-only
    # roles are not offered as owners.
    "opportunities": Module(
        "opportunities",
        _("Opportunities"),
        ("view", "create", "edit", "delete", "export", "transfer"),
        owner_actions=("view", "edit"),
    ),
    # Follow-up log entries (FUP-1, FUP-2), scoped by their author (the owner field "author").
    "followups": Module(
        "followups",
        _("Follow-ups"),
        ("view", "create", "edit", "delete", "export"),
        owner_actions=("view", "create"),
        follows_customer=True,
    ),
    # Leads (LEAD-1..4), scoped by their owner; unassigned leads (no owner) are seen by the
    # users who may assign them (issue 7 §1).
    "leads": Module(
        "leads",
        _("Leads"),
        ("view", "create", "edit", "delete", "export", "assign"),
        owner_actions=("view", "edit"),
    ),
    # The public customer pool (公海, issue 7 §4): customers without an owner. Not scoped: a
    # pool customer has no owner to scope by; "view" shows them (contact details masked),
    # "claim" takes one.
    "pool": Module("pool", _("Public pool"), ("view", "claim"), scoped=False),
    "settings": Module(
        "settings", _("Settings (users, roles, lists)"), ("view", "configure"), scoped=False
    ),
    "audit": Module("audit", _("Audit log"), ("view", "export")),
}


@dataclass
class Grant:
    """A user's effective rights in one module: the union over their roles.

    `scope` is the widest single scope (for display); `scopes` keeps every scope granted,
    because "own + subordinates" and "own department" do not contain each other: a manager
    who also holds a department role sees both sets, not just the "wider" one.
    """

    actions: set[str] = field(default_factory=set)
    scope: str = Scope.OWN
    scopes: set[str] = field(default_factory=set)

    def widen(self, actions: list[str], scope: str) -> None:
        self.actions.update(actions or [])
        if scope not in SCOPE_ORDER:
            scope = Scope.OWN  # an unknown value in the table never widens anything
        self.scopes.add(scope)
        if SCOPE_ORDER.index(scope) > SCOPE_ORDER.index(self.scope):
            self.scope = scope

    def effective_scopes(self) -> set[str]:
        """The scopes that matter: none of them contained in another."""
        scopes = set(self.scopes) or {self.scope}
        if Scope.ALL in scopes:
            return {Scope.ALL}
        if len(scopes) > 1:
            scopes.discard(Scope.OWN)  # every other scope includes the user's own records
        if Scope.DEPARTMENT_TREE in scopes:
            scopes.discard(Scope.DEPARTMENT)
        return scopes
