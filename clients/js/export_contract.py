"""Export what the JavaScript client needs from ``docs/asyncapi.yaml`` into ``contract.json``.

The client validates payloads with the document's own schemas, so the document stays the one source of the
contract; JSON rather than YAML so that the client needs no YAML parser. Integers that JavaScript numbers cannot
hold exactly (bounds above 2^53 - 1) are written as decimal strings. ``--check`` exits 1 when the committed file
differs from a fresh export (the test suite runs it).

Run: ``python clients/js/export_contract.py [--check]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "asyncapi.yaml"
OUT = HERE / "contract.json"
SAFE = 2**53 - 1


def _exact(node: Any) -> Any:
    """Bounds beyond JavaScript's safe integers become strings the client reads as BigInt."""
    if isinstance(node, dict):
        return {k: _exact(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_exact(v) for v in node]
    if isinstance(node, int) and not isinstance(node, bool) and abs(node) > SAFE:
        return str(node)
    return node


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def _topic(doc: dict[str, Any], channel: dict[str, Any], payload: list[Any]) -> str:
    def value(match: re.Match[str]) -> str:
        param = _resolve(doc, channel["parameters"][match.group(1)])
        found = re.fullmatch(r"\$message\.payload#/(\d+)", param.get("location", ""))
        return str(payload[int(found.group(1))]) if found else str(param["examples"][0])

    return re.sub(r"\{([^{}]+)\}", value, channel["address"])


def export(doc: dict[str, Any]) -> dict[str, Any]:
    schemas = doc["components"]["schemas"]
    kinds: dict[str, str] = {}
    examples = []
    for channel in doc["channels"].values():
        if channel["address"].startswith("vigie-json/"):
            continue  # the opt-in bridge's keyed JSON: not what this decoder reads
        kind = channel["address"].rsplit("/", 1)[-1] if "/STATE/" not in channel["address"] else "state"
        for ref in channel["messages"].values():
            message = _resolve(doc, ref)
            kinds[kind] = message["payload"]["schema"]["$ref"].rsplit("/", 1)[-1]
            for ex in message["examples"]:
                examples.append({"message": message["name"], "name": ex["name"], "kind": kind,
                                 "topic": _topic(doc, channel, ex["payload"]), "hex": ex["x-msgpack-hex"],
                                 "payload": ex["payload"]})
    events = {str(s["x-event-code"]): name for name, s in schemas.items() if "x-event-code" in s}
    exported: dict[str, Any] = _exact({
        "source": "docs/asyncapi.yaml",
        "version": doc["info"]["version"],
        "contentType": doc["defaultContentType"],
        "schemaFormat": "application/schema+json;version=draft-2020-12",
        "annotations": doc["info"]["x-schema-annotations"],
        "payloads": dict(sorted(kinds.items())),
        "events": events,
        "schemas": schemas,
        "examples": examples,
    })
    return exported


def render() -> str:
    with DOC.open(encoding="utf-8") as fh:
        doc: dict[str, Any] = yaml.safe_load(fh)
    return json.dumps(export(doc), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if contract.json is not up to date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run .venv/bin/python -m tests.asyncapi_vectors (or {Path(__file__)})",
                  file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
