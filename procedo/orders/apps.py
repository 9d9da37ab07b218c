from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "procedo.orders"
    label = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from procedo.orders.timeline import timeline_register

        timeline_register()
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.core.search import search_provider_register
        from procedo.customers.registry import (
            CardSection,
            card_section_register,
            merge_participant_register,
        )
        from procedo.orders import selectors
        from procedo.orders.search import order_search
        from procedo.orders.services.customer_figures import orders_move_to_customer

        search_provider_register(order_search)
        nav_register(NavEntry("orders:list", _("Orders"), "orders.view", order=200))
        merge_participant_register(orders_move_to_customer, name="orders")
        card_section_register(
            CardSection(
                key="orders",
                title=_("Orders"),
                template="orders/_customer_orders.html",
                permission="orders.view",
                context=lambda customer_id: {
                    "orders": selectors.orders_of_customer(customer_id=customer_id, limit=10)
                },
            )
        )
