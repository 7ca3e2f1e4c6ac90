"""``vigie-edge probe``: commissioning checks a field technician runs on a fresh box before ``vigie-edge run``.

Each kind of device (camera stream, DALI bus, Modbus cabinet) has a module here with a function that tries one
device step by step and returns :class:`Check` rows, never raising for a device fault: an unreachable camera or a
silent gear is the expected answer of a probe, and the technician needs to see every step, not a traceback.
:mod:`.report` renders the rows as a pass/fail table; the exit code is non-zero when any check failed.
"""

from __future__ import annotations

from .report import Cause, Check, ProbeReport, exit_code, render

__all__ = ["Cause", "Check", "ProbeReport", "exit_code", "render"]
