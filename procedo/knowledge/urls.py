from django.urls import path

from procedo.knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("knowledge/", views.article_list, name="list"),
    path("knowledge/new/", views.article_create, name="create"),
    path("knowledge/search/", views.article_search, name="search"),
    path("knowledge/<slug:slug>/", views.article_detail, name="detail"),
    path("knowledge/<slug:slug>/edit/", views.article_revise, name="edit"),
    path("knowledge/<slug:slug>/status/", views.article_status_set, name="status"),
    path("knowledge/<slug:slug>/used/", views.article_reply_use, name="reply-use"),
    path(
        "knowledge/<slug:slug>/revisions/<int:number>/",
        views.article_revision_detail,
        name="revision",
    ),
    # For customers, without logging in: the language from the address or the browser.
    path("faq/", views.faq, name="faq"),
    path("faq/<str:language>/", views.faq, name="faq-language"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "list": ("article_list", "article_search"),
    "create": ("article_create",),
    "search": ("article_search",),
    "detail": ("article_detail", "article_open_record"),
    "edit": ("article_revise", "article_detail"),
    "status": ("article_status_set",),
    "reply-use": ("article_reply_use_record",),
    "revision": ("article_revision_detail",),
    "faq": ("faq_list",),
    "faq-language": ("faq_list",),
}
