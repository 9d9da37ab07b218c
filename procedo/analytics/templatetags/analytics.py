from __future__ import annotations

from django import template

from procedo.analytics.formatting import kpi_change, kpi_value

register = template.Library()
register.simple_tag(kpi_value)
register.simple_tag(kpi_change)
