"""The notifications page (issue 6 §5), under /notifications/."""

from django.urls import path

from crm.notify import views

app_name = "notify"
urlpatterns = [
    path("", views.notification_list_view, name="list"),
    path("read-all/", views.notifications_read_all_view, name="read_all"),
    path("<int:pk>/read/", views.notification_read_view, name="read"),
    path("<int:pk>/open/", views.notification_open_view, name="open"),
]
