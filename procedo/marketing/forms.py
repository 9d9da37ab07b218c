"""The pages' forms. A segment's rules are rows of plain inputs (rules-N-field/op/value/days),
read by `rules_from_post` and checked by the same `rules_clean` as the API's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from procedo.catalog.models import Product
from procedo.core.bounds import SHORT_TEXT
from procedo.core.forms import FormTokenMixin
from procedo.marketing import rules
from procedo.marketing.models import Match, Segment
from procedo.marketing.services._common import MAX_ATTRIBUTION_DAYS, MAX_HOLDOUT, MAX_LADDER
from procedo.messaging.models import Template


class SegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=SHORT_TEXT)
    match = forms.ChoiceField(label=_("Customers who match"), choices=Match.choices)


def rules_from_post(data: QueryDict) -> list[dict[str, Any]]:
    """The rule rows of a posted editor, at most MAX_RULES; rows without a field are skipped."""
    try:
        rows = min(max(int(data.get("rules-count", "0")), 0), rules.MAX_RULES)
    except ValueError:
        rows = 0
    found = []
    for n in range(rows):
        field = data.get(f"rules-{n}-field", "")
        if not field:
            continue
        values = [v for v in data.getlist(f"rules-{n}-value") if v.strip()][:100]
        found.append(
            {
                "field": field[:60],
                "op": data.get(f"rules-{n}-op", "")[:40],
                "value": values if len(values) > 1 else (values[0][:200] if values else ""),
                "days": data.get(f"rules-{n}-days", "")[:10] or None,
            }
        )
    return found


def rule_rows(rule_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the editor shows for each rule: its field's operators, choices and inputs."""
    known = rules.rule_fields()
    rows = []
    for n, rule in enumerate(rule_list):
        spec = known.get(rule.get("field", ""))
        ops = rules.OPERATORS[spec.type] if spec else ()
        op = rule.get("op") if rule.get("op") in ops else (ops[0] if ops else "")
        value = rule.get("value")
        chosen = value if isinstance(value, list) else ([] if value in (None, "") else [value])
        rows.append(
            {
                "n": n,
                "field": rule.get("field", ""),
                "op": op,
                "ops": [(code, rules.OPERATOR_LABELS[code]) for code in ops],
                "value": ", ".join(str(v) for v in chosen),
                "chosen": [str(v) for v in chosen],
                "days": rule.get("days") or "",
                "period": bool(spec and spec.period),
                "period_optional": bool(spec and spec.period and not spec.period_required),
                "choices": spec.choices() if spec and spec.choices else None,
                "multiple": op in ("in", "not_in"),
                "no_value": op in rules.NO_VALUE,
            }
        )
    return rows


def field_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(name, str(spec.label)) for name, spec in rules.rule_fields().items()]


class CampaignForm(FormTokenMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=SHORT_TEXT)
    segment = forms.ModelChoiceField(label=_("Audience (segment)"), queryset=Segment.objects.all())
    template = forms.ModelChoiceField(label=_("Message template"), queryset=Template.objects.all())
    scheduled_at = forms.DateTimeField(
        label=_("Send at"),
        required=False,
        help_text=_("Leave empty to send it by hand."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    holdout_percent = forms.IntegerField(
        label=_("Hold out (%)"),
        min_value=0,
        max_value=MAX_HOLDOUT,
        initial=10,
        help_text=_("Customers who get nothing, to measure what the campaign brought."),
    )
    attribution_days = forms.IntegerField(
        label=_("Count orders within (days)"),
        min_value=1,
        max_value=MAX_ATTRIBUTION_DAYS,
        initial=14,
    )


class LadderForm(forms.Form):
    product = forms.ModelChoiceField(
        label=_("Product"), queryset=Product.objects.order_by("name", "id")
    )
    next_products = forms.ModelMultipleChoiceField(
        label=_("What to offer next, in order"),
        queryset=Product.objects.order_by("name", "id"),
        required=False,
        help_text=_("Up to %(n)s; none returns the product to the computed ladder.")
        % {"n": MAX_LADDER},
    )
