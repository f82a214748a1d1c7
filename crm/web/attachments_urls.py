"""The attachments UI (crm/web/attachments.py), under /attachments/."""

from django.urls import path

from crm.web import attachments as views

app_name = "attachments"
urlpatterns = [
    path("panel/", views.attachments_panel_view, name="panel"),
    path("upload/", views.attachment_upload_view, name="upload"),
    path("<int:pk>/", views.attachment_download_view, name="download"),
    path("<int:pk>/delete/", views.attachment_delete_view, name="delete"),
]
