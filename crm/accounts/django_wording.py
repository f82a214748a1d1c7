"""Django's own password strings, in the CRM's words (issue 5 §4).

Django's zh-Hans catalogue addresses the user as 你 where the CRM says 您. The project's
catalogue (LOCALE_PATHS) is searched first, so translating these msgids there overrides
Django's. Listing them here keeps `makemessages` from dropping them as unused; the module is
never imported for anything else.
"""

from django.utils.translation import gettext_noop, ngettext_lazy

DJANGO_PASSWORD_STRINGS = [
    gettext_noop("Your old password was entered incorrectly. Please enter it again."),
    gettext_noop("Your password can’t be too similar to your other personal information."),
    gettext_noop("Your password can’t be a commonly used password."),
    gettext_noop("Your password can’t be entirely numeric."),
    gettext_noop("The two password fields didn’t match."),
    gettext_noop("This password is too common."),
    gettext_noop("This password is entirely numeric."),
    gettext_noop("The password is too similar to the %(verbose_name)s."),
    gettext_noop("Old password"),
    gettext_noop("New password confirmation"),
]

DJANGO_PASSWORD_PLURALS = [
    ngettext_lazy(
        "Your password must contain at least %(min_length)d character.",
        "Your password must contain at least %(min_length)d characters.",
        "min_length",
    ),
    ngettext_lazy(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        "min_length",
    ),
]
