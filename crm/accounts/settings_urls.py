from django.urls import path

from crm.accounts import settings_views as views

app_name = "settings"
urlpatterns = [
    path("", views.settings_index, name="index"),
]
