"""One search box for scripts and answers, on any page:

    {% load knowledge %}
    {% knowledge_search_box subject_type="deal" subject_id=deal.pk kinds="objection" %}

On a task, a deal, a conversation or a ticket. `kinds` is a comma-separated list of
article kinds (faq, solution, procedure, objection; empty: all); `subject_type` and
`subject_id` say where it is used, so opening a result is recorded against that
subject (the SOP review's "were the scripts used"). `reply_to` is the id of a reply box on
the page: each answer and script found gets a button that puts its text there (a quick
reply), and the use is recorded too.
"""

from __future__ import annotations

from typing import Any

from django import template

from procedo.knowledge.panel import search_box_context

register = template.Library()


@register.inclusion_tag("knowledge/_search_box.html")
def knowledge_search_box(
    subject_type: str = "",
    subject_id: Any = None,
    kinds: str = "",
    query: str = "",
    reply_to: str = "",
) -> dict[str, Any]:
    context = search_box_context(
        subject_type=str(subject_type),
        subject_id=subject_id,
        kinds=kinds,
        query=query,
        reply_to=reply_to,
    )
    context["kind_list"] = [kind for kind in kinds.split(",") if kind]
    context["hits"] = None
    return context
