from django.urls import path

from crm.leads import webform_views as views

app_name = "webforms"
urlpatterns = [
    path("", views.webforms_view, name="list"),
    path("new/", views.webform_create_view, name="create"),
    path("limits/", views.webform_limits_view, name="limits"),
    path("<int:pk>/", views.webform_edit_view, name="edit"),
    path("<int:pk>/deactivate/", views.webform_deactivate_view, name="deactivate"),
    path("<int:pk>/reactivate/", views.webform_reactivate_view, name="reactivate"),
    path("<int:pk>/delete/", views.webform_delete_view, name="delete"),
]
