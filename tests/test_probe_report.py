"""The probe's report: a failure names device, step and cause, and makes the exit code non-zero."""

from __future__ import annotations

from edge_agent.cli import main
from edge_agent.probe import Cause, Check, exit_code, render


def test_a_failed_check_names_device_step_and_cause_and_fails_the_run() -> None:
    checks = [
        Check.passed("cam 0", "connect", "h264 768x576"),
        Check.failed("cabinet meter", "read", Cause.WRONG_UNIT, "unit 7 answered exception 0x0B"),
    ]
    text = render(checks)
    assert "PASS  cam 0" in text
    assert "FAIL  cabinet meter  read" in text
    assert "wrong unit: unit 7 answered exception 0x0B" in text
    assert text.splitlines()[-1] == "2 checks: 1 ok, 1 failed"
    assert exit_code(checks) == 1
    assert exit_code(checks[:1]) == 0
    assert exit_code([]) == 1  # nothing probed is not a pass


def test_probe_without_a_kind_or_a_config_is_a_usage_error() -> None:
    assert main(["probe"]) == 2
