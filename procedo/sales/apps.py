from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "procedo.sales"
    label = "sales"
    verbose_name = "Sales"

    def ready(self) -> None:
        from procedo.collab.subjects import CommentSubject, comment_subject_register
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.sales.timeline import timeline_register

        timeline_register()
        from procedo.customers.registry import (
            CardSection,
            card_section_register,
            merge_participant_register,
        )
        from procedo.sales import selectors
        from procedo.sales.services.deals import deals_move_to_customer

        merge_participant_register(deals_move_to_customer, name="deals")
        card_section_register(
            CardSection(
                key="deals",
                title=_("Deals"),
                template="sales/_customer_deals.html",
                permission="sales.view",
                context=lambda customer_id: {
                    "deals": selectors.deals_of_customer(customer_id=customer_id)
                },
                order=150,
            )
        )
        nav_register(NavEntry("sales:board", _("Sales"), "sales.view", order=250))
        nav_register(NavEntry("sales:leads", _("Leads"), "sales.view", order=251))
        comment_subject_register(
            CommentSubject(
                name="deal",
                model_path="sales.Deal",
                permission="sales.view",
                label=lambda row: _("deal %(title)s") % {"title": row},
                url=lambda pk: _deal_url(pk),
                customer_id=lambda row: int(row.customer_id),
            )
        )


def _deal_url(pk: int) -> str:
    from django.urls import reverse

    return reverse("sales:deal", args=[pk])
