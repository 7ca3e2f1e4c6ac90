"""Entry point of the demo's Modbus cabinet process (started by ``vigie-coordinator demo`` per cabinet box, by
module name)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from .cabinet_sim import run_cabinet


def main() -> int:
    p = argparse.ArgumentParser(description="run the Modbus cabinet simulator of a demo box")
    p.add_argument("--config", required=True, help="the box's config as the demo rewrote it")
    p.add_argument("--mqtt-port", type=int, required=True, help="the demo broker's port (the box's telemetry)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    # Ctrl-C reaches every demo process at once: the cabinet stays up until the demo stops it (SIGTERM) once the
    # boxes have left, so a box's last polls do not fail on a cabinet that left first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_cabinet(Path(args.config), args.mqtt_port, stop,
                on_ready=lambda port: print(f"cabinet: Modbus TCP on 127.0.0.1:{port} (controller unit 1, "
                                            f"SDM630 meter unit 2)", flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
