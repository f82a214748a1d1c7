from django.urls import path

from crm.leads import views_actions as views

app_name = "lead_actions"
urlpatterns = [
    path("assign/", views.leads_bulk_assign_view, name="bulk_assign"),
    path("<int:pk>/assign/", views.lead_assign_view, name="assign"),
    path("<int:pk>/convert/", views.lead_convert_view, name="convert"),
    path("<int:pk>/qualify/", views.lead_qualify_view, name="qualify"),
    path("<int:pk>/disqualify/", views.lead_disqualify_view, name="disqualify"),
    path("<int:pk>/requalify/", views.lead_requalify_view, name="requalify"),
]
