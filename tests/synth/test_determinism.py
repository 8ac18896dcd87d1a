"""Same seed, same bytes; another seed, other files; the defaults; the smallest evaluations."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pceval.project import load_project
from pceval.synth import generate_evaluation


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_files(tmp_path):
    first = generate_evaluation(tmp_path / "a", seed=5, services=4, women=200)
    second = generate_evaluation(tmp_path / "b", seed=5, services=4, women=200)
    a, b = _hashes(first.root), _hashes(second.root)
    assert len(a) == 9
    assert a == b
    other = _hashes(generate_evaluation(tmp_path / "c", seed=6, services=4, women=200).root)
    assert set(other) == set(a)
    for name in a:
        assert other[name] != a[name], name


def test_regenerating_in_place_gives_the_same_files_and_refuses_another_key(tmp_path):
    root = tmp_path / "ev"
    generate_evaluation(root, seed=5, services=3, women=60)
    before = _hashes(root)
    generate_evaluation(root, seed=5, services=3, women=60)
    assert _hashes(root) == before
    from pceval.errors import ConfigError

    with pytest.raises(ConfigError, match="different pseudonym key"):
        generate_evaluation(root, seed=6, services=3, women=60)


def test_defaults_give_eight_services_and_1500_women(tmp_path):
    summary = generate_evaluation(tmp_path / "default")
    assert summary.seed == 20260101
    assert summary.counts["women"] == 1500 and summary.counts["services"] == 8
    project = load_project(summary.root)
    assert len(project.config.services) == 8
    truth = json.loads(summary.paths["ground_truth"].read_text())
    overall = truth["realised"]["overall"]
    assert overall["identified"] == 1500
    assert 0.55 <= overall["reached_share"] <= 0.9
    small = min(v["identified"] for v in truth["realised"]["by_service"].values())
    assert 10 <= small <= 40  # about 1.5% of women: small enough for the small-cell rules
    assert summary.counts["canaries"] >= 50
    for key in ("config", "key", "ground_truth", "canaries", "women"):
        assert summary.paths[key].is_file()


@pytest.mark.parametrize(("services", "women"), [(1, 1), (8, 8), (3, 10)])
def test_tiny_evaluations(tmp_path, services, women):
    summary = generate_evaluation(tmp_path / "tiny", seed=3, services=services, women=women)
    assert summary.counts["women"] == women
    assert len(load_project(summary.root).config.services) == services


def test_more_services_than_women_is_refused(tmp_path):
    with pytest.raises(ValueError, match="one woman per service"):
        generate_evaluation(tmp_path / "x", services=5, women=4)


def test_same_bytes_whatever_the_hash_seed(tmp_path):
    """Nothing depends on Python's string-hash order (sets, dict keys from sets)."""
    import os
    import subprocess
    import sys

    hashes = []
    for hash_seed in ("1", "4242"):
        root = tmp_path / f"h{hash_seed}"
        code = ("import sys; from pceval.synth import generate_evaluation; "
                "generate_evaluation(sys.argv[1], seed=9, services=3, women=150)")
        subprocess.run([sys.executable, "-c", code, str(root)], check=True,
                       env={**os.environ, "PYTHONHASHSEED": hash_seed})
        hashes.append(_hashes(root))
    assert hashes[0] == hashes[1]
