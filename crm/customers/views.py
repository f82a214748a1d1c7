# Temporary: replaced by the customers UI work in this same change.
from django.http import HttpResponse


def customer_list_view(request):
    return HttpResponse("")


customer_create_view = recycle_bin_view = customer_list_view


def customer_detail_view(request, pk):
    return HttpResponse("")
