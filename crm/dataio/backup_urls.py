from django.urls import path

from crm.dataio import backup_views as views

app_name = "backups"
urlpatterns = [
    path("", views.backups_view, name="list"),
    path("now/", views.backup_now_view, name="now"),
    path("<int:pk>/download/", views.backup_download_view, name="download"),
]
