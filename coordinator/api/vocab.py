"""Closed vocabularies of the API (commune slugs, intervention kinds), published from the data itself.

The OpenAPI document's parameters refer to ``#/components/schemas/CommuneSlug`` and ``InterventionKind``;
their ``enum`` lists are generated here from the communes file and the code's own ``Literal`` (and body
models carry the same list inline), so adding a commune or a kind cannot leave the document behind.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

from coordinator.interventions.geo import COMMUNE_SLUGS

_SCHEMAS: dict[str, dict[str, Any]] = {}


def publish(name: str, values: tuple[str, ...] | frozenset[str], description: str) -> dict[str, Any]:
    """Publish a string enum as ``#/components/schemas/<name>``; returns a ``$ref`` to it."""
    _SCHEMAS[name] = {"type": "string", "enum": sorted(values), "description": description}
    return {"$ref": f"#/components/schemas/{name}"}


def schemas() -> dict[str, dict[str, Any]]:
    """Every published vocabulary, by schema name."""
    return dict(_SCHEMAS)


def _known_commune(value: str) -> str:
    if value not in COMMUNE_SLUGS:
        raise ValueError(f"unknown commune {value!r}: one of the métropole's slugs (see CommuneSlug)")
    return value


publish("CommuneSlug", COMMUNE_SLUGS, "slug of a commune of Dijon Métropole")
#: A commune slug of the métropole, checked, and documented with the same ``enum`` as ``CommuneSlug``.
Commune = Annotated[str, AfterValidator(_known_commune), WithJsonSchema(schemas()["CommuneSlug"])]
