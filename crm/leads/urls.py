from django.urls import path

from crm.leads import views, views_merge

app_name = "leads"
urlpatterns = [
    path("", views.lead_list_view, name="list"),
    path("new/", views.lead_create_view, name="new"),
    path("bin/", views.lead_bin_view, name="bin"),
    path("duplicates/", views_merge.lead_duplicates_view, name="duplicates"),
    path("<int:pk>/merge/", views_merge.lead_merge_pick_view, name="merge_pick"),
    path("<int:pk>/compare/", views_merge.lead_compare_view, name="compare"),
    path("<int:pk>/", views.lead_detail_view, name="detail"),
    path("<int:pk>/edit/", views.lead_edit_view, name="edit"),
    path("<int:pk>/delete/", views.lead_delete_view, name="delete"),
    path("<int:pk>/restore/", views.lead_restore_view, name="restore"),
    path("<int:pk>/followups/", views.lead_followup_view, name="followup"),
]
