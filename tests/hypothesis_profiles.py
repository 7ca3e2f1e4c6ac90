"""Hypothesis profiles: reproducible in CI, exploring on a developer's machine.

CI must not be a lottery: a property that passes there passes on every run of the same commit, so the ``ci``
profile derives each test's examples from its name (``derandomize``) and keeps no example database. What it
finds, it prints as a blob to reproduce with ``@reproduce_failure``; the example then becomes an ``@example``
of its test. Locally, the ``dev`` profile draws new random examples on every run and remembers failures in
``.hypothesis/`` (kept out of git), which is how new counter-examples are found.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hypothesis import HealthCheck, settings

CI = "ci"
DEV = "dev"
#: Values of the ``CI`` variable that do not mean "this is CI".
_NOT_CI = frozenset({"", "0", "false", "no", "off"})

#: Hypothesis's own defaults; both profiles name it as parent, or their unset values would follow whichever
#: profile is loaded (the ``dev`` profile read while ``ci`` is loaded would then be derandomized too).
_DEFAULTS = settings.get_profile("default")

settings.register_profile(
    CI,
    _DEFAULTS,
    derandomize=True,
    print_blob=True,
    deadline=None,
    database=None,
    # A loaded CI machine must not fail a property for being slow to generate data: no timing goals in tests.
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(DEV, _DEFAULTS, print_blob=True)


def profile_for(environ: Mapping[str, str]) -> str:
    """The profile a run uses: ``HYPOTHESIS_PROFILE`` if set, else ``ci`` under a set ``CI`` variable, else ``dev``."""
    chosen = environ.get("HYPOTHESIS_PROFILE", "").strip()
    if chosen:
        return chosen
    return CI if environ.get("CI", "").strip().lower() not in _NOT_CI else DEV


def load() -> str:
    """Load the profile this environment asks for and return its name."""
    name = profile_for(os.environ)
    settings.load_profile(name)
    return name
