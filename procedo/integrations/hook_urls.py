from django.urls import path

from procedo.integrations import hooks

app_name = "hooks"
urlpatterns = [
    path("<slug:platform>/<str:key>/", hooks.hook_receive, name="receive"),
]

# Pages with no API twin, and why (procedo/home/tests/test_api_twins.py).
PAGE_ONLY = {
    "receive": "it is the platforms' own endpoint: they post to it, signed; nobody browses it",
}
