"""Wall time and peak memory of ``pceval demo`` (the README's main job), per stage.

Runs each stage as its own ``pceval`` process so the peak resident memory of each is measured
by the operating system (``ru_maxrss`` of the children), and prints a table.

    python benchmarks/demo.py [--out DIR] [--women N] [--services K]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_stage(args: list[str]) -> tuple[float, float]:
    """Run one pceval command in a child process; return (seconds, peak MiB of that child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pceval", *args], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far; a stage smaller than an earlier one
    # reports the earlier peak, so the table gives an upper bound per stage
    return seconds, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--women", type=int, default=1500)
    parser.add_argument("--services", type=int, default=8)
    options = parser.parse_args()
    root = options.out or Path(tempfile.mkdtemp()) / "demo"
    if root.exists():
        shutil.rmtree(root)
    stages = [
        ("synth", ["synth", str(root), "--women", str(options.women), "--services", str(options.services)]),
        ("build", ["build", str(root)]),
        ("analyse", ["analyse", str(root)]),
        ("report", ["report", str(root)]),
    ]
    rows = []
    for name, args in stages:
        seconds, peak = run_stage(args)
        rows.append({"stage": name, "seconds": round(seconds, 2), "peak_mib": round(peak, 1)})
    total = sum(r["seconds"] for r in rows)
    print(f"{'stage':<10}{'seconds':>10}{'peak MiB':>12}")
    for row in rows:
        print(f"{row['stage']:<10}{row['seconds']:>10.2f}{row['peak_mib']:>12.1f}")
    print(f"{'total':<10}{total:>10.2f}{max(r['peak_mib'] for r in rows):>12.1f}")
    print(json.dumps({"women": options.women, "services": options.services, "stages": rows,
                      "total_seconds": round(total, 2)}))


if __name__ == "__main__":
    main()
