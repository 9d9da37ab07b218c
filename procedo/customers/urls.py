from django.urls import path

from procedo.customers import views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("export/", views.customer_export, name="export"),
    path("duplicates/", views.customer_duplicates, name="duplicates"),
    path("duplicates/dismiss/", views.duplicate_dismiss, name="duplicate_dismiss"),
    path("merge/", views.customer_merge, name="merge"),
    path("<int:customer_id>/", views.customer_card, name="card"),
    path("<int:customer_id>/edit/", views.customer_update, name="update"),
    path("<int:customer_id>/timeline/", views.customer_timeline, name="timeline"),
    path("<int:customer_id>/identities/", views.identity_add, name="identity_add"),
    path(
        "<int:customer_id>/identities/<int:identity_id>/remove/",
        views.identity_remove,
        name="identity_remove",
    ),
    path(
        "<int:customer_id>/identities/<int:identity_id>/consent/",
        views.consent_set,
        name="consent_set",
    ),
    path("<int:customer_id>/addresses/", views.address_add, name="address_add"),
    path(
        "<int:customer_id>/addresses/<int:address_id>/remove/",
        views.address_remove,
        name="address_remove",
    ),
    path("<int:customer_id>/tags/", views.tag_add, name="tag_add"),
    path("<int:customer_id>/tags/remove/", views.tag_remove, name="tag_remove"),
    path("<int:customer_id>/notes/", views.note_add, name="note_add"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "list": ("customer_list",),
    "create": ("customer_create",),
    "export": ("customer_export",),
    "duplicates": ("customer_duplicates",),
    "duplicate_dismiss": ("duplicate_dismiss",),
    "merge": ("customer_merge", "customer_get"),
    "card": ("customer_get",),
    "update": ("customer_update",),
    "timeline": ("customer_timeline",),
    "identity_add": ("identity_add",),
    "identity_remove": ("identity_remove",),
    "consent_set": ("consent_set",),
    "address_add": ("address_add",),
    "address_remove": ("address_remove",),
    "tag_add": ("tag_add",),
    "tag_remove": ("tag_remove",),
    "note_add": ("note_add",),
}
