"""Who may import whom: the box and the centre share only ``vigie_wire`` and ``vigie_config``.

Read from the source (the AST of every module, function-local imports included), so that an import hidden in a
function body counts as much as one at the top; then checked once for real, in a fresh interpreter. No exception:
the demo and the city simulation host their boxes in child processes started by module name
(:mod:`edge_agent.simulation`), never by import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative ones resolved against its package."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    return _imports_in(path.read_text(encoding="utf-8"), package)


def _imports_in(source: str, package: list[str]) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield node.lineno, module
            for alias in node.names:  # ``from . import hooks`` imports the module ``<package>.hooks``
                yield node.lineno, f"{module}.{alias.name}"


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _forbidden(imports: Iterator[tuple[int, str]], forbidden: tuple[str, ...]) -> list[tuple[int, str]]:
    return [(line, name) for line, name in imports if name.split(".")[0] in forbidden]


def _offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path in _sources(package)
        for line, name in _forbidden(_imports(path), forbidden)
    ]


def test_the_import_reader_sees_relative_and_local_imports() -> None:
    """The reader itself: function-local, relative and ``from . import`` imports resolve to their modules."""
    source = (
        "from ..storage import lighting_state\n"
        "from . import hooks\n"
        "def f():\n"
        "    import edge_agent.agent\n"
        "    from edge_agent.lighting.node import X\n"
    )
    names = {name for _line, name in _imports_in(source, ["coordinator", "lighting"])}
    assert {"coordinator.storage.lighting_state", "coordinator.lighting.hooks", "edge_agent.agent",
            "edge_agent.lighting.node"} <= names


def test_the_check_flags_an_import_of_the_other_side_wherever_it_hides() -> None:
    """The check itself can fail: box code imported by a coordinator module at the top, under ``TYPE_CHECKING``
    or in a function is named with its line; a module named in a string (a child process started by module name)
    or a relative import inside the coordinator is not."""
    source = (
        "import typing\n"
        "from vigie_config.metropole import commune\n"
        "from .. import cli\n"
        "HOST = 'edge_agent.simulation.city_host_main'\n"
        "if typing.TYPE_CHECKING:\n"
        "    from edge_agent.agent import Agent\n"
        "def run():\n"
        "    import edge_agent.simulation.fleet_sim as fleet\n"
        "    return fleet\n"
    )
    found = _forbidden(_imports_in(source, ["coordinator", "demo"]), ("edge_agent",))
    assert sorted(found) == [(6, "edge_agent.agent"), (6, "edge_agent.agent.Agent"),
                             (8, "edge_agent.simulation.fleet_sim")]
    assert {name for _line, name in _imports_in(source, ["coordinator", "demo"])} >= {"coordinator.cli"}


def test_the_coordinator_does_not_import_the_edge_agent() -> None:
    """Nowhere, the demo and the city simulation included: they start their box hosts as child processes."""
    assert _offenders("coordinator", ("edge_agent",)) == []


def test_the_edge_agent_does_not_import_the_coordinator() -> None:
    assert _offenders("edge_agent", ("coordinator",)) == []


@pytest.mark.parametrize("package", ["vigie_config", "vigie_wire"])
def test_the_shared_packages_import_neither_side(package: str) -> None:
    assert _offenders(package, ("edge_agent", "coordinator")) == []


def _graph(package: str) -> dict[str, set[str]]:
    """Module → the package's modules it imports (``from x import name`` counts as x, or x.name if a module)."""
    paths = {_module_name(p): p for p in _sources(package)}
    return {mod: {name for _l, name in _imports(path) if name in paths and name != mod} for mod, path in paths.items()}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        mod = todo.pop()
        if mod not in seen:
            seen.add(mod)
            todo += graph.get(mod, ())
    return seen


def test_ingest_hooks_is_a_leaf_the_domains_register_on() -> None:
    graph = _graph("coordinator")
    hooks = "coordinator.ingest.hooks"
    domains = {"coordinator.analytics.hooks", "coordinator.dispatch.jobs", "coordinator.lighting.hooks"}
    assert domains <= graph.keys()
    assert all(hooks in _reachable(graph, d) for d in domains), "the domains use the stored-value types"
    assert _reachable(graph, hooks) & (domains | {hooks}) == set(), "ingest/hooks imports a domain back"
    wiring = _reachable(graph, "coordinator.ingest_hooks")
    assert domains | {hooks} <= wiring, "the composition root registers every domain's hook"


def test_importing_the_coordinator_loads_no_edge_code() -> None:
    """What a web worker, an ingest worker or a command loads: no edge agent, hence no ONNX Runtime nor DALI."""
    code = (
        "import sys, coordinator, coordinator.cli, coordinator.ingest_cli, coordinator.ingest_hooks, "
        "coordinator.broker.files, coordinator.seed, coordinator.demo.run, coordinator.sim.run\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'edge_agent', 'onnxruntime', 'dali'}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=True)
    assert proc.stdout.strip() == "[]"
