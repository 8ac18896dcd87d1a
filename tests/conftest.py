"""Shared fixtures: small inline instruments, and one synthetic evaluation built once."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The default ("ci") profile draws the same examples on every run: a commit that passed passes
# again, and a failure is reproduced by running the test again. "explore" draws new examples
# each run, five times as many, to look for what the fixed draws miss (HYPOTHESIS_PROFILE=explore,
# with --hypothesis-seed=N to repeat a run); each bug it finds is fixed and its input kept as a
# test. "dev" is a quicker random run.
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def write_yaml(tmp_path: Path):
    """Write an inline YAML document to a temporary file and return its path."""

    def _write(text: str, name: str = "instrument.yml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write
