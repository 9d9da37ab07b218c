"""How other apps let the message log be filtered by what sent the messages.

An SOP run stamps its messages with `source="sop_run:<run id>"`; runs belong to the
engine (`procedo.automation`), which stands above messaging. It registers here how
to list its SOPs and which sources one SOP's runs have, so messaging never imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SopSources:
    choices: Callable[[], list[tuple[int, str]]]  # (sop id, name) for the filter
    sources: Callable[[int], Any]  # the `source` values of one SOP's runs, as a subquery


_sop_sources: SopSources | None = None


def sop_sources_register(provider: SopSources) -> None:
    global _sop_sources
    _sop_sources = provider


def sop_sources() -> SopSources | None:
    return _sop_sources


@dataclass(frozen=True)
class CustomerVariables:
    """Variables a higher app adds to `customer` in message templates (the loyalty app adds
    the customer's tier and referral code): `sample` is what a template is checked against
    when it is saved, `values(customer_id)` what one customer's message is rendered with."""

    sample: dict[str, Any]
    values: Callable[[int], dict[str, Any]]


_customer_variables: dict[str, CustomerVariables] = {}


def customer_variables_register(name: str, provider: CustomerVariables) -> None:
    _customer_variables[name] = provider


def customer_variables() -> list[CustomerVariables]:
    return list(_customer_variables.values())
