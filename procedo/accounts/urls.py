from django.contrib.auth import views as auth_views
from django.urls import path

from procedo.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("profile/", views.profile, name="profile"),
    path("language/", views.language_set, name="language"),
    path("tokens/<int:token_id>/revoke/", views.api_token_revoke, name="token_revoke"),
    path("users/", views.users, name="users"),
    path("users/<int:user_id>/role/", views.user_change_role, name="user_role"),
    path("users/<int:user_id>/active/", views.user_set_active, name="user_active"),
    path("teams/", views.team_create, name="team_create"),
    path("lockouts/release/", views.login_lock_release, name="lock_release"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py), or why it has none.
API_TWINS = {
    "profile": ("me", "api_token_list", "api_token_issue"),
    "language": ("me_language_set",),
    "token_revoke": ("api_token_revoke",),
    "users": ("user_list", "user_create", "team_list", "login_lockouts"),
    "user_role": ("user_update",),
    "user_active": ("user_update",),
    "team_create": ("team_create", "team_members_set"),
    "lock_release": ("login_lock_release",),
}
PAGE_ONLY = {
    "login": "a browser's session; a program sends an API token instead",
    "logout": "ends a browser's session; a program revokes its token",
    "password_change": "a person's password, typed by that person; programs hold tokens",
}
