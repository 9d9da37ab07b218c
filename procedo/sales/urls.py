from django.urls import path

from procedo.sales import views

app_name = "sales"
urlpatterns = [
    path("", views.board, name="board"),
    path("deals/", views.deal_list, name="deals"),
    path("deals/<int:deal_id>/", views.deal_detail, name="deal"),
    path("deals/<int:deal_id>/edit/", views.deal_update, name="deal-update"),
    path("deals/<int:deal_id>/move/", views.deal_move, name="deal-move"),
    path("deals/<int:deal_id>/meetings/", views.meeting_book, name="meeting-book"),
    path("leads/", views.lead_list, name="leads"),
    path("leads/new/", views.lead_create, name="lead-create"),
    path("leads/import/", views.leads_import, name="leads-import"),
    path("leads/<int:lead_id>/", views.lead_detail, name="lead"),
    path("leads/<int:lead_id>/contacts/", views.lead_contact_log, name="lead-contact"),
    path("leads/<int:lead_id>/qualify/", views.lead_qualify, name="lead-qualify"),
    path("leads/<int:lead_id>/disqualify/", views.lead_disqualify, name="lead-disqualify"),
    path("forms/<str:key>/submit/", views.form_submit, name="form-submit"),
    path("settings/", views.sales_settings, name="settings"),
    path("settings/pipelines/", views.pipeline_create, name="pipeline-create"),
    path("settings/pipelines/<int:pipeline_id>/stages/", views.stage_create, name="stage-create"),
    path("settings/stages/<int:stage_id>/", views.stage_update, name="stage-update"),
    path("settings/stages/<int:stage_id>/shift/", views.stage_shift, name="stage-shift"),
    path("settings/stages/<int:stage_id>/delete/", views.stage_delete, name="stage-delete"),
    path("settings/lost-reasons/", views.lost_reason_create, name="reason-create"),
    path(
        "settings/lost-reasons/<int:reason_id>/",
        views.lost_reason_set_active,
        name="reason-set-active",
    ),
    path("settings/forms/", views.lead_form_create, name="form-create"),
    path("settings/forms/<int:form_id>/", views.lead_form_set_active, name="form-set-active"),
    path("figures/", views.figures, name="figures"),
    path("figures/spend/", views.spend_set, name="spend-set"),
    path("figures/spend/import/", views.spend_import, name="spend-import"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "board": ("board_get", "pipeline_list"),
    "deals": ("deal_list",),
    "deal": ("deal_detail", "lost_reason_list"),
    "deal-update": ("deal_update",),
    "deal-move": ("deal_move",),
    "meeting-book": ("meeting_book",),
    "leads": ("lead_list",),
    "lead-create": ("lead_create",),
    "leads-import": ("leads_import",),
    "lead": ("lead_detail", "lead_contact_list"),
    "lead-contact": ("lead_contact_log",),
    "lead-qualify": ("lead_qualify",),
    "lead-disqualify": ("lead_disqualify",),
    "settings": ("pipeline_list", "lost_reason_list", "lead_form_list"),
    "pipeline-create": ("pipeline_create",),
    "stage-create": ("stage_create",),
    "stage-update": ("stage_update",),
    "stage-shift": ("stages_reorder",),
    "stage-delete": ("stage_delete",),
    "reason-create": ("lost_reason_create",),
    "reason-set-active": ("lost_reason_set_active",),
    "form-create": ("lead_form_create",),
    "form-set-active": ("lead_form_set_active",),
    "figures": ("acquisition_get", "stage_cycle_times", "spend_list"),
    "spend-set": ("spend_set",),
    "spend-import": ("spend_import",),
}

PAGE_ONLY = {
    "form-submit": "the public door a shop's site posts its form to, authorised by the form's "
    "key; a program with a token sends leads with lead_create",
}
