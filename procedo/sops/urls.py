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
urlpatterns += [
    path("mine/", views.onboarding, name="mine"),
    path("library/", views.library, name="library"),
    path("library/install/", views.library_install, name="library-install"),
    path("recognition/", views.recognition, name="recognition"),
    path("<int:sop_id>/steps/<slug:step_key>/feedback/", views.feedback, name="feedback"),
    path("<int:sop_id>/proposals/", views.proposal_create, name="proposal-create"),
    path("feedback/<int:feedback_id>/resolve/", views.feedback_resolve, name="feedback-resolve"),
    path("proposals/<int:proposal_id>/accept/", views.proposal_accept, name="proposal-accept"),
    path("proposals/<int:proposal_id>/decline/", views.proposal_decline, name="proposal-decline"),
    path(
        "revisions/<int:revision_id>/acknowledge/",
        views.acknowledgement_confirm,
        name="acknowledge",
    ),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py). The definition's
# editor changes one trigger or step a page at a time; a program sends the whole
# definition (`revision_update`), checked by the same validation.
API_TWINS = {
    "list": ("sop_list",),
    "create": ("sop_create", "sop_catalog"),
    "detail": ("sop_detail", "runs_of_sop", "feedback_list", "proposal_list"),
    "update": ("sop_update",),
    "draft-create": ("revision_draft_create",),
    "revision": ("revision_detail", "revision_diff", "acknowledgement_board"),
    "transition": ("revision_transition",),
    "preview": ("trigger_preview",),
    "item-new": ("revision_update",),
    "item": ("revision_update",),
    "item-remove": ("revision_update",),
    "item-move": ("revision_update",),
    "mine": ("onboarding_list",),
    "library": ("library_list",),
    "library-install": ("library_install",),
    "recognition": ("recognition",),
    "feedback": ("feedback_leave",),
    "proposal-create": ("proposal_make",),
    "feedback-resolve": ("feedback_resolve",),
    "proposal-accept": ("proposal_accept",),
    "proposal-decline": ("proposal_decline",),
    "acknowledge": ("acknowledgement_confirm",),
}
