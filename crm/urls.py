from django.contrib import admin
from django.urls import include, path

from crm.api import api
from crm.leads.public_views import webform_public_view
from crm.web.approvals import approvals_settings_view

urlpatterns = [
    path("", include("crm.web.urls")),
    path("account/", include("crm.accounts.urls")),
    path("settings/stages/", include("crm.sales.settings_urls")),
    path("settings/lead-rules/", include("crm.leads.settings_urls")),
    path("settings/pool/", include("crm.customers.pool_settings_urls")),
    path("settings/web-forms/", include("crm.leads.webform_urls")),
    path("settings/backups/", include("crm.dataio.backup_urls")),
    path("settings/custom-fields/", include("crm.accounts.customfields_urls")),
    path("settings/approvals/", approvals_settings_view, name="approvals_settings"),
    path("settings/", include("crm.accounts.settings_urls")),
    path("customers/", include("crm.customers.urls")),
    path("pool/", include("crm.customers.pool_urls")),
    path("leads/", include("crm.leads.urls_actions")),
    path("leads/", include("crm.leads.urls")),
    path("opportunities/", include("crm.sales.urls")),
    path("followups/", include("crm.activities.urls")),
    path("notifications/", include("crm.notify.urls")),
    path("export/", include("crm.dataio.urls")),
    path("import/", include("crm.dataio.import_urls")),
    path("approvals/", include("crm.web.approvals_urls")),
    path("attachments/", include("crm.web.attachments_urls")),
    path("privacy/", include("crm.privacy.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # A web form's public page (LEAD-1): no login, embeddable on the company's site.
    path("f/<str:key>/", webform_public_view, name="webform_public"),
    path("api/v1/", api.urls),
    path("django-admin/", admin.site.urls),
]
