from django.urls import path

from procedo.messaging import views

app_name = "messaging"

urlpatterns = [
    path("", views.messages_list, name="list"),
    path("<int:message_id>/", views.message_detail, name="detail"),
    path("<int:message_id>/mark-sent/", views.message_mark_sent, name="mark-sent"),
    path("<int:message_id>/resend/", views.message_resend, name="resend"),
    path("templates/", views.templates_list, name="templates"),
    path("templates/new/", views.template_save, name="template-new"),
    path("templates/<int:template_id>/", views.template_save, name="template-edit"),
    path("templates/preview/", views.template_preview, name="template-preview"),
    path("inbound/<int:inbound_id>/", views.inbound_detail, name="inbound-detail"),
    path("sms/status/", views.sms_status_apply, name="sms-status"),
    path("sms/inbound/", views.inbound_sms_receive, name="sms-inbound"),
    path("unsubscribe/<str:token>/", views.unsubscribe_apply, name="unsubscribe"),
]
