from django.urls import path

from procedo.marketing import views

app_name = "marketing"
urlpatterns = [
    path("segments/", views.segments, name="segments"),
    path("segments/new/", views.segment_new, name="segment-new"),
    path("segments/preview/", views.segment_preview, name="segment-preview"),
    path("segments/rules/", views.segment_rules, name="segment-rules"),
    path("segments/<int:segment_id>/", views.segment_edit, name="segment-edit"),
    path("segments/<int:segment_id>/delete/", views.segment_delete, name="segment-delete"),
    path("rfm/refresh/", views.rfm_refresh, name="rfm-refresh"),
    path("campaigns/", views.campaigns, name="campaigns"),
    path("campaigns/new/", views.campaign_create, name="campaign-create"),
    path("campaigns/<int:campaign_id>/", views.campaign, name="campaign"),
    path("campaigns/<int:campaign_id>/send/", views.campaign_send, name="campaign-send"),
    path("campaigns/<int:campaign_id>/cancel/", views.campaign_cancel, name="campaign-cancel"),
    path("ladder/", views.ladder, name="ladder"),
    path("ladder/compute/", views.ladder_compute, name="ladder-compute"),
    path("ladder/set/", views.ladder_set, name="ladder-set"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "segments": ("segment_list", "rfm_groups"),
    "segment-new": ("segment_create", "rule_catalog"),
    "segment-preview": ("segment_preview",),
    "segment-rules": ("rule_catalog",),
    "segment-edit": ("segment_update", "segment_detail", "rule_catalog"),
    "segment-delete": ("segment_delete",),
    "rfm-refresh": ("rfm_refresh",),
    "campaigns": ("campaign_list",),
    "campaign-create": ("campaign_create",),
    "campaign": ("campaign_detail",),
    "campaign-send": ("campaign_send",),
    "campaign-cancel": ("campaign_cancel",),
    "ladder": ("ladder_top", "ladder_get"),
    "ladder-compute": ("ladder_compute",),
    "ladder-set": ("ladder_set",),
}
