from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutboundConfig(AppConfig):
    name = "procedo.outbound"
    label = "outbound"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.events.registry import consumer_register
        from procedo.outbound.services import deliveries_make
        from procedo.outbound.timeline import timeline_register

        timeline_register()

        nav_register(NavEntry("outbound:list", _("Webhooks"), "webhooks.manage", order=920))
        # Strict order per subject: if making an order's deliveries fails, its later
        # events wait, so each webhook gets that order's events in the order they happened.
        consumer_register(
            name="outbound.webhooks",
            handler=deliveries_make,
            label=_("Webhooks"),
            ordered_by_subject=True,
        )
