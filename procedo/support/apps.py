from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupportConfig(AppConfig):
    """The support desk: one inbox for every channel, tickets with SLAs, CSAT."""

    name = "procedo.support"
    label = "support"
    verbose_name = "Support"

    def ready(self) -> None:
        from procedo.support.timeline import timeline_register

        timeline_register()
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.customers.registry import (
            CardSection,
            card_section_register,
            merge_participant_register,
        )
        from procedo.events.registry import consumer_register
        from procedo.messaging.transports import header_hook_register
        from procedo.support import selectors
        from procedo.support.services.conversations import conversations_move_to_customer
        from procedo.support.services.intake import inbox_consume
        from procedo.support.services.threads import reply_headers

        # Emails and SMS reach the inbox through the event log: messaging stores them
        # (its webhook, its pipe) and knows nothing of support.
        consumer_register(name="support.inbox", handler=inbox_consume, label=_("Support inbox"))
        header_hook_register(reply_headers)
        merge_participant_register(conversations_move_to_customer, name="support")
        nav_register(NavEntry("support:inbox", _("Inbox"), "support.view", order=250))
        card_section_register(
            CardSection(
                key="conversations",
                title=_("Conversations"),
                template="support/_customer_conversations.html",
                permission="support.view",
                context=lambda customer_id: {
                    "conversations": selectors.conversations_of_customer(customer_id=customer_id)
                },
                order=150,
            )
        )
