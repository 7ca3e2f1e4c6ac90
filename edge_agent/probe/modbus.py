"""``vigie-edge probe modbus HOST[:PORT] --unit N --map sdm630``: read every point of a register map once.

For the technician commissioning a cabinet: each mapped value is printed with its unit (a meter showing 230 V on
each phase and a plausible frequency is wired right), and a failure says what to check: nothing at that address
(unreachable), nothing listening (refused), no answer (timeout), no device at that unit id behind the gateway
(wrong unit), or a device that refuses the map's addresses (bad answer: probably the wrong map).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vigie_config.box import BoxConfig
from vigie_config.cabinet import ModbusDeviceConfig
from vigie_config.errors import RegisterMapError
from vigie_config.register_maps import load_map

from ..lighting.cabinet.errors import Failure, ModbusCommError
from ..lighting.cabinet.link import ModbusLink
from .report import Cause, Check

_CAUSES = {
    Failure.UNREACHABLE: Cause.UNREACHABLE,
    Failure.REFUSED: Cause.REFUSED,
    Failure.TIMEOUT: Cause.TIMEOUT,
    Failure.DISCONNECTED: Cause.UNREACHABLE,
    Failure.WRONG_UNIT: Cause.WRONG_UNIT,
    Failure.EXCEPTION: Cause.BAD_ANSWER,
    Failure.BAD_ANSWER: Cause.BAD_ANSWER,
}


def probe_modbus(host: str, port: int, unit: int, map_name: str, *, device: str = "", timeout_s: float = 2.0
                 ) -> list[Check]:
    """One ``connect`` row, then one ``read`` row per mapped value (``name = value unit``), or the failure."""
    device = device or f"modbus {host}:{port}/{unit}"
    try:
        regmap = load_map(map_name)
    except RegisterMapError as exc:
        return [Check.failed(device, "map", Cause.CONFIG, str(exc))]
    link = ModbusLink(host, port, timeout_s=timeout_s, attempts=1)
    try:
        values = link.read_map(regmap, unit)
    except ModbusCommError as exc:
        step = "connect" if exc.failure in (Failure.UNREACHABLE, Failure.REFUSED) else "read"
        return [Check.failed(device, step, _CAUSES[exc.failure], exc.detail)]
    finally:
        link.close()
    units = {p.name: p.unit for p in regmap.points}
    rows = [Check.passed(device, "connect", f"{regmap.model}: {len(values)} values in {link.requests} requests")]
    for name, value in values.items():
        shown = f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
        rows.append(Check.passed(device, "read", f"{name} = {shown} {units[name.split('.')[0]]}".rstrip()))
    return rows


def probe_box_cabinet(box: BoxConfig, _path: Path) -> list[Check]:
    """The cabinet controller and meter of a box config's ``lighting.cabinet``, if it has one."""
    cabinet = box.lighting.cabinet if box.lighting is not None else None
    if cabinet is None:
        return []
    out: list[Check] = []
    for role, dev in (("cabinet controller", cabinet.controller), ("cabinet meter", cabinet.meter)):
        if isinstance(dev, ModbusDeviceConfig):
            out += probe_modbus(dev.host or cabinet.host, dev.port or cabinet.port, dev.unit, dev.map, device=role,
                                timeout_s=cabinet.timeout_s)
    return out


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    try:
        return (host, int(port)) if port else (text, 502)
    except ValueError:
        raise argparse.ArgumentTypeError(f"HOST[:PORT] expected, got {text!r}") from None


def _run(args: argparse.Namespace) -> list[Check]:
    host, port = args.address
    return probe_modbus(host, port, args.unit, args.map, timeout_s=args.timeout)


def add_parser(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``probe modbus HOST[:PORT] --unit N --map MODEL``."""
    p = kinds.add_parser("modbus", help="read every register of a map from a Modbus TCP device")
    p.add_argument("address", type=_address, metavar="HOST[:PORT]", help="the device or gateway (port 502)")
    p.add_argument("--unit", type=int, default=1, help="Modbus unit id (default 1)")
    p.add_argument("--map", required=True, help="register map: a shipped model (sdm630, cabinet-generic) or a file")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each answer")
    p.set_defaults(kind_func=_run)
