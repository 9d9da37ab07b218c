"""Rendering templates a store owner writes: Jinja2 in a sandbox, every variable required.

The sandbox keeps a template from reaching Python internals; StrictUndefined turns a
misspelt variable into an error at save time instead of an empty gap in a customer's
mail. Variables are plain dicts and lists built here, never model instances.

A render is also bounded, in the web process as in the worker, without a clock:
a template that loops 10,000 × 10,000 times or writes `{{ 'x' * 10**9 }}` is
refused when it is saved and fails its message when it is sent, naming the limit.
Each part (subject, text, HTML) gets a budget (`MAX_STEPS` loop turns, calls and
filters; `MAX_TEXT` characters of output and of any text or list it builds; numbers
of `MAX_DIGITS`), counted by `_BoundedEnvironment`:

- every `{% for %}` iterates through `bounded_iter` (the code generator wraps the
  iterable), and so does every lazy result of a filter (`map`, `select`, ...);
- calls, filters and the operators `*`, `**`, `+`, `%` and `~` check the size of
  what they would make *before* making it (`'x' * 10**9`, `"x"|center(10**9)`,
  `"%999999999s" % x`), and the size of what they made;
- the output is taken from `generate()` and refused past `MAX_TEXT`, and so is
  every buffer a macro, `{% set %}` block or filter block joins (`concat`).

Jinja's maintainers hold that a sandbox cannot bound every resource (they point
to OS limits); this covers the loops, the growth operators and filters, and the
output, which is what a template written by mistake or in bad faith reaches for.

Over 600 lines on purpose: the bounds are one mechanism (the environment, its iterator and
its checks on every operator); read apart, no piece shows what a template can reach.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import closing
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from functools import wraps
from types import SimpleNamespace
from typing import Any, cast

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from jinja2.utils import Namespace

from procedo.core.errors import DomainError
from procedo.core.money import money_format
from procedo.messaging.registry import customer_variables_sample

# Per part of a message. An order of 200 lines with a few filters each is ~2,000 steps;
# an email over 102 KB is clipped by Gmail anyway.
MAX_STEPS = 10_000
MAX_TEXT = 200_000
MAX_DIGITS = 1_000
# Everything `{{ }}` writes, into the output or into a macro's or `{% set %}` block's
# buffer (a macro's text counts again where it is written): held until joined.
MAX_WRITTEN = 4 * MAX_TEXT
_MAX_BITS = int(MAX_DIGITS * 3.33)


class TemplateTooCostly(Exception):
    """A render went past its budget; the message names the limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _too_many_steps() -> TemplateTooCostly:
    return TemplateTooCostly(
        _("the template repeats too much: more than %(limit)s loop turns, calls and filters")
        % {"limit": number_format(MAX_STEPS, force_grouping=True)}
    )


def _too_long() -> TemplateTooCostly:
    return TemplateTooCostly(
        _("the template makes a text longer than %(limit)s characters")
        % {"limit": number_format(MAX_TEXT, force_grouping=True)}
    )


def _too_much_written() -> TemplateTooCostly:
    return TemplateTooCostly(
        _("the template writes more than %(limit)s characters in all")
        % {"limit": number_format(MAX_WRITTEN, force_grouping=True)}
    )


def _too_big_number() -> TemplateTooCostly:
    return TemplateTooCostly(
        _("the template makes a number longer than %(limit)s digits")
        % {"limit": number_format(MAX_DIGITS, force_grouping=True)}
    )


@dataclass
class _Budget:
    steps: int = 0
    written: int = 0


# The budget of the render under way in this thread (renders are not shared across threads).
_budget: ContextVar[_Budget | None] = ContextVar("procedo_render_budget", default=None)


def _step() -> None:
    budget = _budget.get()
    if budget is None:  # compile-time constant folding: sizes are still checked
        return
    budget.steps += 1
    if budget.steps > MAX_STEPS:
        raise _too_many_steps()


def _length(value: Any) -> int:
    """How long a text or collection is (its items, not theirs); 0 for anything else."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset | range):
        return len(value)
    return 0


def _text_size(value: Any, limit: int = MAX_TEXT, depth: int = 0) -> int:
    """The characters `str(value)` would take, counted up to `limit` without building it.

    A list may hold one long text many times (`[big] * 1000`): its length alone says little.
    """
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() * 10 // 33 + 2
    if depth > 20:  # a list that holds itself prints as [...]
        return 5
    if isinstance(value, Namespace):
        value = value._Namespace__attrs
    if isinstance(value, Mapping):
        value = [item for pair in value.items() for item in pair]
    if isinstance(value, list | tuple | set | frozenset):
        total = 2
        for item in value:
            total += _text_size(item, limit - total, depth + 1) + 2
            if total > limit:
                break
        return total
    return len(str(value))  # dates, decimals, the context's namespaces: sized by their data


def _check_length(size: int) -> None:
    if size > MAX_TEXT:
        raise _too_long()


def _checked(value: Any) -> Any:
    """A value a call, filter or operator made: within bounds, and lazy ones counted."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _MAX_BITS:
        raise _too_big_number()
    if isinstance(value, _Counted):
        return value
    if isinstance(value, Iterator):
        return _Counted(value)
    _check_length(_length(value))
    return value


class _Counted:
    """Items drawn one by one, each a step of the render's budget."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self._items = iter(items)

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        item = next(self._items)
        _step()
        return item


def _ints(args: Iterable[Any]) -> list[int]:
    return [abs(a) for a in args if isinstance(a, int) and not isinstance(a, bool)]


_FORMAT_NUMBER = re.compile(r"\d+")
# A width taken from the arguments: printf's "*", or str.format's nested "{:{}}".
_FORMAT_WIDTH_ARG = re.compile(r"\*|\{[^}]*\{")


def _format_size(template: str, args: Iterable[Any]) -> int:
    """At most how long `template % args` or `template.format(*args)` can be."""
    values = list(args)
    size = len(template) + sum(int(n) for n in _FORMAT_NUMBER.findall(template))
    size += sum(_text_size(value) for value in values)
    if _FORMAT_WIDTH_ARG.search(template):
        size += sum(_ints(values))
    return size


def _format_args(args: Any) -> list[Any]:
    if isinstance(args, Mapping):
        return list(args.values())
    return list(args) if isinstance(args, tuple) else [args]


def _replace_size(text: Any, old: Any, new: Any, count: Any = -1) -> int:
    text, old, new = str(text), str(old), str(new)
    times = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    return len(text) + times * max(0, len(new) - len(old))


def _wrap_size(text: str, width: Any, wrapstring: Any) -> int:
    # A break at most at each space or line end, and every `width` characters of a long word.
    breaks = text.count(" ") + text.count("\n") + len(text) // max(1, _width(width)) + 1
    return len(text) + breaks * len(str(wrapstring or "\n"))


def _join_size(items: list[Any], separator: Any) -> int:
    return sum(_text_size(item) for item in items) + len(str(separator)) * len(items)


def _width(value: Any) -> int:
    return abs(value) if isinstance(value, int) else len(str(value))


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


# What a filter may grow to, from its value and arguments, before it runs.
_FILTER_SIZE: dict[str, Callable[[Any, tuple[Any, ...], dict[str, Any]], int]] = {
    "center": lambda v, a, k: max(len(str(v)), _width(_arg(a, k, 0, "width", 80))),
    "indent": lambda v, a, k: (
        len(str(v)) + (str(v).count("\n") + 1) * _width(_arg(a, k, 0, "width", 4))
    ),
    "wordwrap": lambda v, a, k: _wrap_size(
        str(v), _arg(a, k, 0, "width", 79), _arg(a, k, 2, "wrapstring", None)
    ),
    "replace": lambda v, a, k: _replace_size(
        v, _arg(a, k, 0, "old", ""), _arg(a, k, 1, "new", ""), _arg(a, k, 2, "count", None)
    ),
    "format": lambda v, a, k: _format_size(str(v), [*a, *k.values()]),
    "batch": lambda v, a, k: _width(_arg(a, k, 0, "linecount", 0)),
    "slice": lambda v, a, k: _width(_arg(a, k, 0, "slices", 0)),
    "truncate": lambda v, a, k: len(str(v)) + len(str(_arg(a, k, 2, "end", "..."))),
    "sum": lambda v, a, k: (
        _length(_arg(a, k, 1, "start", 0))
        + (sum(_length(item) for item in v) if isinstance(v, list | tuple) else 0)
    ),
}

# What a method of a text or list may grow to, before it runs.
_METHOD_SIZE: dict[str, Callable[[Any, tuple[Any, ...], dict[str, Any]], int]] = {
    "center": lambda s, a, k: max(_length(s), *_ints(a), 0),
    "ljust": lambda s, a, k: max(_length(s), *_ints(a), 0),
    "rjust": lambda s, a, k: max(_length(s), *_ints(a), 0),
    "zfill": lambda s, a, k: max(_length(s), *_ints(a), 0),
    "expandtabs": lambda s, a, k: (
        _length(s)
        + (str(s).count("\t") * _width(_arg(a, k, 0, "tabsize", 8)) if isinstance(s, str) else 0)
    ),
    "replace": lambda s, a, k: _replace_size(s, *a[:3]) if isinstance(s, str) and a else 0,
    "extend": lambda s, a, k: _length(s) + sum(_length(x) for x in a),
    "update": lambda s, a, k: _length(s) + sum(_length(x) for x in a) + len(k),
}


def _materialized(value: Any) -> Any:
    # A lazy iterable is read (and counted) once, so that it can be measured and then used.
    if isinstance(value, Iterator) or (
        isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping)
    ):
        return list(_Counted(value) if isinstance(value, Iterator) else value)
    return value


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # A filter marked pass_context (or eval_context, environment) gets that first.
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @wraps(func)  # keeps jinja_pass_arg
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _step()
        if len(args) > skip:
            value = args[skip]
            if name in {"join", "sum"}:
                value = _materialized(value)
                args = (*args[:skip], value, *args[skip + 1 :])
            rest = args[skip + 1 :]
            if name == "join":
                _check_length(_join_size(value, _arg(rest, kwargs, 0, "d", "")) if value else 0)
            elif name in _FILTER_SIZE:
                _check_length(_FILTER_SIZE[name](value, rest, kwargs))
            elif name in {"string", "pprint", "tojson", "xmlattr", "urlize", "list"}:
                _check_length(_text_size(value) if name != "list" else _length(value))
        return _checked(func(*args, **kwargs))

    return bounded


class _BoundedCodeGenerator(CodeGenerator):
    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        # Every loop's iterable goes through environment.bounded_iter, which counts its items.
        for loop in list(node.find_all(nodes.For)):
            loop.iter = nodes.Call(
                nodes.EnvironmentAttribute("bounded_iter"),
                [loop.iter],
                [],
                None,
                None,
                lineno=loop.iter.lineno,
            )
        super().visit_Template(node, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # As Jinja's own, with the parts measured before they are joined: `~` in a
        # loop doubles a text each turn.
        if frame.eval_ctx.volatile:
            func_name = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            func_name = "markup_join"
        else:
            func_name = "str_join"
        self.write(f"{func_name}(environment.measured((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")))")


class _BoundedEnvironment(SandboxedEnvironment):
    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=autoescape, finalize=_finalized)
        self.globals.pop("lipsum", None)  # writes as many paragraphs as asked
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def bounded_iter(self, iterable: Any) -> Iterator[Any]:
        return iterable if isinstance(iterable, _Counted) else _Counted(iterable)

    def measured(self, parts: tuple[Any, ...]) -> tuple[Any, ...]:
        _check_length(sum(_text_size(part) for part in parts))
        return parts

    def concat(self, parts: Iterable[str]) -> str:
        """The buffers of macros, `{% set %}` blocks and filter blocks, joined within bounds."""
        kept, size = [], 0
        for part in parts:
            size += len(part)
            _check_length(size)
            kept.append(part)
        return "".join(kept)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _step()
        _check_binop(operator, left, right)
        return _checked(super().call_binop(context, operator, left, right))

    def call(
        __self,  # Jinja's names: none a template's keyword argument can clash with
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        _step()
        if isinstance(__obj, types.BuiltinMethodType) and __obj.__name__ in _METHOD_SIZE:
            _check_length(_METHOD_SIZE[__obj.__name__](__obj.__self__, args, kwargs))
        if isinstance(__obj, types.BuiltinMethodType) and __obj.__name__ == "join":
            items = _materialized(args[0]) if args else []
            _check_length(_join_size(items, __obj.__self__))
            args = (items, *args[1:])
        return _checked(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template = value.__self__

        @wraps(wrapped)
        def bounded(*args: Any, **kwargs: Any) -> str:
            values = _format_args(args[0]) if value.__name__ == "format_map" and args else args
            _check_length(_format_size(template, [*values, *kwargs.values()]))
            return wrapped(*args, **kwargs)

        return bounded


def _check_binop(operator: str, left: Any, right: Any) -> None:
    sequences = str | bytes | list | tuple
    if operator == "*":
        if isinstance(left, sequences) and isinstance(right, int):
            _check_length(len(left) * right)
        elif isinstance(right, sequences) and isinstance(left, int):
            _check_length(len(right) * left)
        elif (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > _MAX_BITS
        ):
            raise _too_big_number()
    elif operator == "**":
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and abs(left) > 1
            and left.bit_length() * right > _MAX_BITS
        ):
            raise _too_big_number()
    elif operator == "+":
        if isinstance(left, sequences) and isinstance(right, sequences):
            _check_length(len(left) + len(right))
    elif operator == "%" and isinstance(left, str):
        _check_length(_format_size(left, _format_args(right)))


def _finalized(value: Any) -> Any:
    """Every `{{ value }}`, measured before it is turned into text."""
    size = _text_size(value)
    _check_length(size)
    budget = _budget.get()
    if budget is not None:
        budget.written += size
        if budget.written > MAX_WRITTEN:
            raise _too_much_written()
    return value


_text_env = _BoundedEnvironment(autoescape=False)
_html_env = _BoundedEnvironment(autoescape=True)

# Where a parcel can be followed, by carrier code; "{n}" is the tracking number.
TRACKING_URLS = {
    "nova_poshta": "https://novaposhta.ua/tracking/?cargo_number={n}",
    "novaposhta": "https://novaposhta.ua/tracking/?cargo_number={n}",
    "ukrposhta": "https://track.ukrposhta.ua/tracking_UA.html?barcode={n}",
    "dhl": "https://www.dhl.com/en/express/tracking.html?AWB={n}",
    "ups": "https://www.ups.com/track?tracknum={n}",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body_text: str
    body_html: str


def _line_of_error(exc: BaseException) -> int | None:
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render_one(field: str, source: str, context: dict[str, Any], *, html: bool) -> str:
    env = _html_env if html else _text_env
    budget = _budget.set(_Budget())
    try:
        out, size = [], 0
        # Closed when refused: the template's generator stops where it is.
        chunks = cast(Generator[str, None, None], env.from_string(source).generate(context))
        with closing(chunks):
            for chunk in chunks:
                size += len(chunk)
                _check_length(size)
                out.append(chunk)
        return "".join(out)
    except TemplateTooCostly as exc:
        line = _line_of_error(exc)
        where = _("line %(n)d: ") % {"n": line} if line else ""
        raise DomainError(field=field, message=f"{where}{exc.message}") from None
    except (TemplateSyntaxError, UndefinedError, SecurityError, TypeError, ValueError) as exc:
        line = _line_of_error(exc)
        detail = exc.message if isinstance(exc, TemplateSyntaxError) else str(exc)
        where = _("line %(n)d: ") % {"n": line} if line else ""
        raise DomainError(field=field, message=f"{where}{detail}") from None
    except Exception as exc:  # a template's own arithmetic (1/0) must not crash the page
        line = _line_of_error(exc)
        where = _("line %(n)d: ") % {"n": line} if line else ""
        raise DomainError(field=field, message=f"{where}{exc}") from None
    finally:
        _budget.reset(budget)


def _namespaced(value: Any) -> Any:
    # Dicts become namespaces: `order.items` must be the order's items, not dict.items.
    if isinstance(value, dict):
        return SimpleNamespace(**{key: _namespaced(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_namespaced(item) for item in value]
    return value


def render(*, subject: str, body_text: str, body_html: str, context: dict[str, Any]) -> Rendered:
    """Render all three parts; the first problem raises DomainError naming the field and line."""
    context = {key: _namespaced(value) for key, value in context.items()}
    return Rendered(
        subject=" ".join(_render_one("subject", subject, context, html=False).split()),
        body_text=_render_one("body_text", body_text, context, html=False),
        body_html=_render_one("body_html", body_html, context, html=True) if body_html else "",
    )


def _money(amount: Decimal | None, currency: str) -> str:
    return money_format(amount, currency) if amount is not None else ""


def customer_context(customer: Any) -> dict[str, Any]:
    first = customer.first_name or ""
    name = " ".join(p for p in (customer.first_name, customer.last_name) if p)
    emails = customer.emails
    phones = customer.phones
    return {
        "id": customer.pk,
        "name": name or customer.company or "",
        "first_name": first,
        "last_name": customer.last_name or "",
        "company": customer.company or "",
        "email": emails[0] if emails else "",
        "phone": phones[0] if phones else "",
        "orders_count": customer.orders_count,
    }


def order_context(order: Any) -> dict[str, Any]:
    shipment = order.shipments.order_by("-id").first()
    tracking_number = shipment.tracking_number if shipment else ""
    pattern = TRACKING_URLS.get(shipment.carrier.lower(), "") if shipment else ""
    return {
        "number": order.number,
        "total": _money(order.total, order.currency),
        "subtotal": _money(order.subtotal, order.currency),
        "shipping": _money(order.shipping_total, order.currency),
        "discount": _money(order.discount_total, order.currency),
        "currency": order.currency,
        "status": order.status.label_display,  # in the language the message is written in
        "placed_at": order.placed_at,
        "delivered_at": order.delivered_at,
        "items": [
            {
                "name": line.description,
                "sku": line.sku_code,
                "quantity": line.quantity,
                "price": _money(line.unit_price, order.currency),
                "total": _money(line.line_total, order.currency),
            }
            for line in order.lines.all()
        ],
        "tracking_number": tracking_number,
        "tracking_url": pattern.format(n=tracking_number) if pattern and tracking_number else "",
    }


def sample_context() -> dict[str, Any]:
    """Every variable a template may use, filled with examples: what a save is checked against."""
    alone, under_customer = customer_variables_sample()
    return {
        **alone,
        "customer": {
            "id": 1,
            "name": "Тарас Шевченко",
            "first_name": "Тарас",
            "last_name": "Шевченко",
            "company": "",
            "email": "taras@example.com",
            "phone": "+380671234567",
            "orders_count": 3,
            **under_customer,
        },
        "order": {
            "number": "1001",
            "total": money_format(Decimal("1250.00"), "UAH"),
            "subtotal": money_format(Decimal("1200.00"), "UAH"),
            "shipping": money_format(Decimal("50.00"), "UAH"),
            "discount": money_format(Decimal("0"), "UAH"),
            "currency": "UAH",
            "status": "Shipped",
            "placed_at": None,
            "delivered_at": None,
            "items": [
                {
                    "name": "Чашка",
                    "sku": "CUP-1",
                    "quantity": 2,
                    "price": money_format(Decimal("600"), "UAH"),
                    "total": money_format(Decimal("1200"), "UAH"),
                }
            ],
            "tracking_number": "20450000000000",
            "tracking_url": TRACKING_URLS["nova_poshta"].format(n="20450000000000"),
        },
        "business": {"name": "My store"},
        "discount_code": "WELCOME10",
        "unsubscribe_url": "https://example.com/messages/unsubscribe/…",
    }


VARIABLE_NAMES = tuple(sample_context())
