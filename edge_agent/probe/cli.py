"""The ``probe`` subcommand of ``vigie-edge``: one sub-subcommand per device kind, and ``--config`` for a box.

Kinds register here explicitly: :data:`KINDS` adds their argument parsers, :data:`BOX_PROBES` the functions that
probe every device of that kind a box config lists (for ``vigie-edge probe --config box.yaml``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from vigie_config.box import BoxConfig

from ..box_config import load_box_config
from . import camera, dali, modbus
from .report import Check, ProbeReport, exit_code, render

#: Adds one kind's ``probe <kind>`` parser (whose ``func`` returns the checks) to the probe subparsers.
AddParser = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
#: Probes every device of one kind in a box config (the config file's path resolves relative files).
BoxProbe = Callable[[BoxConfig, Path], list[Check]]

KINDS: list[AddParser] = [camera.add_parser, dali.add_parser, modbus.add_parser]
BOX_PROBES: list[BoxProbe] = [camera.probe_box_cameras, dali.probe_box, modbus.probe_box_cabinet]


def probe_box(box: BoxConfig, path: Path) -> list[Check]:
    """Every device of the box, probed by every registered kind; a box with nothing to probe fails."""
    checks: list[Check] = []
    for probe in BOX_PROBES:
        checks.extend(probe(box, path))
    return checks


def _run(args: argparse.Namespace) -> int:
    if args.kind_func is None:
        if args.config is None:
            print("vigie-edge probe: give a device kind (see --help) or --config BOX.yaml", file=sys.stderr)
            return 2
        checks = probe_box(load_box_config(args.config), args.config)
    else:
        result = args.kind_func(args)
        if isinstance(result, ProbeReport):
            print(result.table(), flush=True)
            return 0 if result.ok else 1
        checks = result
    print(render(checks), flush=True)
    return exit_code(checks)


def add_probe_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``vigie-edge probe``: commissioning checks of a camera, a DALI bus, a Modbus cabinet, or a whole box."""
    p = sub.add_parser("probe", help="check field devices before running a box; exit 1 on any failure")
    p.add_argument("--config", type=Path, help="probe every device of this box config")
    p.set_defaults(func=_run, kind_func=None)
    kinds = p.add_subparsers(dest="kind")
    for add in KINDS:
        add(kinds)
