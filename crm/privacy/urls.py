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
    # Data-subject requests (administrators): kind is customer, contact or lead.
    path("<str:kind>/<int:pk>/export/", views.personal_export_view, name="export"),
    path("<str:kind>/<int:pk>/anonymise/", views.personal_anonymise_view, name="anonymise"),
]
