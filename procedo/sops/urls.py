from django.urls import path

from procedo.sops.views import authoring, feedback, library
from procedo.sops.views import messages as message_views

app_name = "sops"
urlpatterns = [
    path("", authoring.sop_list, name="list"),
    path("new/", authoring.sop_create, name="create"),
    path("<int:sop_id>/", authoring.sop_detail, name="detail"),
    path("<int:sop_id>/edit/", authoring.sop_update, name="update"),
    path("<int:sop_id>/pace/", authoring.sop_pace, name="pace"),
    path("<int:sop_id>/drafts/", authoring.revision_draft_create, name="draft-create"),
    path("revisions/<int:revision_id>/", authoring.revision_detail, name="revision"),
    path("revisions/<int:revision_id>/move/", authoring.revision_transition, name="transition"),
    path(
        "revisions/<int:revision_id>/preview/<slug:trigger_key>/",
        authoring.trigger_preview,
        name="preview",
    ),
    path(
        "revisions/<int:revision_id>/<slug:section>/new/", authoring.revision_item, name="item-new"
    ),
    path(
        "revisions/<int:revision_id>/<slug:section>/<int:index>/",
        authoring.revision_item,
        name="item",
    ),
    path(
        "revisions/<int:revision_id>/<slug:section>/<int:index>/remove/",
        authoring.revision_item_remove,
        name="item-remove",
    ),
    path(
        "revisions/<int:revision_id>/<slug:section>/<int:index>/move/",
        authoring.revision_item_move,
        name="item-move",
    ),
]
urlpatterns += [
    path(
        "revisions/<int:revision_id>/messages/",
        message_views.message_previews,
        name="messages",
    ),
    path(
        "revisions/<int:revision_id>/messages/<slug:step_key>/test/",
        message_views.message_test_send,
        name="message-test",
    ),
    path("mine/", feedback.onboarding, name="mine"),
    path("library/", library.library, name="library"),
    path("library/install/", library.library_install, name="library-install"),
    path("recognition/", feedback.recognition, name="recognition"),
    path("<int:sop_id>/steps/<slug:step_key>/feedback/", feedback.feedback, name="feedback"),
    path("<int:sop_id>/proposals/", feedback.proposal_create, name="proposal-create"),
    path("feedback/<int:feedback_id>/resolve/", feedback.feedback_resolve, name="feedback-resolve"),
    path("proposals/<int:proposal_id>/accept/", feedback.proposal_accept, name="proposal-accept"),
    path(
        "proposals/<int:proposal_id>/decline/", feedback.proposal_decline, name="proposal-decline"
    ),
    path(
        "revisions/<int:revision_id>/acknowledge/",
        feedback.acknowledgement_confirm,
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
    "pace": ("sop_pace_set", "sop_queue"),
    "draft-create": ("revision_draft_create",),
    "revision": ("revision_detail", "revision_diff", "acknowledgement_board"),
    "transition": ("revision_transition",),
    "preview": ("trigger_preview",),
    "item-new": ("revision_update",),
    "item": ("revision_update",),
    "item-remove": ("revision_update",),
    "item-move": ("revision_update",),
    "messages": ("message_previews",),
    "message-test": ("message_test_send",),
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
