"""Entry point of the demo's district process (started by ``vigie-coordinator demo``)."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import threading
from pathlib import Path

from .district import generate
from .fleet_sim import run_district


def main() -> int:
    p = argparse.ArgumentParser(description="run the demo's simulated district")
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--clock-offset-s", type=int, default=0)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_district(generate(), Path(args.dir), args.port, stop, dt.timedelta(seconds=args.clock_offset_s),
                 on_ready=lambda n: print(f"district: {n} boxes running", flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
