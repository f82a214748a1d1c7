"""What other parts of the leads module hear when a lead is created.

`lead_created` is sent inside the transaction that saved a new lead, with `lead`, `actor`
(None for a public web form) and `web_form` (or None): the automatic assignment (LEAD-4)
gives an unassigned lead its owner by the ordered rules, or by the form's own rule.
"""

from django.dispatch import Signal

lead_created = Signal()
