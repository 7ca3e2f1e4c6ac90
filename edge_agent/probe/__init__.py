"""Commissioning checks a field technician runs on a fresh box before ``vigie-edge run``."""

from .report import Check, ProbeReport

__all__ = ["Check", "ProbeReport"]
