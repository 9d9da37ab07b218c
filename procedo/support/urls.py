from django.urls import path

from procedo.support import views

app_name = "support"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("<int:conversation_id>/reply/", views.conversation_reply, name="reply"),
    path("<int:conversation_id>/notes/", views.conversation_note_add, name="note-add"),
    path("<int:conversation_id>/assign/", views.conversation_assign, name="assign"),
    path("<int:conversation_id>/status/", views.conversation_change_status, name="change-status"),
    path("<int:conversation_id>/ticket/", views.ticket_open, name="ticket-open"),
    path(
        "<int:conversation_id>/ticket/priority/", views.ticket_priority_set, name="ticket-priority"
    ),
    path("settings/", views.support_settings, name="settings"),
    path("settings/policies/", views.sla_policy_save, name="policy-save"),
    path("settings/categories/", views.ticket_category_create, name="category-create"),
    path("settings/standard/", views.support_settings_save, name="standard-save"),
    path("settings/calendar/", views.business_calendar_set, name="calendar-set"),
    path("standards/", views.response_standards, name="standards"),
    path("hooks/telegram/", views.telegram_webhook, name="telegram-webhook"),
    path("survey/<str:token>/", views.survey, name="survey"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py), or why it has none.
API_TWINS = {
    "inbox": ("conversation_list",),
    "conversation": ("conversation_detail",),
    "reply": ("conversation_reply",),
    "note-add": ("conversation_note_add",),
    "assign": ("conversation_assign",),
    "change-status": ("conversation_change_status",),
    "ticket-open": ("ticket_open",),
    "ticket-priority": ("ticket_priority_set",),
    "settings": ("sla_policy_list", "ticket_category_list"),
    "policy-save": ("sla_policy_save",),
    "category-create": ("ticket_category_create",),
    "standard-save": ("support_settings_save",),
    "calendar-set": ("business_calendar_set",),
    "standards": ("response_standards", "csat_summary"),
}

PAGE_ONLY = {
    "telegram-webhook": "Telegram's own door, authenticated by the secret header; a program "
    "posts the same Update to it",
    "survey": "the customer's one-time rating link, for people without an account; "
    "the ratings are read back through the csat_summary and conversation_detail operations",
}
