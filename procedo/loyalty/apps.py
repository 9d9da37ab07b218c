from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "procedo.loyalty"
    label = "loyalty"
    verbose_name = _("Loyalty")

    def ready(self) -> None:
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.customers.registry import (
            CardSection,
            card_section_register,
            merge_participant_register,
        )
        from procedo.events.registry import consumer_register
        from procedo.loyalty import selectors
        from procedo.loyalty.forms import RedeemForm
        from procedo.loyalty.services.membership import loyalty_consume, loyalty_move_to_customer
        from procedo.loyalty.services.referrals import referral_attribute_placed
        from procedo.loyalty.timeline import timeline_register
        from procedo.messaging.registry import CustomerVariable, customer_variable_register
        from procedo.orders.registry import order_placed_hook_register

        timeline_register()
        nav_register(NavEntry("loyalty:program", _("Loyalty"), "loyalty.view", order=170))
        nav_register(NavEntry("loyalty:referrals", _("Referrals"), "loyalty.view", order=175))
        consumer_register(name="loyalty.orders", handler=loyalty_consume, label=_("Loyalty tiers"))
        # An order placed with "ref:CODE" in its source is a referral, in its transaction.
        order_placed_hook_register("loyalty.referral", referral_attribute_placed)
        merge_participant_register(loyalty_move_to_customer, name="loyalty")
        # {{ customer.loyalty_tier }}, {{ customer.referral_code }}… in any template.
        customer_variable_register(
            CustomerVariable(
                name="loyalty",
                sample=selectors.TEMPLATE_SAMPLE,
                empty={name: "" for name in selectors.TEMPLATE_SAMPLE},
                values=selectors.template_variables,
                in_customer=True,
            )
        )
        card_section_register(
            CardSection(
                key="loyalty",
                title=_("Loyalty and referrals"),
                template="loyalty/_customer_loyalty.html",
                permission="loyalty.view",
                context=lambda customer_id: {
                    "loyalty": selectors.loyalty_card(customer_id=customer_id),
                    "redeem_form": RedeemForm(),
                },
                order=60,
            )
        )
