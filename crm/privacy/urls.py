from django.urls import path

from crm.privacy import views

app_name = "privacy"

urlpatterns = [
    # The field to reveal (phone, email) is posted as `field` (hx-vals).
    path(
        "customers/<int:pk>/reveal/",
        views.reveal_view,
        {"kind": "customer"},
        name="customer_reveal",
    ),
    path(
        "contacts/<int:pk>/reveal/", views.reveal_view, {"kind": "contact"}, name="contact_reveal"
    ),
    path("leads/<int:pk>/reveal/", views.reveal_view, {"kind": "lead"}, name="lead_reveal"),
]
