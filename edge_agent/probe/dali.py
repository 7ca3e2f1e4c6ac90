"""``vigie-edge probe dali --transport URI``: scan a DALI line before the box drives it.

For each of the 64 short addresses: is a gear there, its device types, whether it is D4i (energy reporting and
diagnostics, device types 51/52), its current level, and the faults it reports (QUERY STATUS, and for D4i gear
its supply and light-source failure flags, with its metered energy and power). A gear whose SYSTEM FAILURE LEVEL
is below full fails too: when the interface (which powers the line) is unplugged, the gear go to that level on
their own, and the box can do nothing about it until the line is back, so it is the street's fail-safe.
With ``--config`` the line is compared with the box's luminaires: a configured luminaire with no gear at its
address fails (``wrong unit``), a gear no luminaire uses fails (``config``), since both mean the street and the
config disagree.

The scan uses the same transports and python-dali sequences as the driver, so what the probe sees is what
the box will see. It takes about 70 frames for an empty line and ~15 more per gear (~3 s and ~0.5 s a gear on
a real line at 1200 bit/s).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dali.address import GearShort
from dali.exceptions import DALIError
from dali.gear import general
from dali.memory import diagnostics, energy
from dali.memory.location import FlagValue
from dali.sequences import QueryDeviceTypes

from vigie_config.box import BoxConfig
from vigie_config.drivers import Transport

from ..lighting.drivers.dali import ADDRESSES, D4I_TYPES, DaliDriverConfig
from ..lighting.drivers.dali_bus import DaliBus, open_bus, parse_transport, single
from ..lighting.drivers.dali_curve import level_pct
from ..lighting.drivers.errors import DriverBusError, DriverError
from .report import Cause, Check

#: Default wait for one transaction, s (a memory read of ~10 frames takes ~0.4 s on a real line).
TIMEOUT_S = 2.0
#: The lowest SYSTEM FAILURE LEVEL accepted: a line that fails must leave the street lit (100 %, arc 254).
FAILSAFE_ARC = 254


@dataclass
class GearInfo:
    """What one short address answered."""

    addr: int
    types: tuple[int, ...] = ()
    d4i: bool = False
    arc: int | None = None
    status: Any = None
    energy_wh: float | None = None
    power_w: float | None = None
    failure_arc: int | None = None  # SYSTEM FAILURE LEVEL: where it goes if the line fails (255: stays)
    faults: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the technician: types, D4i, level, meters."""
        level = "?" if self.arc is None else "off" if self.arc == 0 else f"{level_pct(min(self.arc, 254)):.1f} %"
        parts = [f"types {','.join(map(str, self.types)) or '-'}", f"D4i {'yes' if self.d4i else 'no'}",
                 f"level {level}"]
        if self.energy_wh is not None:
            parts.append(f"energy {self.energy_wh:.1f} Wh")
        if self.power_w is not None:
            parts.append(f"power {self.power_w:.1f} W")
        return ", ".join(parts)


def _value(bus: DaliBus, addr: int, value: Any) -> Any:
    got = bus.send(value.read(GearShort(addr)))
    return None if isinstance(got, FlagValue) else got


def inspect(bus: DaliBus, addr: int) -> GearInfo | None:
    """The gear at ``addr``, or ``None`` when nothing answers there.

    Raises:
        DriverBusError: The interface failed during the scan.
    """
    try:
        types = bus.send(QueryDeviceTypes(GearShort(addr)))
    except DALIError as exc:
        if "No response to initial query" in str(exc):
            return None
        return GearInfo(addr, errors=[f"device types: {exc}"])
    info = GearInfo(addr, tuple(types), bool(D4I_TYPES & set(types)))
    level = bus.send(single(general.QueryActualLevel(GearShort(addr)))).raw_value
    info.arc = None if level is None or level.error else level.as_integer
    status = bus.send(single(general.QueryStatus(GearShort(addr))))
    if status.raw_value is None or status.raw_value.error:
        info.errors.append("no usable answer to QUERY STATUS")
    else:
        info.status = status
        if status.lamp_failure:
            info.faults.append("lamp failure")
        if status.ballast_status:
            info.faults.append("control gear failure")
    failure = bus.send(single(general.QuerySystemFailureLevel(GearShort(addr)))).raw_value
    info.failure_arc = None if failure is None or failure.error else failure.as_integer
    if info.d4i:
        try:
            energy_wh, power_w = _value(bus, addr, energy.ActiveEnergy), _value(bus, addr, energy.ActivePower)
            info.energy_wh = None if energy_wh is None else float(energy_wh)
            info.power_w = None if power_w is None else float(power_w)
            if _value(bus, addr, diagnostics.ControlGearExternalSupplyUndervoltage) is True:
                info.faults.append("supply undervoltage")
            if _value(bus, addr, diagnostics.LightSourceOverallFailureCondition) is True:
                info.faults.append("light source failure")
        except DALIError as exc:  # declares D4i, has no such bank: say so
            info.errors.append(f"D4i memory banks unreadable: {exc}")
    return info


def scan(transport: Transport, timeout_s: float = TIMEOUT_S) -> tuple[list[Check], dict[int, GearInfo]]:
    """Open the interface and inspect every short address; the checks of the interface and the gear found."""
    device = f"dali {transport}"
    try:
        bus = open_bus(transport, timeout_s)
    except DriverBusError as exc:
        text = str(exc)
        denied = "ermission" in text or "not permitted" in text
        cause = Cause.AUTH if denied else Cause.TIMEOUT if "within" in text else Cause.UNREACHABLE
        return [Check.failed(device, "connect", cause, text)], {}
    checks = [Check.passed(device, "connect", "interface open")]
    found: dict[int, GearInfo] = {}
    try:
        for addr in range(ADDRESSES):
            info = inspect(bus, addr)
            if info is not None:
                found[addr] = info
    except DriverBusError as exc:
        checks.append(Check.failed(device, "scan", Cause.TIMEOUT if "within" in str(exc) else Cause.UNREACHABLE,
                                   f"interface failed during the scan: {exc}"))
        return checks, found
    finally:
        bus.close()
    d4i = sum(1 for g in found.values() if g.d4i)
    where = f"addresses {_addresses(found)}" if found else "no address answers"
    checks.append(Check.passed(device, "scan", f"{len(found)} gear ({where}), {d4i} of them D4i"))
    return checks, found


def gear_checks(found: dict[int, GearInfo], names: dict[int, str] | None = None, *,
                require_d4i: bool = False) -> list[Check]:
    """One row per gear: its description, failed when it reports a fault or answers garbage."""
    checks: list[Check] = []
    for addr, info in sorted(found.items()):
        device = f"dali gear {addr}" + (f" ({names[addr]})" if names and addr in names else "")
        if info.errors:
            checks.append(Check.failed(device, "read", Cause.BAD_ANSWER, "; ".join(info.errors)))
        elif info.faults:
            checks.append(Check.failed(device, "status", Cause.OTHER,
                                       f"{', '.join(info.faults)} reported by the gear; {info.describe()}"))
        elif require_d4i and not info.d4i:
            checks.append(Check.failed(device, "d4i", Cause.NOT_D4I, f"no D4i device types; {info.describe()}"))
        elif info.failure_arc is not None and info.failure_arc != 255 and info.failure_arc < FAILSAFE_ARC:
            level = "off" if info.failure_arc == 0 else f"{level_pct(info.failure_arc):.0f} %"
            checks.append(Check.failed(device, "fail-safe", Cause.CONFIG,
                                       f"system failure level {level}: the luminaire dims if the DALI line fails; "
                                       f"set it to 100 % (DTR0 254, SET SYSTEM FAILURE LEVEL)"))
        else:
            checks.append(Check.passed(device, "status", info.describe()))
    return checks


def _addresses(found: dict[int, GearInfo]) -> str:
    return ", ".join(str(a) for a in sorted(found))


def probe_dali(args: argparse.Namespace) -> list[Check]:
    """``probe dali``: the interface, the scan, and one row per gear."""
    try:
        transport = parse_transport(args.transport)
    except DriverError as exc:
        return [Check.failed(f"dali {args.transport}", "config", Cause.CONFIG, str(exc))]
    checks, found = scan(transport, args.timeout)
    return checks + gear_checks(found, require_d4i=args.d4i)


def probe_box(box: BoxConfig, _path: Path) -> list[Check]:
    """Every luminaire of a box whose driver is ``dali``: at its address, answering, without faults."""
    if box.lighting is None or not isinstance(box.lighting.driver, DaliDriverConfig):
        return []
    cfg = box.lighting.driver
    wanted = {cfg.addresses.get(lum.id, i): lum.id for i, lum in enumerate(box.lighting.luminaires)}
    checks, found = scan(parse_transport(cfg.transport), cfg.timeout_s)
    if len(checks) == 1 and not checks[0].ok:
        return checks
    for addr, lum in sorted(wanted.items()):
        if addr not in found:
            checks.append(Check.failed(f"luminaire {lum}", "scan", Cause.WRONG_UNIT,
                                       f"configured at short address {addr}, no gear answers there"))
    checks += gear_checks({a: g for a, g in found.items() if a in wanted}, wanted)
    for addr in sorted(set(found) - set(wanted)):
        checks.append(Check.failed(f"dali gear {addr}", "config", Cause.CONFIG,
                                   f"answers on the line but no luminaire of the config uses it; "
                                   f"{found[addr].describe()}"))
    return checks


def add_parser(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``probe dali --transport URI [--d4i] [--timeout S]``."""
    p = kinds.add_parser("dali", help="scan a DALI line: addresses, device types, D4i, levels, faults")
    p.add_argument("--transport", required=True,
                   help="hasseb:/dev/hidrawN, tridonic:/dev/hidrawN, luba232:/dev/ttyUSBN, scirs232:/dev/ttyUSBN, "
                        "or fake:N (the simulator)")
    p.add_argument("--d4i", action="store_true", help="fail any gear that is not D4i")
    p.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds to wait for one transaction")
    p.set_defaults(kind_func=probe_dali)
