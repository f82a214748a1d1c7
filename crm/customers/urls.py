from django.urls import path

from crm.customers import pool_views, views, views_clocks, views_lifecycle, views_merge

app_name = "customers"
urlpatterns = [
    path("", views.customer_list_view, name="list"),
    path("new/", views.customer_create_view, name="create"),
    path("recycle-bin/", views.recycle_bin_view, name="recycle_bin"),
    path("dormant/", views_clocks.customers_dormant_view, name="dormant"),
    path("bulk/", views.customers_bulk_view, name="bulk"),
    path("duplicates/", views_merge.customer_duplicates_view, name="duplicates"),
    path("<int:pk>/", views.customer_detail_view, name="detail"),
    path("<int:pk>/edit/", views.customer_edit_view, name="edit"),
    path("<int:pk>/delete/", views.customer_delete_view, name="delete"),
    path("<int:pk>/restore/", views.customer_restore_view, name="restore"),
    path("<int:pk>/transfer/", views.customer_transfer_view, name="transfer"),
    path("<int:pk>/release/", pool_views.customer_release_view, name="release"),
    path("<int:pk>/merge/", views_merge.customer_merge_pick_view, name="merge_pick"),
    path("<int:pk>/compare/", views_merge.customer_compare_view, name="compare"),
    path("<int:pk>/lifecycle/", views_lifecycle.customer_lifecycle_view, name="lifecycle"),
    path("<int:pk>/contacts/", views.contacts_view, name="contacts"),
    path("<int:pk>/contacts/new/", views.contact_create_view, name="contact_create"),
    path("<int:pk>/contacts/<int:contact_id>/edit/", views.contact_edit_view, name="contact_edit"),
    path(
        "<int:pk>/contacts/<int:contact_id>/delete/",
        views.contact_delete_view,
        name="contact_delete",
    ),
    path(
        "<int:pk>/contacts/<int:contact_id>/primary/",
        views.contact_primary_view,
        name="contact_primary",
    ),
]
