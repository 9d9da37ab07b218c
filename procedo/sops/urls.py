from django.urls import path

from procedo.sops import views

app_name = "sops"
urlpatterns = [
    path("", views.sop_list, name="list"),
    path("new/", views.sop_create, name="create"),
    path("<int:sop_id>/", views.sop_detail, name="detail"),
    path("<int:sop_id>/edit/", views.sop_update, name="update"),
    path("<int:sop_id>/drafts/", views.revision_draft_create, name="draft-create"),
    path("revisions/<int:revision_id>/", views.revision_detail, name="revision"),
    path("revisions/<int:revision_id>/move/", views.revision_transition, name="transition"),
    path(
        "revisions/<int:revision_id>/preview/<slug:trigger_key>/",
        views.trigger_preview,
        name="preview",
    ),
    path("revisions/<int:revision_id>/<slug:section>/new/", views.revision_item, name="item-new"),
    path(
        "revisions/<int:revision_id>/<slug:section>/<int:index>/",
        views.revision_item,
        name="item",
    ),
    path(
        "revisions/<int:revision_id>/<slug:section>/<int:index>/remove/",
        views.revision_item_remove,
        name="item-remove",
    ),
    path(
        "revisions/<int:revision_id>/<slug:section>/<int:index>/move/",
        views.revision_item_move,
        name="item-move",
    ),
]
