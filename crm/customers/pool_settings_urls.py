from django.urls import path

from crm.customers import pool_views as views

app_name = "pool_settings"
urlpatterns = [path("", views.pool_settings_view, name="index")]
