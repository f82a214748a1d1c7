"""What other modules hear from the follow-up log.

`followup_logged` is sent inside the transaction that saved a new follow-up, after the
customer's follow-up times were refreshed, with `followup` and `actor`: a lead's first
contact (LEAD-3) and the customer's clocks (FUP-3 overdue, CUS-10 dormant) are settled by
their own modules at once, without the follow-up log knowing them.
"""

from django.dispatch import Signal

followup_logged = Signal()
