from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketingConfig(AppConfig):
    name = "procedo.marketing"
    label = "marketing"
    verbose_name = _("Marketing")

    def ready(self) -> None:
        from procedo.marketing.timeline import timeline_register

        timeline_register()
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.customers.registry import (
            CardSection,
            card_section_register,
            merge_participant_register,
        )
        from procedo.marketing import rules, selectors
        from procedo.marketing.services import rfm as rfm_services
        from procedo.messaging.registry import CustomerVariable, customer_variable_register

        for field in rules.builtin_rules():
            rules.rule_register(field)
        rules.rules_discover()
        merge_participant_register(rfm_services.rfm_move_to_customer, name="rfm")
        # {{ next_product.name }} in any template: campaigns, SOP steps, stored templates.
        customer_variable_register(
            CustomerVariable(
                name="next_product",
                sample={"name": "Фільтр для чайника", "days": 30},
                empty={"name": "", "days": None},
                values=selectors.next_product_variables,
            )
        )
        nav_register(NavEntry("marketing:segments", _("Segments"), "marketing.view", order=170))
        nav_register(NavEntry("marketing:campaigns", _("Campaigns"), "marketing.view", order=175))
        card_section_register(
            CardSection(
                key="rfm",
                title=_("RFM"),
                template="marketing/_customer_rfm.html",
                permission="marketing.view",
                context=lambda customer_id: {
                    "rfm": selectors.rfm_of_customer(customer_id),
                    "next_step": selectors.next_product_of_customer(customer_id),
                },
                order=150,
            )
        )
