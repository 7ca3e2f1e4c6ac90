"""``vigie-coordinator demo``: the whole product on one machine, in one command."""

from .run import DEMO_PORT, run_demo

__all__ = ["DEMO_PORT", "run_demo"]
