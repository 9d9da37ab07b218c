"""The API document is true, complete and bounded: every input states its limits."""

from __future__ import annotations

from typing import Any

import pytest

from config.api import api


def _document() -> dict[str, Any]:
    return dict(api.get_openapi_schema(path_prefix="/api"))


def _unbounded(document: dict[str, Any]) -> list[str]:
    components = document["components"]["schemas"]
    found: list[str] = []

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in schema:
            return dict(components[schema["$ref"].split("/")[-1]])
        return schema

    def check(schema: dict[str, Any], where: str, seen: frozenset[int] = frozenset()) -> None:
        schema = resolve(schema)
        if id(schema) in seen:
            return
        seen = seen | {id(schema)}
        options = schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", [])
        numeric = any(resolve(o).get("maximum") is not None for o in options)
        for option in options:
            option = resolve(option)
            if numeric and option.get("type") == "string":
                continue  # a decimal sent as a string: bounded by its number's digits
            check(option, where, seen)
        kind = schema.get("type")
        if kind == "object":
            for name, sub in schema.get("properties", {}).items():
                check(sub, f"{where}.{name}", seen)
        elif kind == "array":
            if "maxItems" not in schema:
                found.append(f"{where}: a list without maxItems")
            check(schema.get("items", {}), f"{where}[]", seen)
        elif kind == "string":
            form = schema.get("format")
            if form in ("date", "date-time"):
                if "between" not in schema.get("description", ""):
                    found.append(f"{where}: a {form} without its range")
            elif (
                "enum" not in schema
                and form not in ("uuid", "binary")
                and "maxLength" not in schema
                and "pattern" not in schema
            ):
                found.append(f"{where}: text without maxLength")
        elif kind in ("integer", "number") and "maximum" not in schema:
            found.append(f"{where}: a {kind} without maximum")

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']}:{parameter['name']}"
                check(parameter.get("schema", {}), where)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                check(content["schema"], f"{method.upper()} {path} body")
    return found


def test_every_input_in_the_api_document_is_bounded() -> None:
    assert _unbounded(_document()) == []


def test_schema_names_are_unique() -> None:
    """The document names a schema by its class name: two classes with one name would show
    one app's body for the other's operation (once: SOP transitions for the order pipeline)."""
    from procedo.core.schemas import Schema

    def subclasses(cls: type) -> list[type]:
        return [cls, *(c for sub in cls.__subclasses__() for c in subclasses(sub))]

    owners: dict[str, set[str]] = {}
    for cls in subclasses(Schema)[1:]:
        if cls.__module__.startswith("procedo."):
            owners.setdefault(cls.__name__, set()).add(cls.__module__)
    assert {name: mods for name, mods in owners.items() if len(mods) > 1} == {}


@pytest.mark.django_db
def test_every_route_is_reachable_by_its_own_method(owner_client: Any) -> None:
    """No route shadows another (POST /templates/preview once hit PUT /templates/{id}: 405)."""
    document = _document()
    for path, operations in document["paths"].items():
        url = path.replace("{", "").replace("}", "")
        for method in operations:
            response = getattr(owner_client, method)(url, content_type="application/json")
            assert response.status_code != 405, f"{method.upper()} {path}"


@pytest.mark.django_db
def test_the_docs_page_loads_with_nothing_from_the_internet(owner_client: Any) -> None:
    page = owner_client.get("/api/docs").content.decode()
    assert "cdn." not in page and "https://" not in page.split("<body")[0]
