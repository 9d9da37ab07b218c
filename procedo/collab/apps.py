from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CollabConfig(AppConfig):
    name = "procedo.collab"
    label = "collab"
    verbose_name = _("Comments and notifications")

    def ready(self) -> None:
        from procedo.collab.timeline import timeline_register

        timeline_register()
        from procedo.collab import services
        from procedo.customers.registry import (
            CardSection,
            card_section_register,
            merge_participant_register,
        )

        merge_participant_register(services.comments_move_to_customer, name="comments")
        # The customer card's thread; the order card includes the panel in its template.
        card_section_register(
            CardSection(
                key="comments",
                title=_("Comments"),
                template="collab/_customer_comments.html",
                permission="customers.view",
                context=lambda customer_id: {"subject_id": customer_id},
                order=250,
            )
        )
