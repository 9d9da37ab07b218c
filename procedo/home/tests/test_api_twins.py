"""Every page is also an API: each web page names its twin operations, or why it has none.

The pages come from the URL configuration and the operations from the API itself, so a
new page fails here until its urls.py says which operations do what it does
(`API_TWINS`) or why a program has no use for it (`PAGE_ONLY`). A twin does what the
page does with the same permission: the first operation named is the page's own
operation; a write takes the page's permission (or is open to every signed-in person
and checks the object inside), a read is open to whoever may use the page (reading the
order pipeline is for everyone who sees orders, configuring it is not).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from procedo.accounts.auth import operation_permission
from procedo.accounts.roles import ROLE_PERMISSIONS


def _operations() -> dict[str, tuple[str | None, bool]]:
    """API operation name -> (its permission or None: any signed-in person, whether it reads)."""
    from config.api import api

    found: dict[str, tuple[str | None, bool]] = {}
    names: list[str] = []
    for _prefix, router in api._routers:
        for view in router.path_operations.values():
            for operation in view.operations:
                name = operation.view_func.__name__
                names.append(name)
                found[name] = (
                    operation_permission(operation.auth_callbacks),
                    operation.methods == ["GET"],
                )
    duplicated = {name for name in names if names.count(name) > 1}
    assert not duplicated, f"operation names must be unique to be named as twins: {duplicated}"
    return found


def _pages() -> Iterator[tuple[str, str, ModuleType, Any]]:
    """(full name, name, the urls module that declares it, the view) of every page."""

    def walk(patterns: Any, module: ModuleType, namespace: str) -> Iterator[Any]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = pattern.urlconf_module
                owner = inner if isinstance(inner, ModuleType) else module
                yield from walk(pattern.url_patterns, owner, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield f"{namespace}:{pattern.name}", pattern.name, module, pattern.callback

    root = get_resolver()
    assert isinstance(root.urlconf_module, ModuleType)
    for full, name, module, view in walk(root.url_patterns, root.urlconf_module, ""):
        if full.startswith("api:"):
            continue
        yield full, name, module, view


def _roles(permission: str | None) -> frozenset[str]:
    return frozenset(
        role for role, held in ROLE_PERMISSIONS.items() if permission is None or permission in held
    )


def _table(module: ModuleType, attribute: str) -> dict[str, Any]:
    import config.urls

    # A urls module without tables (Django's own i18n URLs) is declared for in config.urls.
    return getattr(module, attribute, None) or getattr(config.urls, attribute, {})


def test_every_page_has_its_api_twin_or_a_stated_reason() -> None:
    operations = _operations()
    missing, unknown, both, wrong_permission = [], [], [], []
    twins = exceptions = 0
    for full, name, module, view in _pages():
        declared = _table(module, "API_TWINS").get(name)
        reason = _table(module, "PAGE_ONLY").get(name)
        if declared and reason:
            both.append(full)
        if not declared:
            if reason:
                exceptions += 1
            else:
                missing.append(full)
            continue
        twins += 1
        page_permission = getattr(view, "required_permission", None)
        for operation in declared:
            if operation not in operations:
                unknown.append(f"{full} -> {operation}")
                continue
            permission, reads = operations[operation]
            if permission is None:
                continue  # any signed-in person; the object decides inside (403/404)
            same = reads or permission == page_permission
            if not same or not _roles(page_permission) <= _roles(permission):
                wrong_permission.append(f"{full} ({page_permission}) -> {operation} ({permission})")
    assert not missing, f"pages with neither an API twin nor a reason: {missing}"
    assert not unknown, f"twins that are not API operations: {unknown}"
    assert not both, f"pages with a twin and a reason not to have one: {both}"
    assert not wrong_permission, f"twins with another permission: {wrong_permission}"
    print(f"{twins} pages with API twins, {exceptions} pages only, {len(operations)} operations")
    assert twins > 100 and exceptions == 9


def test_the_tables_name_only_pages_that_exist() -> None:
    """A table entry for a page that is gone would hide the next page of that name."""
    import config.urls

    declared: dict[ModuleType, set[str]] = {config.urls: set()}
    for _full, name, module, _view in _pages():
        if not hasattr(module, "API_TWINS") and not hasattr(module, "PAGE_ONLY"):
            module = config.urls  # declared for there
        declared.setdefault(module, set()).add(name)
    stale = []
    for module, names in declared.items():
        for attribute in ("API_TWINS", "PAGE_ONLY"):
            for name in getattr(module, attribute, {}):
                if name not in names:
                    stale.append(f"{module.__name__}.{attribute}[{name!r}]")
    assert stale == []
