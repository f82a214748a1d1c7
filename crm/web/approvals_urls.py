"""The approvals UI (crm/web/approvals.py), under /approvals/."""

from django.urls import path

from crm.web import approvals as views

app_name = "approvals"
urlpatterns = [
    path("", views.approval_list_view, name="list"),
    path("<int:pk>/", views.approval_detail_view, name="detail"),
    path("<int:pk>/approve/", views.approval_approve_view, name="approve"),
    path("<int:pk>/reject/", views.approval_reject_view, name="reject"),
    path("<int:pk>/withdraw/", views.approval_withdraw_view, name="withdraw"),
]
