"""Write the ``x-msgpack-hex`` vector of every example of ``docs/asyncapi.yaml``, and refresh ``contract.json``.

A vector is the MessagePack encoding of its example as the document renders it (bin positions from their base64
text), so integrators can test a decoder without any Python; tests/test_asyncapi.py checks every one. Run after
adding or changing an example: ``.venv/bin/python -m tests.asyncapi_vectors``.
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests import test_asyncapi as doc

_VECTOR = re.compile(r'\n {10}x-msgpack-hex: "[0-9a-f\\\n ]*"')


def rewrite(text: str) -> str:
    """``text`` (the document) with a fresh vector after the ``name`` of each message example."""
    text = _VECTOR.sub("", text)
    doc.load_doc.cache_clear()
    for name, message in doc.load_doc()["components"]["messages"].items():
        if message.get("contentType") == "application/json":
            continue  # the bridge's keyed-JSON copies have no MessagePack vector
        start = text.index(f"\n    {name}:\n      name: {name}\n")
        following = re.search(r"\n    [A-Za-z]+:\n      name: |\n  schemas:\n", text[start + 5 :])
        assert following is not None
        end = start + 5 + following.start()
        block = text[start:end]
        for example in message["examples"]:
            hexed = doc.packed(message, example).hex()
            chunks = [hexed[i : i + 96] for i in range(0, len(hexed), 96)]
            line = f"        - name: {example['name']}\n"
            assert block.count(line) == 1, f"{name}: example {example['name']} not found once"
            value = '"' + "\\\n                          ".join(chunks) + '"'
            block = block.replace(line, f"{line}          x-msgpack-hex: {value}\n")
        text = text[:start] + block + text[end:]
    return text


def main() -> int:
    before = doc.DOC_PATH.read_text(encoding="utf-8")
    doc.DOC_PATH.write_text(rewrite(before), encoding="utf-8")
    doc.load_doc.cache_clear()
    return subprocess.call([sys.executable, str(doc.DOC_PATH.parents[1] / "clients" / "js" / "export_contract.py")])


if __name__ == "__main__":
    sys.exit(main())
