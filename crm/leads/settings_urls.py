from django.urls import path

from crm.leads import settings_views as views

app_name = "lead_rules"
urlpatterns = [
    path("", views.rules_view, name="list"),
    path("new/", views.rule_create_view, name="create"),
    path("reorder/", views.rules_reorder_view, name="reorder"),
    path("<int:pk>/", views.rule_edit_view, name="edit"),
    path("<int:pk>/up/", views.rule_up_view, name="up"),
    path("<int:pk>/down/", views.rule_down_view, name="down"),
    path("<int:pk>/activate/", views.rule_activate_view, name="activate"),
    path("<int:pk>/deactivate/", views.rule_deactivate_view, name="deactivate"),
    path("<int:pk>/delete/", views.rule_delete_view, name="delete"),
]
