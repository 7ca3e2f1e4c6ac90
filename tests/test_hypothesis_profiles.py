"""CI runs properties reproducibly, a developer's machine explores: the profile follows the environment."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hypothesis_profiles import CI, DEV, profile_for


@pytest.mark.parametrize(
    ("environ", "profile"),
    [
        ({}, DEV),
        ({"CI": "true"}, CI),
        ({"CI": "1"}, CI),
        ({"CI": "false"}, DEV),
        ({"CI": ""}, DEV),
        ({"HYPOTHESIS_PROFILE": "ci"}, CI),
        ({"CI": "true", "HYPOTHESIS_PROFILE": "dev"}, DEV),
    ],
)
def test_the_ci_variable_selects_the_ci_profile_unless_one_is_named(environ: dict[str, str], profile: str) -> None:
    assert profile_for(environ) == profile


def test_the_ci_profile_is_derandomized_prints_blobs_and_keeps_no_database() -> None:
    ci = settings.get_profile(CI)
    assert (ci.derandomize, ci.print_blob, ci.deadline, ci.database) == (True, True, None, None)
    dev = settings.get_profile(DEV)
    assert not dev.derandomize
    assert dev.database is not None  # failures found locally are replayed first on the next run


def test_the_run_uses_the_profile_its_environment_asks_for() -> None:
    assert settings.default == settings.get_profile(profile_for(os.environ))


def _examples_drawn(profile: str) -> list[list[int]]:
    drawn: list[list[int]] = []

    @settings(settings.get_profile(profile), max_examples=20)
    @given(st.lists(st.integers()))
    def record(xs: list[int]) -> None:
        drawn.append(xs)

    record()
    return drawn


def test_the_ci_profile_draws_the_same_examples_on_every_run() -> None:
    first = _examples_drawn(CI)
    assert len(first) >= 10
    assert _examples_drawn(CI) == first
