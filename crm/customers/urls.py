from django.urls import path

from crm.customers import views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list_view, name="list"),
    path("new/", views.customer_create_view, name="create"),
    path("recycle-bin/", views.recycle_bin_view, name="recycle_bin"),
    path("<int:pk>/", views.customer_detail_view, name="detail"),
]
