"""Entry point of the demo's district process (started by ``vigie-coordinator demo`` by module name)."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import threading
from pathlib import Path

from vigie_config.metropole.district import generate

from .fleet_sim import run_district


def main() -> int:
    p = argparse.ArgumentParser(description="run the demo's simulated district")
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--clock-offset-s", type=int, default=0)
    p.add_argument("--telemetry-s", type=int, default=30, help="the cabinets' telemetry interval")
    p.add_argument("--first-lamp-fault-s", type=float, default=None,
                   help="when the first lamp fails (default: 30 to 90 s at random)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_district(generate(), Path(args.dir), args.port, stop, dt.timedelta(seconds=args.clock_offset_s),
                 on_ready=lambda n: print(f"district: {n} boxes running", flush=True), telemetry_s=args.telemetry_s,
                 first_fault_after_s=args.first_lamp_fault_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
