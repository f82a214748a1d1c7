# Temporary: replaced by the settings UI work in this same change.
from django.http import HttpResponse


def settings_index(request):
    return HttpResponse("")
