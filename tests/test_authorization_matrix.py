"""Every UI URL and every API route, for every default role, against a record inside and a
record outside the role's data scope (DESIGN invariant 1, ORG-2, SYS-5).

The tables below are the oracle, written from REQUIREMENTS ORG-2 — not computed from the code
under test. A URL or API route missing from the tables fails the test, so a new endpoint cannot
skip the check.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from crm.accounts.services import api_token_create
from crm.api import api
from crm.tests_support.activities import followup_make, opportunity_row_make
from crm.tests_support.factories import customer_make

ROLES = ["admin", "manager", "rep1", "rep3", "service", "finance", "exec"]

# What each default role may do with customers (REQUIREMENTS ORG-2 and crm/accounts/roles.py).
# "export" (issue 8 §3) and "bin_export", the recycle bin's export: export and delete both.
CUSTOMER_ACTIONS = {
    "admin": {"view", "create", "edit", "delete", "transfer", "export", "bin_export"},
    "manager": {"view", "create", "edit", "delete", "transfer", "export", "bin_export"},
    "rep1": {"view", "create", "edit"},
    "rep3": {"view", "create", "edit"},
    "service": {"view"},
    "finance": {"view", "export"},
    "exec": {"view", "export"},
}
# What each default role may do with opportunities (issue 6 §1, crm/accounts/roles.py).
OPPORTUNITY_ACTIONS = {
    "admin": {"view", "create", "edit", "delete", "transfer", "export", "bin_export"},
    "manager": {"view", "create", "edit", "delete", "transfer", "export", "bin_export"},
    "rep1": {"view", "create", "edit"},
    "rep3": {"view", "create", "edit"},
    "service": {"view"},
    "finance": {"view", "export"},
    "exec": {"view", "export"},
}
# Whose customers each role sees (and, the same, whose opportunities: each record below is on a
# customer of its owner): the record owned by rep1 ("inside" for the sales-one team) and
# the record owned by rep3 (销售二部).
SEES = {
    "admin": {"rep1", "rep3"},
    "manager": {"rep1"},
    "rep1": {"rep1"},
    "rep3": {"rep3"},
    "service": {"rep1", "rep3"},
    "finance": {"rep1", "rep3"},
    "exec": {"rep1", "rep3"},
}
# Follow-ups (crm/accounts/roles.py): finance has none; service and executives read them all.
FOLLOWUP_ACTIONS = {
    "admin": {"view", "create", "edit", "delete", "export", "bin_export"},
    "manager": {"view", "create", "edit", "delete", "export", "bin_export"},
    "rep1": {"view", "create", "edit"},
    "rep3": {"view", "create", "edit"},
    "service": {"view"},
    "finance": set(),
    "exec": {"view", "export"},
}
# The public pool (issue 7 §4, crm/accounts/roles.py): not scoped, a pool customer has no
# owner; service and finance have no pool rights, executives only look.
POOL_ACTIONS = {
    "admin": {"view", "claim"},
    "manager": {"view", "claim"},
    "rep1": {"view", "claim"},
    "rep3": {"view", "claim"},
    "service": set(),
    "finance": set(),
    "exec": {"view"},
}
# Leads (issue 7 §1, crm/accounts/roles.py): service and finance have none; executives read.
LEAD_ACTIONS = {
    "admin": {"view", "create", "edit", "delete", "export", "assign", "bin_export"},
    "manager": {"view", "create", "edit", "delete", "export", "assign", "bin_export"},
    "rep1": {"view", "create", "edit"},
    "rep3": {"view", "create", "edit"},
    "service": set(),
    "finance": set(),
    "exec": {"view", "export"},
}
# Who may reveal a masked phone/email (issue 8 §6): customers/view_contact (crm/accounts/roles.py);
# a lead's needs the lead in scope too (service sees no leads).
REVEALS = {"admin", "manager", "rep1", "rep3", "service", "exec"}
REVEAL_ACTIONS = {role: ({"reveal"} if role in REVEALS else set()) for role in ROLES}
ACTIONS = {
    "reveal": REVEAL_ACTIONS,
    "reveal_leads": REVEAL_ACTIONS,
    "customers": CUSTOMER_ACTIONS,
    "pool": POOL_ACTIONS,
    "leads": LEAD_ACTIONS,
    "followups": FOLLOWUP_ACTIONS,
    "opportunities": OPPORTUNITY_ACTIONS,
}
# Whose follow-ups (and whose customers' follow-up tabs) each role sees: the follow-up rep1
# logged on rep1's customer, and rep3's on rep3's.
SEES_FOLLOWUPS = {**SEES, "finance": set()}
# Whose leads each role sees: the lead owned by rep1 and the one owned by rep3.
SEES_LEADS = {**SEES, "service": set(), "finance": set()}
CONFIGURES = {"admin"}
# Who decides and who withdraws the world's approvals (one on each customer, asked by its
# owner): the owner's supervisor (manager for rep1; manager2, no role here, for rep3) and the
# requester.
DECIDES = {("manager", "rep1")}
WITHDRAWS = {("rep1", "rep1"), ("rep3", "rep3")}
# Default roles with audit.view (the audit log is gated by its own module, issue 5 §4).
AUDIT_VIEWERS = {"admin", "manager", "exec"}

# UI: url name -> (module, action, method); module None = any logged-in user.
UI = {
    "home": (None, None, "GET"),
    "search": (None, None, "GET"),  # each module's hits within the user's scope
    "favicon": ("public", None, "GET"),
    "settings:audit": ("audit", "view", "GET"),
    "login": ("public", None, "GET"),
    "logout": (None, None, "SKIP"),  # logging out ends the session the matrix walks with
    "password_change": (None, None, "GET"),
    "api_tokens": (None, None, "GET"),
    "api_token_revoke": (None, None, "OWN_TOKEN"),
    "set_language": ("public", None, "SKIP"),
    "customers:list": ("customers", "view", "GET"),
    "customers:create": ("customers", "create", "GET"),
    "customers:recycle_bin": ("customers", "delete", "GET"),
    "customers:detail": ("customers", "view", "GET"),
    "customers:edit": ("customers", "edit", "GET"),
    "customers:delete": ("customers", "delete", "POST"),
    "customers:restore": ("customers", "delete", "POST"),
    "customers:transfer": ("customers", "transfer", "POST"),
    "customers:bulk": ("customers", "view", "POST"),
    "customers:contacts": ("customers", "view", "GET"),
    "customers:contact_create": ("customers", "edit", "GET"),
    "customers:contact_edit": ("customers", "edit", "GET"),
    "customers:contact_delete": ("customers", "edit", "POST"),
    "customers:contact_primary": ("customers", "edit", "POST"),
    "customers:release": ("customers", "edit", "POST"),
    # The public pool (issue 7 §4): walked with a customer in the pool.
    "pool:list": ("pool", "view", "GET"),
    "pool:detail": ("pool", "view", "GET"),
    "pool:claim": ("pool", "claim", "POST"),
    "pool_settings:index": ("settings", "configure", "GET"),
    "activities:mine": ("followups", "view", "GET"),
    "activities:create": ("followups", "create", "GET"),
    "activities:recycle_bin": ("followups", "delete", "GET"),
    "activities:customer_tab": ("followups", "view", "GET"),
    "activities:opportunity_tab": ("followups", "view", "GET"),
    "activities:detail": ("followups", "view", "GET"),
    "activities:edit": ("followups", "edit", "GET"),
    "activities:delete": ("followups", "delete", "POST"),
    "activities:restore": ("followups", "delete", "POST"),
    "activities:plan_done": ("followups", "edit", "POST"),
    "activities:overdue": ("followups", "view", "GET"),  # FUP-3, issue 7 §3
    "customers:dormant": ("customers", "view", "GET"),  # CUS-10
    # Merging duplicates (CUS-6, issue 8 §4): the groups need view; comparing and merging edit
    # on both (walked with the record as both sides: the compare page then asks for another).
    "customers:duplicates": ("customers", "view", "GET"),
    "customers:merge_pick": ("customers", "edit", "GET"),
    "customers:compare": ("customers", "edit", "GET"),
    # Files on customers (issue 6 §3): as the customer itself; delete also for the uploader.
    "attachments:panel": ("customers", "view", "GET"),
    "attachments:upload": ("customers", "edit", "POST"),
    "attachments:download": ("customers", "view", "GET"),
    "attachments:delete": ("customers", "edit", "POST"),
    # Notifications (issue 6 §5): everyone their own (someone else's: 404, tested below).
    "notify:list": (None, None, "GET"),
    "notify:read": (None, None, "POST"),
    "notify:read_all": (None, None, "POST"),
    "notify:open": (None, None, "POST"),
    "sales:list": ("opportunities", "view", "GET"),
    "sales:kanban": ("opportunities", "view", "GET"),
    "sales:forecast": ("opportunities", "view", "GET"),
    "sales:create": ("opportunities", "create", "GET"),
    "sales:recycle_bin": ("opportunities", "delete", "GET"),
    "sales:detail": ("opportunities", "view", "GET"),
    "sales:edit": ("opportunities", "edit", "GET"),
    "sales:stage": ("opportunities", "edit", "POST"),
    "sales:win": ("opportunities", "edit", "POST"),
    "sales:lose": ("opportunities", "edit", "POST"),
    "sales:reopen": ("opportunities", "edit", "POST"),
    "sales:milestone_create": ("opportunities", "edit", "POST"),
    "sales:delete": ("opportunities", "delete", "POST"),
    "sales:restore": ("opportunities", "delete", "POST"),
    "stages:list": ("settings", "configure", "GET"),
    "stages:create": ("settings", "configure", "GET"),
    "stages:edit": ("settings", "configure", "GET"),
    "stages:reorder": ("settings", "configure", "POST"),
    "stages:retire": ("settings", "configure", "POST"),
    "stages:reactivate": ("settings", "configure", "POST"),
    "stages:delete": ("settings", "configure", "POST"),
    # Settings → Lead assignment (issue 7 §1): administrators only.
    "lead_rules:list": ("settings", "configure", "GET"),
    "lead_rules:create": ("settings", "configure", "GET"),
    "lead_rules:edit": ("settings", "configure", "GET"),
    "lead_rules:reorder": ("settings", "configure", "POST"),
    "lead_rules:up": ("settings", "configure", "POST"),
    "lead_rules:down": ("settings", "configure", "POST"),
    "lead_rules:activate": ("settings", "configure", "POST"),
    "lead_rules:deactivate": ("settings", "configure", "POST"),
    "lead_rules:delete": ("settings", "configure", "POST"),
    # Web forms (LEAD-1): administered in Settings; each one's page is open to anyone.
    "webforms:list": ("settings", "configure", "GET"),
    "webforms:create": ("settings", "configure", "GET"),
    "webforms:edit": ("settings", "configure", "GET"),
    "webforms:limits": ("settings", "configure", "POST"),
    "webforms:deactivate": ("settings", "configure", "POST"),
    "webforms:reactivate": ("settings", "configure", "POST"),
    "webforms:delete": ("settings", "configure", "POST"),
    "webform_public": ("public", None, "GET"),
    # Customer lifecycle (CUS-8): a status change is an edit of the customer.
    "customers:lifecycle": ("customers", "edit", "POST"),
    # Approvals (issue 7 §5): the list is everyone's own (requested, to decide, visible); an
    # approval is seen with its customer, decided by its approvers, withdrawn by its requester.
    "approvals:list": (None, None, "GET"),
    "approvals:detail": ("customers", "view", "GET"),
    "approvals:approve": ("approvals", "decide", "POST"),
    "approvals:reject": ("approvals", "decide", "POST"),
    "approvals:withdraw": ("approvals", "withdraw", "POST"),
    "approvals_settings": ("settings", "configure", "GET"),
    # Settings → Backups (SYS-3): administrators only.
    "backups:list": ("settings", "configure", "GET"),
    "backups:now": ("settings", "configure", "POST"),
    "backups:download": ("settings", "configure", "GET"),
    # Settings → Custom fields (SYS-1, issue 8 §1): administrators only.
    "custom_fields:index": ("settings", "configure", "GET"),
    "custom_fields:module": ("settings", "configure", "GET"),
    "custom_fields:create": ("settings", "configure", "GET"),
    "custom_fields:edit": ("settings", "configure", "GET"),
    "custom_fields:reorder": ("settings", "configure", "POST"),
    "custom_fields:retire": ("settings", "configure", "POST"),
    "custom_fields:reactivate": ("settings", "configure", "POST"),
    # Leads (issue 7 §1): each walked for rep1's lead and rep3's.
    "leads:list": ("leads", "view", "GET"),
    "leads:new": ("leads", "create", "GET"),
    "leads:bin": ("leads", "delete", "GET"),
    "leads:detail": ("leads", "view", "GET"),
    "leads:edit": ("leads", "edit", "GET"),
    "leads:delete": ("leads", "delete", "POST"),
    "leads:restore": ("leads", "delete", "POST"),
    "leads:followup": ("followups", "create", "POST"),
    # Merging duplicate leads (issue 8 §4), as for customers.
    "leads:duplicates": ("leads", "view", "GET"),
    "leads:merge_pick": ("leads", "edit", "GET"),
    "leads:compare": ("leads", "edit", "GET"),
    # Lead actions (LEAD-4): assigning needs leads.assign; converting and (dis/re)qualifying
    # leads.edit. Walked for rep1's lead and rep3's.
    "lead_actions:assign": ("leads", "assign", "POST"),
    "lead_actions:bulk_assign": ("leads", "assign", "POST"),
    "lead_actions:convert": ("leads", "edit", "GET"),
    "lead_actions:qualify": ("leads", "edit", "POST"),
    "lead_actions:disqualify": ("leads", "edit", "POST"),
    "lead_actions:requalify": ("leads", "edit", "POST"),
    # Exports (issue 8 §3): the customer list's, for the roles that export customers; a
    # background export's file only for its owner (crm/dataio/tests/test_exports.py).
    "dataio:export": ("customers", "export", "GET"),
    "dataio:export_download": (None, None, "SKIP"),
    # Import pages (issue 8 §2): the upload form and the template need the module's create;
    # the history is everyone's own (and a manager's scope's); a job's pages are its
    # importer's (a manager sees the team's), tested in crm/dataio/tests/test_imports_ui.py.
    "imports:upload": ("customers", "create", "GET"),
    "imports:template": ("customers", "create", "GET"),
    "imports:history": (None, None, "GET"),
    "imports:detail": (None, None, "SKIP"),
    "imports:mapping": (None, None, "SKIP"),
    "imports:run": (None, None, "SKIP"),
    "imports:errors": (None, None, "SKIP"),
    # Personal data (issue 8 §6): a reveal needs view_contact and the record in scope (posted
    # without a field: 422 when allowed).
    "privacy:customer_reveal": ("reveal", "reveal", "POST"),
    "privacy:contact_reveal": ("reveal", "reveal", "POST"),
    "privacy:lead_reveal": ("reveal_leads", "reveal", "POST"),
    # Data-subject requests: administrators only (walked with an enterprise customer: 422).
    "privacy:export": ("settings", "configure", "POST"),
    "privacy:anonymise": ("settings", "configure", "POST"),
}
# UI URLs about a customer's records besides customers:*: each is walked for the customer
# inside and the one outside the role's scope.
RECORD_UI_PREFIXES = (
    "customers:",
    "attachments:",
    "activities:",
    "sales:",
    "approvals:",
    "leads:",
    "lead_actions:",
    "privacy:",
)
# The query string a URL needs to name its record.
UI_QUERY = {
    "customers:compare": "?with={customer_id}",
    "leads:compare": "?with={lead_id}",
    "attachments:panel": "?object_type=customer&object_id={customer_id}&related=1",
    "attachments:upload": "?object_type=customer&object_id={customer_id}",
}
SETTINGS_PREFIX = "settings:"

# API: (method, path template) -> (module, action)
API = {
    ("POST", "/api/v1/auth/token"): ("public", None),
    # A web form's public endpoint: open to anyone, tested in crm/leads/tests/test_webforms.py.
    ("POST", "/api/v1/public/forms/{key}/submit"): ("public", None),
    ("GET", "/api/v1/me"): (None, None),
    ("GET", "/api/v1/dictionaries/{kind}"): (None, None),
    ("GET", "/api/v1/customers"): ("customers", "view"),
    ("POST", "/api/v1/customers"): ("customers", "create"),
    ("GET", "/api/v1/customers/{customer_id}"): ("customers", "view"),
    ("PATCH", "/api/v1/customers/{customer_id}"): ("customers", "edit"),
    ("DELETE", "/api/v1/customers/{customer_id}"): ("customers", "delete"),
    ("POST", "/api/v1/customers/{customer_id}/restore"): ("customers", "delete"),
    ("POST", "/api/v1/customers/{customer_id}/merge"): ("customers", "edit"),
    # Custom fields (SYS-1): everyone reads the definitions; administrators manage them.
    ("GET", "/api/v1/custom-fields"): (None, None),
    ("POST", "/api/v1/custom-fields"): ("settings", "configure"),
    ("PATCH", "/api/v1/custom-fields/{field_id}"): ("settings", "configure"),
    ("DELETE", "/api/v1/custom-fields/{field_id}"): ("settings", "configure"),
    ("POST", "/api/v1/customers/bulk"): ("customers", "edit"),
    ("GET", "/api/v1/recycle-bin/customers"): ("customers", "delete"),
    ("GET", "/api/v1/customers/{customer_id}/history"): ("customers", "view"),
    ("GET", "/api/v1/customers/{customer_id}/timeline"): ("customers", "view"),
    ("GET", "/api/v1/customers/{customer_id}/contacts"): ("customers", "view"),
    ("POST", "/api/v1/customers/{customer_id}/contacts"): ("customers", "edit"),
    ("PATCH", "/api/v1/contacts/{contact_id}"): ("customers", "edit"),
    ("DELETE", "/api/v1/contacts/{contact_id}"): ("customers", "edit"),
    ("POST", "/api/v1/users/{user_id}/deactivate"): ("settings", "configure"),
    ("GET", "/api/v1/followups"): ("followups", "view"),
    ("POST", "/api/v1/followups"): ("followups", "create"),
    ("GET", "/api/v1/followups/{followup_id}"): ("followups", "view"),
    ("PATCH", "/api/v1/followups/{followup_id}"): ("followups", "edit"),
    ("DELETE", "/api/v1/followups/{followup_id}"): ("followups", "delete"),
    ("POST", "/api/v1/followups/{followup_id}/restore"): ("followups", "delete"),
    ("GET", "/api/v1/followups/overdue"): ("followups", "view"),
    ("GET", "/api/v1/attachments"): ("customers", "view"),
    ("POST", "/api/v1/attachments"): ("customers", "edit"),
    ("GET", "/api/v1/attachments/{attachment_id}"): ("customers", "view"),
    ("DELETE", "/api/v1/attachments/{attachment_id}"): ("customers", "edit"),
    ("GET", "/api/v1/notifications"): (None, None),
    ("POST", "/api/v1/notifications/read-all"): (None, None),
    ("POST", "/api/v1/notifications/{notification_id}/read"): (None, None),
    ("GET", "/api/v1/stages"): (None, None),
    ("GET", "/api/v1/opportunities"): ("opportunities", "view"),
    ("POST", "/api/v1/opportunities"): ("opportunities", "create"),
    ("GET", "/api/v1/opportunities/{opportunity_id}"): ("opportunities", "view"),
    ("PATCH", "/api/v1/opportunities/{opportunity_id}"): ("opportunities", "edit"),
    ("DELETE", "/api/v1/opportunities/{opportunity_id}"): ("opportunities", "delete"),
    ("POST", "/api/v1/opportunities/{opportunity_id}/restore"): ("opportunities", "delete"),
    ("POST", "/api/v1/opportunities/{opportunity_id}/stage"): ("opportunities", "edit"),
    ("POST", "/api/v1/opportunities/{opportunity_id}/win"): ("opportunities", "edit"),
    ("POST", "/api/v1/opportunities/{opportunity_id}/lose"): ("opportunities", "edit"),
    ("POST", "/api/v1/opportunities/{opportunity_id}/reopen"): ("opportunities", "edit"),
    ("GET", "/api/v1/opportunities/{opportunity_id}/stage-history"): ("opportunities", "view"),
    ("GET", "/api/v1/opportunities/{opportunity_id}/milestones"): ("opportunities", "view"),
    ("POST", "/api/v1/opportunities/{opportunity_id}/milestones"): ("opportunities", "edit"),
    ("GET", "/api/v1/recycle-bin/opportunities"): ("opportunities", "delete"),
    ("GET", "/api/v1/pipeline"): ("opportunities", "view"),
    ("GET", "/api/v1/forecast"): ("opportunities", "view"),
    ("POST", "/api/v1/customers/{customer_id}/release"): ("customers", "edit"),
    ("GET", "/api/v1/pool"): ("pool", "view"),
    ("POST", "/api/v1/pool/{customer_id}/claim"): ("pool", "claim"),
    ("POST", "/api/v1/customers/{customer_id}/lifecycle"): ("customers", "edit"),
    ("GET", "/api/v1/approvals"): (None, None),
    ("GET", "/api/v1/approvals/{approval_id}"): ("customers", "view"),
    ("POST", "/api/v1/approvals/{approval_id}/approve"): ("approvals", "decide"),
    ("POST", "/api/v1/approvals/{approval_id}/reject"): ("approvals", "decide"),
    ("POST", "/api/v1/approvals/{approval_id}/withdraw"): ("approvals", "withdraw"),
    ("GET", "/api/v1/leads"): ("leads", "view"),
    ("POST", "/api/v1/leads"): ("leads", "create"),
    ("GET", "/api/v1/leads/{lead_id}"): ("leads", "view"),
    ("POST", "/api/v1/leads/{lead_id}/merge"): ("leads", "edit"),
    ("PATCH", "/api/v1/leads/{lead_id}"): ("leads", "edit"),
    ("DELETE", "/api/v1/leads/{lead_id}"): ("leads", "delete"),
    ("POST", "/api/v1/leads/{lead_id}/restore"): ("leads", "delete"),
    ("GET", "/api/v1/recycle-bin/leads"): ("leads", "delete"),
    ("POST", "/api/v1/leads/assign"): ("leads", "assign"),
    ("POST", "/api/v1/leads/{lead_id}/assign"): ("leads", "assign"),
    ("POST", "/api/v1/leads/{lead_id}/convert"): ("leads", "edit"),
    ("POST", "/api/v1/leads/{lead_id}/qualify"): ("leads", "edit"),
    ("POST", "/api/v1/leads/{lead_id}/disqualify"): ("leads", "edit"),
    ("POST", "/api/v1/leads/{lead_id}/requalify"): ("leads", "edit"),  # 409: not disqualified
    # Exports (issue 8 §3): the list as the caller sees it; recycle bins need delete as well.
    ("GET", "/api/v1/customers/export"): ("customers", "export"),
    ("GET", "/api/v1/contacts/export"): ("customers", "export"),
    ("GET", "/api/v1/leads/export"): ("leads", "export"),
    ("GET", "/api/v1/opportunities/export"): ("opportunities", "export"),
    ("GET", "/api/v1/followups/export"): ("followups", "export"),
    ("GET", "/api/v1/recycle-bin/customers/export"): ("customers", "bin_export"),
    ("GET", "/api/v1/recycle-bin/leads/export"): ("leads", "bin_export"),
    ("GET", "/api/v1/recycle-bin/opportunities/export"): ("opportunities", "bin_export"),
    ("GET", "/api/v1/recycle-bin/followups/export"): ("followups", "bin_export"),
    # Each role's own export job: everyone reads their own (another's is 404, test_exports).
    ("GET", "/api/v1/exports/{job_id}"): (None, None),
    ("GET", "/api/v1/exports/{job_id}/file"): (None, None),
    # Imports (issue 8 §2, §7): the module's create permission (MODULES has no "import"
    # action); each role reads its own job (another's is 404 unless the reader's scope in
    # the module covers its creator, crm/dataio/tests/test_imports_api.py).
    ("GET", "/api/v1/imports"): (None, None),
    ("GET", "/api/v1/imports/{module}/template"): ("customers", "create"),
    ("POST", "/api/v1/imports/{module}"): ("customers", "create"),
    ("GET", "/api/v1/imports/{module}"): ("customers", "create"),
    ("POST", "/api/v1/imports/{import_id}"): ("customers", "create"),  # 409: not a dry run
    ("GET", "/api/v1/imports/{import_id}"): (None, None),
    ("GET", "/api/v1/imports/{import_id}/errors.xlsx"): (None, None),
    ("POST", "/api/v1/customers/{customer_id}/reveal"): ("reveal", "reveal"),
    ("POST", "/api/v1/contacts/{contact_id}/reveal"): ("reveal", "reveal"),
    ("POST", "/api/v1/leads/{lead_id}/reveal"): ("reveal_leads", "reveal"),
    ("POST", "/api/v1/privacy/{kind}/{record_id}/export"): ("settings", "configure"),
    ("POST", "/api/v1/privacy/{kind}/{record_id}/anonymise"): ("settings", "configure"),
}
# Bodies that exercise the route without changing anything when they are allowed: a stale
# version (409) or an invalid field (422).
API_BODY = {
    # Custom fields: a complete definition, so the permission decides (the key is taken: 409).
    ("POST", "/api/v1/custom-fields"): {
        "module": "customers",
        "key": "matrix",
        "label": "矩阵",
        "type": "text",
    },
    ("PATCH", "/api/v1/custom-fields/{field_id}"): {"label": "矩阵二"},
    ("POST", "/api/v1/customers/{customer_id}/reveal"): {"field": "phone"},
    ("POST", "/api/v1/contacts/{contact_id}/reveal"): {"field": "phone"},
    ("POST", "/api/v1/leads/{lead_id}/reveal"): {"field": "phone"},
    ("POST", "/api/v1/privacy/{kind}/{record_id}/anonymise"): {"confirm": True},
    ("POST", "/api/v1/customers"): {"name": "", "industry": "it"},
    ("PATCH", "/api/v1/customers/{customer_id}"): {"version": 0, "remarks": "x"},
    ("POST", "/api/v1/customers/{customer_id}/contacts"): {"name": ""},
    ("PATCH", "/api/v1/contacts/{contact_id}"): {"phone": "12"},
    ("POST", "/api/v1/customers/bulk"): {"action": "grade", "ids": [1]},  # no grade: 422
    ("POST", "/api/v1/users/{user_id}/deactivate"): {"transfer_to": None},
    # An empty summary: 422 before the customer is looked up.
    ("POST", "/api/v1/followups"): {"customer_id": 1, "method": "phone", "summary": ""},
    ("PATCH", "/api/v1/followups/{followup_id}"): {"version": 0, "summary": "x"},
    ("POST", "/api/v1/opportunities"): {"customer_id": 1, "name": ""},  # 422 when allowed
    ("PATCH", "/api/v1/opportunities/{opportunity_id}"): {"version": 0, "name": "x"},
    ("POST", "/api/v1/opportunities/{opportunity_id}/stage"): {"stage_id": 1, "version": 0},
    ("POST", "/api/v1/opportunities/{opportunity_id}/win"): {
        "contract_no": "HT",
        "actual_amount": 1,
        "version": 0,
    },
    ("POST", "/api/v1/opportunities/{opportunity_id}/lose"): {
        "lost_reason": "budget",
        "version": 0,
    },
    ("POST", "/api/v1/opportunities/{opportunity_id}/reopen"): {"version": 0},
    ("POST", "/api/v1/opportunities/{opportunity_id}/milestones"): {"kind": ""},  # 422
    ("POST", "/api/v1/customers/{customer_id}/release"): {"reason": ""},  # 422 when allowed
    ("POST", "/api/v1/customers/{customer_id}/lifecycle"): {"status": "lost", "version": 0},
    # The unknown field is refused (422) only after the edit permission (403) and scope (404).
    ("POST", "/api/v1/customers/{customer_id}/merge"): {
        "from_id": 1,
        "keep": {"nope": "self"},
        "version": 0,
    },
    ("POST", "/api/v1/approvals/{approval_id}/reject"): {"comment": ""},  # 422 when allowed
    ("POST", "/api/v1/leads"): {"company": "", "name": ""},  # 422 when allowed
    ("PATCH", "/api/v1/leads/{lead_id}"): {"version": 0, "title": "x"},  # 409
    # Nobody can own leads as user 999999999, no lead has an empty industry or that reason: 422.
    ("POST", "/api/v1/leads/assign"): {"lead_ids": [1], "owner_id": 999999999},
    ("POST", "/api/v1/leads/{lead_id}/assign"): {"owner_id": 999999999},
    ("POST", "/api/v1/leads/{lead_id}/convert"): {"customer": {"industry": ""}},
    ("POST", "/api/v1/leads/{lead_id}/disqualify"): {"reason": "zzz"},
    # The unknown field is refused (422) only after the edit permission (403) and scope (404).
    ("POST", "/api/v1/leads/{lead_id}/merge"): {
        "from_id": 1,
        "keep": {"nope": "self"},
        "version": 0,
    },
}
API_QUERY = {
    ("GET", "/api/v1/custom-fields"): "?module=customers",
    ("DELETE", "/api/v1/customers/{customer_id}"): "?version=0",
    ("DELETE", "/api/v1/followups/{followup_id}"): "?version=0",
    ("POST", "/api/v1/followups/{followup_id}/restore"): "?version=0",
    ("GET", "/api/v1/attachments"): "?object_type=customer&object_id={customer_id}",
    ("DELETE", "/api/v1/opportunities/{opportunity_id}"): "?version=0",
    ("POST", "/api/v1/opportunities/{opportunity_id}/restore"): "?version=0",
    ("DELETE", "/api/v1/leads/{lead_id}"): "?version=0",
    ("POST", "/api/v1/leads/{lead_id}/restore"): "?version=0",
}
# Multipart bodies: an SVG (never accepted) reaches the file check only after the record's
# scope (404) and the right to attach (403) are settled, so an allowed caller gets 422.
API_MULTIPART = {
    # Not a spreadsheet: 422 `file` for those who may import, after the permission (403).
    ("POST", "/api/v1/imports/{module}"): {"file": ("notes.pdf", b"%PDF-1.4")},
    ("POST", "/api/v1/attachments"): {
        "object_type": "customer",
        "object_id": "{customer_id}",
        "file": ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    },
}


def ui_url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace in ("admin", "api"):
                    continue
                walk(p.url_patterns, prefix + (f"{p.namespace}:" if p.namespace else ""))
            elif isinstance(p, URLPattern) and p.name:
                names.add(prefix + p.name)

    walk(get_resolver().url_patterns, "")
    return names


def api_routes() -> set[tuple[str, str]]:
    schema = api.get_openapi_schema()
    return {(m.upper(), path) for path, ops in schema["paths"].items() for m in ops}


def test_every_ui_url_and_api_route_is_in_the_matrix():
    missing_ui = {n for n in ui_url_names() if n not in UI and not n.startswith(SETTINGS_PREFIX)}
    assert not missing_ui, f"add these UI URLs to the authorization matrix: {sorted(missing_ui)}"
    missing_api = api_routes() - set(API)
    assert not missing_api, f"add these API routes to the matrix: {sorted(missing_api)}"


@pytest.fixture
def world(org):
    inside = customer_make(
        owner=org.rep1,
        name="矩阵测试一号科技有限公司",
        contacts=[
            {"name": "甲", "phone": "13900000001", "is_primary": True},
            {"name": "乙", "phone": "13900000002"},
        ],
    )
    outside = customer_make(
        owner=org.rep3,
        name="矩阵测试二号科技有限公司",
        contacts=[
            {"name": "丙", "phone": "13900000003", "is_primary": True},
            {"name": "丁", "phone": "13900000004"},
        ],
    )
    for customer in (inside, outside):
        customer.followup = followup_make(customer=customer, next_in=dt.timedelta(days=1))
        customer.opportunity = opportunity_row_make(customer=customer)
    from crm.core.files import attachment_create
    from crm.notify.models import Notification
    from crm.tests_support.files import pdf_bytes, upload

    files = {
        who: attachment_create(
            actor=getattr(org, who),
            object_type="customer",
            object_id=customer.pk,
            upload=upload("合同.pdf", pdf_bytes()),
        )
        for who, customer in (("rep1", inside), ("rep3", outside))
    }
    notes = {
        role: Notification.objects.create(
            recipient=getattr(org, role), kind="test", text="提醒", link="/"
        )
        for role in ROLES
    }
    from crm.core.approvals import approval_request
    from crm.customers.pool import customer_release
    from crm.tests_support.leads import lead_make
    from crm.tests_support.sales import opportunity_make

    pool = customer_make(owner=org.rep2, name="矩阵测试公海科技有限公司")
    customer_release(actor=org.admin, customer=pool, reason="矩阵")

    approvals = {
        who: approval_request(
            actor=getattr(org, who),
            kind="customer_lifecycle",
            obj=customer,
            payload={"from": "potential", "to": "lost", "reason": "other"},
        )
        for who, customer in (("rep1", inside), ("rep3", outside))
    }

    from django.core.files.base import ContentFile

    from crm.dataio.models import ExportJob

    jobs = {}
    for role in ROLES:  # finished, so the download routes answer 200 to their owner
        job = ExportJob(actor=getattr(org, role), module="customers", format="csv", state="done")
        job.file.save(f"matrix-{role}.csv", ContentFile(b"a\n"), save=False)
        job.save()
        jobs[role] = job
    from crm.dataio.models import ImportJob

    imports = {}
    for role in ROLES:  # finished with rejections, so the error file answers 200 to its owner
        job = ImportJob(created_by=getattr(org, role), module="customers", state="done")
        job.error_file.save(f"matrix-{role}-errors.xlsx", ContentFile(b"PK"), save=False)
        job.save()
        imports[role] = job
    from crm.core.models import CustomField

    custom_field = CustomField.objects.create(
        module="customers", key="matrix", label="矩阵", type="text"
    )
    return {
        "custom_field": custom_field,
        "jobs": jobs,
        "imports": imports,
        "approvals": approvals,
        "leads": {"rep1": lead_make(owner=org.rep1), "rep3": lead_make(owner=org.rep3)},
        "org": org,
        "pool": pool,
        "rep1": inside,
        "rep3": outside,
        "files": files,
        "notes": notes,
        "opportunities": {
            "rep1": opportunity_make(owner=org.rep1, customer=inside),
            "rep3": opportunity_make(owner=org.rep3, customer=outside),
        },
    }


def _expected(role: str, module: str | None, action: str | None, owner: str | None) -> set[int]:
    """The statuses a correct implementation may answer with (success shown as 'ok')."""
    if module is None or module == "public":
        return {200, 302}
    if module == "settings":
        return {200, 201, 204, 302, 409, 422} if role in CONFIGURES else {403}
    if module == "audit":
        return {200} if role in AUDIT_VIEWERS else {403}
    if module == "pool":
        # Not scoped: the pool customer is there for everyone with the permission (a claim of
        # an owned customer, in the API walk, is refused with 409).
        return {200, 302, 409} if action in POOL_ACTIONS[role] else {403}
    if module == "approvals":
        visible = owner in SEES[role] or role == owner or (role, owner) in DECIDES
        allowed = (role, owner) in (DECIDES if action == "decide" else WITHDRAWS)
        if allowed:
            return {200, 201, 204, 302, 409, 422}
        return {403} if visible else {404}
    allowed = action in ACTIONS[module][role]
    sees = {"followups": SEES_FOLLOWUPS, "leads": SEES_LEADS, "reveal_leads": SEES_LEADS}.get(
        module, SEES
    )
    visible = owner is None or owner in sees[role]
    if allowed and visible:
        return {200, 201, 204, 302, 409, 422}
    if not allowed and not visible:
        return {403, 404}
    return {403} if not allowed else {404}


def _web_form():
    from crm.leads.models import WebForm

    return WebForm.objects.get_or_create(
        key="matrix-form-0000000001",
        defaults={"name": "矩阵表单", "fields": ["company", "name"], "required": ["company"]},
    )[0]


def _backup():
    """A finished backup with a (tiny) archive in the test's backup folder, to download."""
    from crm.dataio.backups import backup_dir
    from crm.dataio.models import Backup

    backup_dir().mkdir(parents=True, exist_ok=True)
    (backup_dir() / "crm-backup-matrix.tar.gz").write_bytes(b"matrix")
    return Backup.objects.get_or_create(
        file_name="crm-backup-matrix.tar.gz",
        defaults={"started_at": "2026-12-01T02:00+08:00", "trigger": "manual", "status": "ok"},
    )[0]


def _fill(name: str, customer, contact, org=None, world=None, role=None, opportunity=None) -> str:
    """The URL of `name` with ids of real records of the kind the URL expects."""
    from django.urls import NoReverseMatch, reverse

    from crm.accounts.models import Department, Role
    from crm.core.models import DictionaryItem
    from crm.sales.models import Stage

    if name.startswith("sales:") and opportunity is not None:
        pk = opportunity.pk
    elif name.startswith("pool:") and world is not None:
        pk = world["pool"].pk
    elif name.startswith("stages:"):
        pk = Stage.objects.get(code="proposal").pk
    elif name.startswith("backups:"):
        pk = _backup().pk
    elif name.startswith("custom_fields:"):
        from crm.core.models import CustomField

        pk = CustomField.objects.get_or_create(
            module="customers", key="matrix", defaults={"label": "矩阵", "type": "text"}
        )[0].pk
    elif name.startswith("lead_rules:"):
        from crm.leads.models import AssignmentRule

        # An inactive rule: it assigns none of the matrix's leads.
        rule = AssignmentRule.objects.order_by("id").first()
        pk = (rule or AssignmentRule.objects.create(name="矩阵", is_active=False)).pk
    elif name.startswith("settings:user"):
        pk = org.rep2.pk if org else 1
    elif name.startswith("settings:department"):
        pk = Department.objects.order_by("id").values_list("pk", flat=True).first()
    elif name.startswith("settings:role"):
        pk = Role.objects.get(code="sales_rep").pk
    elif name.startswith("settings:list_item"):
        pk = DictionaryItem.objects.get(kind="industry", code="other").pk
    elif name.startswith("webforms:"):
        pk = _web_form().pk
    elif name == "activities:opportunity_tab":
        pk = customer.opportunity.pk
    elif name.startswith("activities:") and name != "activities:customer_tab":
        pk = customer.followup.pk
    elif name.startswith("attachments:") and world is not None:
        owner = "rep1" if customer.pk == world["rep1"].pk else "rep3"
        pk = world["files"][owner].pk
    elif name.startswith("approvals:") and world is not None:
        owner = "rep1" if customer.pk == world["rep1"].pk else "rep3"
        pk = world["approvals"][owner].pk
    elif name == "privacy:contact_reveal":
        pk = contact.pk
    elif name.startswith(("leads:", "lead_actions:", "privacy:lead")) and world is not None:
        owner = "rep1" if customer.pk == world["rep1"].pk else "rep3"
        pk = world["leads"][owner].pk
    elif name.startswith("notify:") and world is not None:
        pk = world["notes"][role or "rep1"].pk
    else:
        pk = customer.pk
    kind = "customer" if name in ("privacy:export", "privacy:anonymise") else "industry"
    values = {"pk": pk, "contact_id": contact.pk, "kind": kind, "token_id": 1}
    values["key"] = _web_form().key if name == "webform_public" else "-"
    values["module"] = "customers"
    query = UI_QUERY.get(name, "").format(customer_id=customer.pk, lead_id=pk)
    shapes = [(), ("pk",), ("kind",), ("key",), ("pk", "contact_id"), ("kind", "pk"), ("module",)]
    for shape in shapes:
        try:
            return reverse(name, kwargs={k: values[k] for k in shape}) + query
        except NoReverseMatch:
            continue
    raise AssertionError(f"cannot build a URL for {name}")


def _settings_method(name: str) -> str:
    return "POST" if name.endswith(("deactivate", "reactivate", "unlock")) else "GET"


@pytest.mark.parametrize("role", ROLES)
def test_ui_urls_honour_function_permissions_and_data_scope(role, world):
    org = world["org"]
    user = getattr(org, role)
    client = Client()
    client.force_login(user)
    failures = []
    for name in sorted(ui_url_names()):
        module, action, method = UI.get(name, ("settings", "configure", _settings_method(name)))
        if method in ("SKIP", "OWN_TOKEN"):
            continue
        owners = ["rep1", "rep3"] if name.startswith(RECORD_UI_PREFIXES) else [None]
        for owner in owners:
            customer = world[owner or "rep1"]
            contact = customer.contacts.order_by("-is_primary", "id").last()
            opportunity = world["opportunities"][owner or "rep1"]
            url = _fill(name, customer, contact, org, world, role, opportunity)
            takes_record = bool(re.search(r"/\d+/|object_id=", url)) and name.startswith(
                RECORD_UI_PREFIXES
            )
            expected = _expected(role, module, action, owner if takes_record else None)
            with transaction.atomic():
                response = getattr(client, method.lower())(url)
                transaction.set_rollback(True)
            if response.status_code not in expected:
                failures.append(
                    f"{method} {url} ({name}) as {role}: {response.status_code}, "
                    f"expected one of {sorted(expected)}"
                )
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ROLES)
def test_api_routes_honour_function_permissions_and_data_scope(role, world):
    org = world["org"]
    user = getattr(org, role)
    _token, raw = api_token_create(user=user, name="matrix")
    client = Client(headers={"Authorization": f"Bearer {raw}"}, enforce_csrf_checks=True)
    failures = []
    for (method, template), (module, action) in sorted(API.items()):
        if module == "public":
            continue
        names_record = any(
            key in template + API_QUERY.get((method, template), "")
            for key in (
                "{customer_id}",
                "{contact_id}",
                "{attachment_id}",
                "{followup_id}",
                "{opportunity_id}",
                "{approval_id}",
                "{lead_id}",
            )
        ) or ((method, template) in API_MULTIPART and "{module}" not in template)
        owners = ["rep1", "rep3"] if names_record else [None]
        for owner in owners:
            customer = world[owner or "rep1"]
            contact = customer.contacts.order_by("-is_primary", "id").last()
            ids = {
                "customer_id": customer.pk,
                "contact_id": contact.pk,
                "kind": "industry",
                "user_id": org.rep2.pk,
                "followup_id": customer.followup.pk,
                "opportunity_id": world["opportunities"][owner or "rep1"].pk,
                "attachment_id": world["files"][owner or "rep1"].pk,
                "notification_id": world["notes"][role].pk,
                "approval_id": world["approvals"][owner or "rep1"].pk,
                "lead_id": world["leads"][owner or "rep1"].pk,
                "job_id": world["jobs"][role].pk,
                "import_id": world["imports"][role].pk,
                "module": "customers",
                "field_id": world["custom_field"].pk,
                "record_id": customer.pk,
            }
            if template.startswith("/api/v1/privacy/"):
                ids["kind"] = "customer"  # an enterprise customer: 422 for administrators
            path = template.format(**ids)
            path += API_QUERY.get((method, template), "").format(**ids)
            body = API_BODY.get((method, template))
            expected = _expected(role, module, action, owner)
            with transaction.atomic():
                if (method, template) in API_MULTIPART:
                    from django.core.files.uploadedfile import SimpleUploadedFile

                    form = dict(API_MULTIPART[(method, template)])
                    file_name, file_content = form.pop("file")
                    data = {k: str(v).format(**ids) for k, v in form.items()}
                    data["file"] = SimpleUploadedFile(file_name, file_content)
                    response = client.post(path, data=data)
                elif method in ("POST", "PATCH"):
                    import json

                    response = getattr(client, method.lower())(
                        path, data=json.dumps(body or {}), content_type="application/json"
                    )
                else:
                    response = getattr(client, method.lower())(path)
                transaction.set_rollback(True)
            if response.status_code not in expected:
                failures.append(
                    f"{method} {path} as {role}: {response.status_code} "
                    f"{response.content[:160]!r}, expected one of {sorted(expected)}"
                )
    assert not failures, "\n".join(failures)


def test_anonymous_callers_are_turned_away(world):
    client = Client()
    for name in sorted(ui_url_names()):
        module, _action, method = UI.get(name, ("settings", "configure", _settings_method(name)))
        if module == "public" or method != "GET":
            continue
        url = _fill(
            name,
            world["rep1"],
            world["rep1"].contacts.first(),
            world["org"],
            world,
            None,
            world["opportunities"]["rep1"],
        )
        response = client.get(url)
        assert response.status_code == 302 and "/account/login/" in response["Location"], url
    for (method, template), (module, _a) in API.items():
        if module == "public" or method != "GET":
            continue
        path = template.format(
            customer_id=world["rep1"].pk,
            contact_id=1,
            kind="industry",
            user_id=1,
            followup_id=1,
            attachment_id=world["files"]["rep1"].pk,
            notification_id=world["notes"]["rep1"].pk,
            opportunity_id=world["opportunities"]["rep1"].pk,
            approval_id=world["approvals"]["rep1"].pk,
            lead_id=world["leads"]["rep1"].pk,
            job_id=world["jobs"]["rep1"].pk,
            import_id=world["imports"]["rep1"].pk,
            module="customers",
            field_id=world["custom_field"].pk,
        )
        assert client.get(path).status_code == 401, path


@pytest.mark.parametrize("role", ROLES)
def test_nobody_reads_or_marks_someone_elses_notification(role, world):
    """The notification routes take the caller's own notifications only: another person's is
    404 for every role, administrators included (nobody's data scope covers their inbox)."""
    org = world["org"]
    other = "rep2"
    note = world["notes"].get(other) or org.rep2.notifications.create(kind="t", text="x")
    client = Client()
    client.force_login(getattr(org, role))
    from django.urls import reverse

    for name in ("notify:read", "notify:open"):
        assert client.post(reverse(name, args=[note.pk])).status_code == 404, (name, role)
    _token, raw = api_token_create(user=getattr(org, role), name="matrix")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert api.post(f"/api/v1/notifications/{note.pk}/read").status_code == 404
    note.refresh_from_db()
    assert not note.is_read
