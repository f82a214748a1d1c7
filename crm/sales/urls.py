from django.urls import path

from crm.sales import views

app_name = "sales"
urlpatterns = [
    path("", views.opportunity_list_view, name="list"),
    path("kanban/", views.opportunity_kanban_view, name="kanban"),
    path("forecast/", views.forecast_view, name="forecast"),
    path("new/", views.opportunity_create_view, name="create"),
    path("recycle-bin/", views.recycle_bin_view, name="recycle_bin"),
    path("<int:pk>/", views.opportunity_detail_view, name="detail"),
    path("<int:pk>/edit/", views.opportunity_edit_view, name="edit"),
    path("<int:pk>/stage/", views.opportunity_stage_view, name="stage"),
    path("<int:pk>/win/", views.opportunity_win_view, name="win"),
    path("<int:pk>/lose/", views.opportunity_lose_view, name="lose"),
    path("<int:pk>/reopen/", views.opportunity_reopen_view, name="reopen"),
    path("<int:pk>/milestones/", views.milestone_create_view, name="milestone_create"),
    path("<int:pk>/delete/", views.opportunity_delete_view, name="delete"),
    path("<int:pk>/restore/", views.opportunity_restore_view, name="restore"),
]
