from django.urls import path

from crm.accounts import settings_clocks
from crm.accounts import settings_views as views

app_name = "settings"
urlpatterns = [
    path("", views.settings_index, name="index"),
    path("users/", views.users_list, name="users"),
    path("users/new/", views.user_create_view, name="user_create"),
    path("users/<int:pk>/", views.user_edit_view, name="user_edit"),
    path("users/<int:pk>/password/", views.user_password_view, name="user_password"),
    path("users/<int:pk>/deactivate/", views.user_deactivate_view, name="user_deactivate"),
    path("users/<int:pk>/reactivate/", views.user_reactivate_view, name="user_reactivate"),
    path("users/<int:pk>/unlock/", views.user_unlock_view, name="user_unlock"),
    path("departments/", views.departments_list, name="departments"),
    path("departments/new/", views.department_create_view, name="department_create"),
    path("departments/<int:pk>/", views.department_edit_view, name="department_edit"),
    path(
        "departments/<int:pk>/deactivate/",
        views.department_deactivate_view,
        name="department_deactivate",
    ),
    path(
        "departments/<int:pk>/reactivate/",
        views.department_reactivate_view,
        name="department_reactivate",
    ),
    path("roles/", views.roles_list, name="roles"),
    path("roles/new/", views.role_create_view, name="role_create"),
    path("roles/<int:pk>/", views.role_edit_view, name="role_edit"),
    path("lists/", views.lists_index, name="lists"),
    path("lists/<slug:kind>/", views.list_view, name="list"),
    path("lists/<slug:kind>/new/", views.list_item_create_view, name="list_item_create"),
    path("lists/<slug:kind>/<int:pk>/", views.list_item_edit_view, name="list_item_edit"),
    path(
        "lists/<slug:kind>/<int:pk>/deactivate/",
        views.list_item_deactivate_view,
        name="list_item_deactivate",
    ),
    path(
        "lists/<slug:kind>/<int:pk>/reactivate/",
        views.list_item_reactivate_view,
        name="list_item_reactivate",
    ),
    path("rules/", views.rules_view, name="rules"),
    path("clocks/", settings_clocks.clocks_view, name="clocks"),
    path("audit/", views.audit_view, name="audit"),
]
