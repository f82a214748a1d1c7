from django.urls import path

from crm.customers import pool_views as views

app_name = "pool"
urlpatterns = [
    path("", views.pool_list_view, name="list"),
    path("<int:pk>/", views.pool_detail_view, name="detail"),
    path("<int:pk>/claim/", views.pool_claim_view, name="claim"),
]
