from django.urls import path

from crm.sales import settings_views as views

app_name = "stages"
urlpatterns = [
    path("", views.stages_view, name="list"),
    path("new/", views.stage_create_view, name="create"),
    path("reorder/", views.stages_reorder_view, name="reorder"),
    path("<int:pk>/", views.stage_edit_view, name="edit"),
    path("<int:pk>/retire/", views.stage_retire_view, name="retire"),
    path("<int:pk>/reactivate/", views.stage_reactivate_view, name="reactivate"),
    path("<int:pk>/delete/", views.stage_delete_view, name="delete"),
]
