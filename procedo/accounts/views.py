from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from procedo.accounts import selectors, services
from procedo.accounts.decorators import requires
from procedo.accounts.forms import TeamForm, TokenForm, UserCreateForm, UserRoleForm
from procedo.core.errors import DomainError
from procedo.core.forms import refusal_add
from procedo.core.requests import HtmxHttpRequest


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


def login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """The log-in page, saying when to try again (axes' AXES_LOCKOUT_CALLABLE).

    Every refused attempt starts the cool-off anew, so it ends one cool-off from now.
    """
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    minutes = math.ceil(seconds / 60)
    message = ngettext(
        "Too many failed log-ins for this account or from this address. "
        "Try again in %(minutes)d minute.",
        "Too many failed log-ins for this account or from this address. "
        "Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
    context = {"lockout": message, "next": request.POST.get("next", "")}
    response = render(request, "accounts/login.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        response = super().form_valid(form)
        services.user_password_changed(user=form.user)
        messages.success(self.request, _("Your password was changed."))
        return response


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The language switch (the user menu, the log-in page): for the browser (its cookie)
    and, when someone is signed in, for the person (their profile)."""
    if request.user.is_authenticated:
        try:
            services.user_language_set(
                user=request.user,
                language=request.POST.get("language", ""),
            )
        except DomainError as exc:
            return HttpResponse(exc.message, status=exc.status_code)
    return set_language(request)


# A new token's secret is on this page once: no cache (the browser's, a proxy's) may keep it.
@never_cache
@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.api_token_issue(
                user=request.user,  # type: ignore[arg-type]
                name=form.cleaned_data["name"],
                expires_in_days=form.cleaned_data["expires_in_days"],
                actor=request.user,
            )
            form = TokenForm()
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    context = {
        "form": form,
        "issued": issued,
        "tokens": selectors.api_tokens_of(user=request.user),  # type: ignore[arg-type]
    }
    return render(request, "accounts/profile.html", context, status=422 if form.errors else 200)


@require_POST
@login_required
def api_token_revoke(request: HtmxHttpRequest, token_id: int) -> HttpResponse:
    try:
        token = services.api_token_revoke(token_id=token_id, actor=request.user)  # type: ignore[arg-type]
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status_code)
    if request.htmx:
        return render(request, "accounts/profile.html#token-row", {"token": token})
    messages.success(request, _("Token revoked."))
    return redirect("accounts:profile")


@requires("accounts.manage")
def users(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(**form.cleaned_data, actor=request.user)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            messages.success(request, _("%(user)s can now log in.") % {"user": user})
            return redirect("accounts:users")
    context = {
        "form": form,
        "users": selectors.users_all(),
        "teams": selectors.teams_all(),
        "team_form": TeamForm(),
        "role_form": UserRoleForm(),
        "lockouts": selectors.login_lockouts(),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    return render(request, "accounts/users.html", context, status=422 if form.errors else 200)


@require_POST
@requires("accounts.manage")
def user_change_role(request: HttpRequest, user_id: int) -> HttpResponse:
    form = UserRoleForm(request.POST)
    if form.is_valid():
        try:
            services.user_change_role(
                user_id=user_id, role=form.cleaned_data["role"], actor=request.user
            )
            messages.success(request, _("Role changed."))
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect("accounts:users")


@require_POST
@requires("accounts.manage")
def user_set_active(request: HttpRequest, user_id: int) -> HttpResponse:
    active = request.POST.get("active") == "1"
    try:
        services.user_set_active(user_id=user_id, active=active, actor=request.user)
        messages.success(request, _("Saved."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("accounts:users")


@require_POST
@requires("accounts.manage")
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST)
    if form.is_valid():
        lead = form.cleaned_data["lead"]
        try:
            services.team_create(
                name=form.cleaned_data["name"],
                lead_id=lead.pk if lead else None,
                actor=request.user,
            )
            messages.success(request, _("Team created."))
        except DomainError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, _("A team needs a name."))
    return redirect("accounts:users")


@require_POST
@requires("accounts.manage")
def login_lock_release(request: HttpRequest) -> HttpResponse:
    value = request.POST.get("value", "")[:255]
    try:
        services.login_lock_release(
            kind=request.POST.get("kind", "")[:20], value=value, actor=request.user
        )
        messages.success(request, _("Unlocked: %(value)s.") % {"value": value})
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("accounts:users")
