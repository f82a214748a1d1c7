from django.urls import path

from crm.dataio import views

app_name = "dataio"
urlpatterns = [
    path("download/<int:pk>/", views.export_download_view, name="export_download"),
    path("<slug:module>/", views.export_view, name="export"),
]
