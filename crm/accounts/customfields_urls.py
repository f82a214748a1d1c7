from django.urls import path

from crm.accounts import customfields_views as views

app_name = "custom_fields"
urlpatterns = [
    path("", views.custom_fields_index, name="index"),
    path("<int:pk>/", views.custom_field_edit_view, name="edit"),
    path("<int:pk>/retire/", views.custom_field_retire_view, name="retire"),
    path("<int:pk>/reactivate/", views.custom_field_reactivate_view, name="reactivate"),
    path("<slug:module>/", views.custom_fields_module_view, name="module"),
    path("<slug:module>/new/", views.custom_field_create_view, name="create"),
    path("<slug:module>/reorder/", views.custom_fields_reorder_view, name="reorder"),
]
