from django.urls import path

from crm.activities import views, views_clocks

app_name = "activities"
urlpatterns = [
    path("", views.followups_mine_view, name="mine"),
    path("new/", views.followup_create_view, name="create"),
    path("recycle-bin/", views.followups_recycle_bin_view, name="recycle_bin"),
    path("overdue/", views_clocks.followups_overdue_view, name="overdue"),
    path("customer/<int:pk>/", views.followups_customer_tab_view, name="customer_tab"),
    path("opportunity/<int:pk>/", views.followups_opportunity_tab_view, name="opportunity_tab"),
    path("<int:pk>/", views.followup_detail_view, name="detail"),
    path("<int:pk>/edit/", views.followup_edit_view, name="edit"),
    path("<int:pk>/delete/", views.followup_delete_view, name="delete"),
    path("<int:pk>/restore/", views.followup_restore_view, name="restore"),
    path("<int:pk>/plan-done/", views.followup_plan_done_view, name="plan_done"),
]
