from django.contrib.auth import views as auth_views
from django.urls import path

from procedo.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("profile/", views.profile, name="profile"),
    path("tokens/<int:token_id>/revoke/", views.api_token_revoke, name="token_revoke"),
    path("users/", views.users, name="users"),
    path("users/<int:user_id>/role/", views.user_change_role, name="user_role"),
    path("users/<int:user_id>/active/", views.user_set_active, name="user_active"),
    path("teams/", views.team_create, name="team_create"),
    path("lockouts/release/", views.login_lock_release, name="lock_release"),
]
