from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "procedo.analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from procedo.analytics import selectors, services
        from procedo.analytics.rollups import CONSUMER, sales_days_consume
        from procedo.analytics.timeline import timeline_register
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.customers.registry import (
            CardSection,
            card_section_register,
            merge_participant_register,
        )
        from procedo.events.registry import consumer_register

        timeline_register()
        consumer_register(name=CONSUMER, handler=sales_days_consume, label=_("Daily sales"))

        nav_register(NavEntry("analytics:overview", _("Analytics"), "analytics.view", order=150))
        nav_register(NavEntry("analytics:goals", _("Goals"), "analytics.view", order=160))
        merge_participant_register(services.customer_value_move_to_customer, name="value")
        card_section_register(
            CardSection(
                key="predicted_value",
                title=_("Predicted value"),
                template="analytics/_customer_value.html",
                permission="analytics.view",
                context=lambda customer_id: {"value": selectors.customer_value_line(customer_id)},
                order=155,
            )
        )
