"""Entry point of one box-hosting process of ``vigie-coordinator simulate city`` (a slice of the city's boxes).

Signals: SIGTERM/SIGINT stop it (every box leaves with its death); SIGUSR1 takes ``--offline-share`` of its light
cabinets off the network, SIGUSR2 brings them back (new boots on their persistent sessions); SIGHUP starts the
burst (``--burst-s`` long) now.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import threading
from pathlib import Path

from vigie_config.metropole.city import add_city_arguments, city_from

from .city_host import Burst, CityHost


def main() -> int:
    p = argparse.ArgumentParser(description="host a slice of the simulated city's boxes")
    p.add_argument("--dir", required=True, type=Path, help="the box configs written by the runner")
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--traffic-offset-s", type=float, default=0.0)
    add_city_arguments(p)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    city = city_from(args)
    configs = {path.stem: path for path in args.dir.glob("*.yaml")}
    host = CityHost(city, configs, index=args.index, count=args.count, seed=args.seed,
                    traffic_offset=dt.timedelta(seconds=args.traffic_offset_s),
                    fault_acceleration=args.fault_acceleration,
                    burst=Burst(args.burst_cameras, args.burst_factor,
                                args.burst_at_s if args.burst_at_s >= 0 else float("inf"), args.burst_s))
    stop = threading.Event()
    wanted: list[float] = []
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: wanted.append(args.offline_share))
    signal.signal(signal.SIGUSR2, lambda *_: wanted.append(0.0))
    burst_now: list[bool] = []
    signal.signal(signal.SIGHUP, lambda *_: burst_now.append(True))

    def on_tick(h: CityHost) -> None:
        if burst_now:
            burst_now.clear()
            h.start_burst()
            print(f"host {args.index}: burst of {h.burst.duration_s:g} s on {h.burst.cameras} cameras "
                  f"x{h.burst.factor:g}", flush=True)
        while wanted:
            share = wanted.pop(0)
            changed = h.set_offline(share)
            print(f"host {args.index}: {len(changed)} cabinets {'offline' if share else 'back online'}: "
                  f"{','.join(changed)}", flush=True)

    n = host.start()
    print(f"host {args.index}: {n} boxes running", flush=True)
    try:
        host.run(stop, on_tick)
    finally:
        host.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
