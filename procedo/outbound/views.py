"""The webhook pages: thin over the services and selectors the API uses too."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.core.errors import DomainError
from procedo.core.forms import refusal_add
from procedo.outbound import selectors, services
from procedo.outbound.catalog import event_label
from procedo.outbound.forms import PauseForm, SendTestForm, SubscriptionForm
from procedo.outbound.models import DeliveryState, Subscription

PERMISSION = "webhooks.manage"


def _labels(subscription: Subscription) -> list[str]:
    return [event_label(key) for key in subscription.event_types]


@requires(PERMISSION)
def webhook_list(request: HttpRequest) -> HttpResponse:
    subscriptions = selectors.subscriptions_all()
    rows = [(s, _labels(s)) for s in subscriptions]
    return render(request, "outbound/list.html", {"rows": rows})


@requires(PERMISSION)
def webhook_create(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            subscription = services.subscription_create(
                name=data["name"],
                url=data["url"],
                event_types=data["event_types"],
                actor=request.user,
                idempotency_key=f"ui:{data['form_token']}",
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            # The only page that shows the secret: it is not kept anywhere a page reads it.
            context = {"subscription": subscription, "labels": _labels(subscription)}
            return render(request, "outbound/created.html", context, status=201)
    status = 422 if form.errors else 200
    context = {"form": form, "title": _("New webhook")}
    return render(request, "outbound/form.html", context, status=status)


@requires(PERMISSION)
def webhook_get(request: HttpRequest, subscription_id: int) -> HttpResponse:
    subscription = selectors.subscription_get(subscription_id=subscription_id)
    state = request.GET.get("state", "")
    if state not in DeliveryState.values:
        state = ""
    before = request.GET.get("before", "")
    page = selectors.deliveries_of(
        subscription_id=subscription.pk,
        state=state,
        before=int(before) if before.isdigit() and len(before) < 19 else None,
    )
    context = {
        "subscription": subscription,
        "labels": _labels(subscription),
        "page": page,
        "state": state,
        "states": [("", _("all")), *DeliveryState.choices],
        "test_form": SendTestForm(),
        "pause_form": PauseForm(),
        "retry_hours": int(services.RETRY_PERIOD.total_seconds() // 3600),
    }
    return render(request, "outbound/detail.html", context)


@requires(PERMISSION)
def webhook_update(request: HttpRequest, subscription_id: int) -> HttpResponse:
    subscription = selectors.subscription_get(subscription_id=subscription_id)
    initial = {
        "name": subscription.name,
        "url": subscription.url,
        "event_types": subscription.event_types,
    }
    form = SubscriptionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.subscription_update(
                subscription_id=subscription.pk,
                name=data["name"],
                url=data["url"],
                event_types=data["event_types"],
                actor=request.user,
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            messages.success(request, _("The webhook is saved."))
            return redirect("outbound:detail", subscription.pk)
    context = {"form": form, "subscription": subscription, "title": _("Edit webhook")}
    return render(request, "outbound/form.html", context, status=422 if form.errors else 200)


def _back(subscription_id: int) -> HttpResponse:
    return redirect("outbound:detail", subscription_id)


@require_POST
@requires(PERMISSION)
def webhook_pause(request: HttpRequest, subscription_id: int) -> HttpResponse:
    form = PauseForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.subscription_pause(
            subscription_id=subscription_id, actor=request.user, reason=reason
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The webhook is paused; events wait for it."))
    return _back(subscription_id)


@require_POST
@requires(PERMISSION)
def webhook_resume(request: HttpRequest, subscription_id: int) -> HttpResponse:
    services.subscription_resume(subscription_id=subscription_id, actor=request.user)
    messages.success(request, _("The webhook is on again; waiting events go first."))
    return _back(subscription_id)


@require_POST
@requires(PERMISSION)
def webhook_send_test(request: HttpRequest, subscription_id: int) -> HttpResponse:
    form = SendTestForm(request.POST)
    token = form.cleaned_data["form_token"] if form.is_valid() else None
    try:
        services.subscription_send_test(
            subscription_id=subscription_id,
            actor=request.user,
            idempotency_key=f"ui:{token}" if token else None,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("A test event is on its way; its delivery is below."))
    return _back(subscription_id)


@require_POST
@requires(PERMISSION)
def delivery_redeliver(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = services.delivery_redeliver(delivery_id=delivery_id, actor=request.user)
    messages.success(request, _("The delivery will be sent again, with the same id."))
    return _back(delivery.subscription_id)
