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
class CustomerVariable:
    """A template variable about the customer that a higher app computes (marketing's
    `next_product`, loyalty's tier and referral code): every template may use it, for one
    customer or a campaign's batch. With `in_customer`, the value is a dict of names read
    under `customer` (`customer.referral_code`); else the variable stands on its own."""

    name: str
    sample: Any  # what a template is checked against when it is saved
    empty: Any  # the value for a customer it has nothing for, or with no customer
    values: Callable[[list[int]], dict[int, Any]]  # customer ids -> values, set-based
    in_customer: bool = False


_customer_variables: dict[str, CustomerVariable] = {}


def customer_variable_register(variable: CustomerVariable) -> None:
    _customer_variables[variable.name] = variable


def customer_variables() -> list[CustomerVariable]:
    return list(_customer_variables.values())


def customer_variables_of(customer_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Every registered variable of each customer (one call per variable, not per customer):
    `{customer id: {"next_product": …, "customer": {"referral_code": …}}}`."""
    found: dict[int, dict[str, Any]] = {pk: {"customer": {}} for pk in customer_ids}
    for variable in _customer_variables.values():
        values = variable.values(customer_ids) if customer_ids else {}
        for pk in customer_ids:
            value = values.get(pk, variable.empty)
            if variable.in_customer:
                found[pk]["customer"].update(value)
            else:
                found[pk][variable.name] = value
    return found


def customer_variables_empty() -> dict[str, Any]:
    """The stand-alone variables' values when there is no customer."""
    return {
        variable.name: variable.empty
        for variable in _customer_variables.values()
        if not variable.in_customer
    }


def customer_variables_sample() -> tuple[dict[str, Any], dict[str, Any]]:
    """(stand-alone samples, samples under `customer`): what a saved template is checked
    against."""
    alone: dict[str, Any] = {}
    under: dict[str, Any] = {}
    for variable in _customer_variables.values():
        if variable.in_customer:
            under.update(variable.sample)
        else:
            alone[variable.name] = variable.sample
    return alone, under
