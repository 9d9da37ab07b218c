from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "procedo.messaging"
    label = "messaging"
    verbose_name = _("Messaging")

    def ready(self) -> None:
        from procedo.messaging.timeline import timeline_register

        timeline_register()
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.customers.registry import (
            CardSection,
            card_section_register,
            merge_participant_register,
        )
        from procedo.messaging import selectors
        from procedo.messaging.services import unsubscribe
        from procedo.messaging.services.inbound import inbound_move_to_customer
        from procedo.messaging.services.queueing import messages_move_to_customer
        from procedo.messaging.services.sending import prepare_hook_register
        from procedo.messaging.transports import header_hook_register

        merge_participant_register(messages_move_to_customer, name="messages")
        merge_participant_register(inbound_move_to_customer, name="inbound_messages")
        nav_register(NavEntry("messaging:list", _("Messages"), "messaging.view", order=500))
        card_section_register(
            CardSection(
                key="messages",
                title=_("Messages"),
                template="messaging/_customer_messages.html",
                permission="messaging.view",
                context=lambda customer_id: {
                    "customer_messages": selectors.messages_of_customer(customer_id=customer_id),
                    "customer_inbound": selectors.inbound_of_customer(customer_id=customer_id),
                },
                order=300,
            )
        )
        header_hook_register(unsubscribe.unsubscribe_headers)
        prepare_hook_register(unsubscribe.marketing_gate)
