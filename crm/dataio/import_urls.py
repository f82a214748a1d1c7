from django.urls import path

from crm.dataio import views_imports as views

app_name = "imports"
urlpatterns = [
    path("", views.import_history_view, name="history"),
    path("job/<int:pk>/", views.import_detail_view, name="detail"),
    path("job/<int:pk>/mapping/", views.import_mapping_view, name="mapping"),
    path("job/<int:pk>/run/", views.import_run_view, name="run"),
    path("job/<int:pk>/errors/", views.import_errors_view, name="errors"),
    path("<slug:module>/", views.import_upload_view, name="upload"),
    path("<slug:module>/template/", views.import_template_view, name="template"),
]
