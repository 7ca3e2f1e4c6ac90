"""Modbus cabinet benchmark: full SDM630 map reads per second, and the CPU one cabinet costs at its poll interval.

The cabinet (controller + SDM630 meter, ``edge_agent/lighting/cabinet/simulator.py``) is a real pymodbus TCP
server on 127.0.0.1 in a child process, so the measured process holds only the client side:

1. Reads/s of the full SDM630 map (15 values, 5 requests) through :class:`ModbusLink.read_map`, against the
   same 5 requests through a bare pymodbus client (no decoding, no error handling) in the same run: the ratio is
   what the link's naming, counting and decoding cost.
2. CPU per cabinet: the CPU time of the polling thread (``time.thread_time``) for one :meth:`Cabinet.poll`
   (controller and meter, 7 requests), divided by the default poll interval: the share of one core one cabinet
   costs. Goal: at most 1 % of a core.

Usage: ``.venv/bin/python bench/modbus_bench.py [--reads 2000] [--write bench/RESULTS.md]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import multiprocessing
import multiprocessing.synchronize
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from pymodbus.client import ModbusTcpClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402
from edge_agent.lighting.cabinet.cabinet import Cabinet  # noqa: E402
from edge_agent.lighting.cabinet.link import ModbusLink  # noqa: E402
from edge_agent.lighting.cabinet.registers import plan_reads  # noqa: E402
from edge_agent.lighting.cabinet.simulator import METER_UNIT, CabinetServer, free_port  # noqa: E402
from vigie_config.cabinet import CabinetConfig  # noqa: E402
from vigie_config.register_maps import load_map  # noqa: E402

GOAL_CORE_SHARE = 0.01


def _serve(port: int, stop: multiprocessing.synchronize.Event) -> None:
    with CabinetServer(port=port) as server:
        server.model.coils[:3] = [True, True, True]
        stop.wait()


def _bare(port: int, n: int) -> tuple[float, float]:
    """Full-map reads per second, and CPU seconds of this thread per read, with the bare pymodbus client: the
    same requests, nothing else."""
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    client.connect()  # type: ignore[no-untyped-call]
    reads = plan_reads(load_map("sdm630").points)
    t0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(n):
        for r in reads:
            client.read_input_registers(r.address, count=r.count, device_id=METER_UNIT)
    rate, cpu = n / (time.perf_counter() - t0), (time.thread_time() - c0) / n
    client.close()  # type: ignore[no-untyped-call]
    return rate, cpu


def _link(port: int, n: int) -> tuple[float, float]:
    link = ModbusLink("127.0.0.1", port, timeout_s=2)
    sdm = load_map("sdm630")
    link.read_map(sdm, METER_UNIT)
    t0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(n):
        link.read_map(sdm, METER_UNIT)
    rate, cpu = n / (time.perf_counter() - t0), (time.thread_time() - c0) / n
    link.close()
    assert not link.errors, link.errors
    return rate, cpu


def _cpu_per_poll(port: int, polls: int) -> tuple[float, float]:
    """Median CPU seconds and wall seconds of the polling thread per cabinet poll (controller + meter)."""
    cfg = CabinetConfig.model_validate({
        "host": "127.0.0.1", "port": port,
        "controller": {"unit": 1, "map": "cabinet-generic"}, "meter": {"unit": 2, "map": "sdm630"},
        "circuits": [{"id": f"c{i}", "output": i, "phase": 1 + i % 3} for i in range(3)],
    })
    cabinet = Cabinet(cfg)
    now = dt.datetime(2026, 11, 25, 22, 0, tzinfo=dt.UTC)
    cabinet.poll(now, force=True)
    cpu, wall = [], []
    for _ in range(polls):
        c0, w0 = time.thread_time(), time.perf_counter()
        cabinet.poll(now, force=True)
        cabinet.telemetry()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    cabinet.close()
    assert all(d.failures == 0 for d in cabinet.devices)
    return statistics.median(cpu), statistics.median(wall)


def machine() -> str:
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"pymodbus {importlib.metadata.version('pymodbus')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=2000, help="full-map reads per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (bare, link)")
    parser.add_argument("--polls", type=int, default=300, help="cabinet polls timed for the CPU share")
    parser.add_argument("--write", type=Path, help="rewrite this section of RESULTS.md")
    args = parser.parse_args()
    load_before = os.getloadavg()
    port = free_port()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(port, stop), daemon=True)
    server.start()
    deadline = time.monotonic() + 20
    while True:
        try:
            ModbusLink("127.0.0.1", port, timeout_s=1).read_map(load_map("sdm630"), METER_UNIT)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    try:
        rounds = [(_bare(port, args.reads), _link(port, args.reads)) for _ in range(args.rounds)]
        cpu_s, wall_s = _cpu_per_poll(port, args.polls)
    finally:
        stop.set()
        server.join(10)
    load_after = os.getloadavg()
    interval = CabinetConfig.model_fields["poll_interval_s"].default
    share = cpu_s / interval
    bare = statistics.median(r[0][0] for r in rounds)
    link = statistics.median(r[1][0] for r in rounds)
    ratios = [f"{lk[0] / b[0]:.2f}" for b, lk in rounds]
    bare_cpu = statistics.median(r[0][1] for r in rounds)
    link_cpu = statistics.median(r[1][1] for r in rounds)
    cpu_ratios = [f"{lk[1] / b[1]:.2f}" for b, lk in rounds]
    requests = len(plan_reads(load_map("sdm630").points))
    verdict = "met" if share <= GOAL_CORE_SHARE else "NOT met"
    section = f"""## Modbus cabinet (issue 13)

Machine: {machine()}.
Command: `.venv/bin/python bench/modbus_bench.py --reads {args.reads} --rounds {args.rounds} --polls {args.polls} \
--write bench/RESULTS.md` ({dt.date.today().isoformat()}; load average 1/5/15 min \
{' / '.join(f'{x:.2f}' for x in load_before)} before, {' / '.join(f'{x:.2f}' for x in load_after)} after).
Server: pymodbus TCP server on 127.0.0.1 in a child process (`edge_agent/lighting/cabinet/simulator.py`),
client in this process.

| measure | value |
|---|---|
| full SDM630 map ({requests} requests, 15 values), bare pymodbus client, reads/s (median of {args.rounds} rounds) \
| {bare:,.0f} |
| full SDM630 map through `ModbusLink.read_map` (decoded, counted), reads/s | {link:,.0f} |
| link / bare reads/s, per round (server-bound: a Python server on the same 2 cores) | {', '.join(ratios)} |
| CPU of the reading thread per full-map read, ms: bare / link | {bare_cpu * 1000:.3f} / {link_cpu * 1000:.3f} |
| link / bare CPU per read, per round | {', '.join(cpu_ratios)} |
| one cabinet poll (controller + meter, 7 requests) + telemetry: CPU of the polling thread, ms (median of \
{args.polls}) | {cpu_s * 1000:.2f} |
| same, wall time, ms | {wall_s * 1000:.2f} |
| CPU share of one core per cabinet at the default poll interval ({interval:g} s) | {share * 100:.3f} % |

Goal: at most 1 % of a core per cabinet at the default poll interval: **{verdict}** \
({share * 100:.3f} % = {cpu_s * 1000:.2f} ms of CPU every {interval:g} s, measured in this run).
"""
    print(section)
    if args.write:
        write_section(args.write, "## Modbus cabinet (issue 13)", section)
    return 0 if share <= GOAL_CORE_SHARE else 1


if __name__ == "__main__":
    sys.exit(main())
