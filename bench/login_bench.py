"""Benchmark of login timing: does the response time tell an unknown account name from a known one?

Setup. For each database kind (SQLite file, PostgreSQL from the test suite's server), a fresh migrated
database holds an active admin ``chef`` and a deactivated viewer ``parti``; the coordinator app answers
through Flask's test client in this process (no network, so the figures are the server's own work:
body parsing, the throttle's reads and writes, the password hash, the audit log and the session).

Measure. After one warm-up of each kind, ``--rounds`` rounds each time, in turn: a known name with a wrong
password, an unknown name (a new one each round), the known name with its password (a session opens),
the deactivated name with its password. The throttle's limits are raised so no request is refused
untried. Reported: the median of each kind, and for each other kind the median over the rounds of the
unknown name's time divided by that kind's time in the same round (a burst of load slows both sides).
The goal, as in ``tests/test_login_throttle.py``: every ratio within 0.7-1.4 (before the dummy hash an
unknown name answered in ~0.02 s against 0.6-0.9 s for a known one, a ratio near 0.03).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402
from tests.api_helpers import PASSWORD, add_user, make_app  # noqa: E402
from tests.db_helpers import DatabaseFactory  # noqa: E402

HEADING = "## Login timing: unknown and known account names (issue 12)"
KINDS = ("known_wrong", "unknown", "known_right", "deactivated")
BAND = (0.7, 1.4)


def measure(db_url: str, rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median time of each kind, and median over the rounds of the unknown name's time over each other kind's."""
    app = make_app(db_url, LOGIN_THROTTLE_ADDRESS_FREE=100_000, LOGIN_THROTTLE_ACCOUNT_FREE=100_000,
                   VALIDATE_RESPONSES=False)
    add_user(app, "chef", "admin")
    gone = add_user(app, "parti", "viewer")
    admin = add_user(app, "admin", "admin")
    admin.patch(f"/users/{gone.get('/auth/me').get_json()['id']}", json={"active": False})
    c = app.test_client()

    def timed(username: str, password: str, expected: int) -> float:
        t0 = time.perf_counter()
        status = c.post("/api/v1/auth/login", json={"username": username, "password": password}).status_code
        elapsed = time.perf_counter() - t0
        if status != expected:
            raise SystemExit(f"login {username!r}: {status}, expected {expected}")
        return elapsed

    timed("chef", "not-the-password", 401)
    timed("warm-up", "not-the-password", 401)
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    for i in range(rounds):
        times["known_wrong"].append(timed("chef", "not-the-password", 401))
        times["unknown"].append(timed(f"inconnu-{i}", "not-the-password", 401))
        times["known_right"].append(timed("chef", PASSWORD, 200))
        times["deactivated"].append(timed("parti", PASSWORD, 401))
    medians = {k: statistics.median(v) for k, v in times.items()}
    ratios = {k: statistics.median(u / t for u, t in zip(times["unknown"], times[k], strict=True))
              for k in ("known_wrong", "known_right", "deactivated")}
    return medians, ratios


def machine() -> str:
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}. Code: commit {commit or '?'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--write", type=Path, help="rewrite this section of bench/RESULTS.md")
    args = parser.parse_args()
    rows = []
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "postgresql"):
            factory = DatabaseFactory(kind, Path(tmp))
            try:
                m, ratios = measure(factory.new_url(), args.rounds)
            finally:
                factory.close()
            met = all(BAND[0] <= r <= BAND[1] for r in ratios.values())
            verdicts.append(met)
            rows.append(f"| {kind} | " + " | ".join(f"{m[k] * 1000:.0f} ms" for k in KINDS) + " | "
                        + " | ".join(f"{r:.2f}" for r in ratios.values()) + f" | {'met' if met else 'NOT met'} |")
            print(rows[-1], flush=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    section = "\n".join([
        HEADING, "",
        f"Machine: {machine()}; load average at the end of the run {load} (a shared machine: other work running "
        "at the same time slows every figure, the ratios much less).", "",
        f"Command: `python bench/login_bench.py --rounds {args.rounds} --write bench/RESULTS.md` (medians of "
        f"{args.rounds} interleaved rounds after a warm-up, ratios per round; see the script's docstring).", "",
        "| database | known name, wrong password | unknown name | known name, right password | deactivated name "
        "| unknown / known wrong | unknown / known right | unknown / deactivated | goal 0.7-1.4 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
    ])
    if args.write:
        write_section(args.write, HEADING, section)
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
