from django.urls import path

from procedo.collab import views

app_name = "collab"
urlpatterns = [
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/bell/", views.bell, name="bell"),
    path("notifications/read/", views.notifications_read_all, name="read-all"),
    path("notifications/settings/", views.notification_setting_set, name="settings"),
    path("notifications/<int:notification_id>/", views.notification_open, name="open"),
    path("notifications/<int:notification_id>/read/", views.notification_read, name="read"),
    path(
        "comments/<slug:subject_type>/<int:subject_id>/",
        views.comment_create,
        name="comment-create",
    ),
    path("comments/<int:comment_id>/delete/", views.comment_delete, name="comment-delete"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "notifications": ("notification_list",),
    "bell": ("notification_list",),
    "read-all": ("notifications_read_all",),
    "settings": ("notification_setting_set", "notification_setting_get"),
    "open": ("notification_read",),
    "read": ("notification_read",),
    "comment-create": ("comment_create",),
    "comment-delete": ("comment_delete",),
}
