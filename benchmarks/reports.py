"""Seconds per service report, rendering every service of a 100-service evaluation in HTML.

Synthesises an evaluation (or reuses one with ``--keep``), builds and analyses it, then times
``pceval report DIR --all-services`` (all service reports in one kernel, results read once) and,
for comparison, the evaluation report.

    python benchmarks/reports.py [--out DIR] [--keep] [--services 100] [--women 10000]

``--keep`` reuses DIR when it already holds results (synthesis, build and analysis take
minutes at this size). The figure to compare with the target is "seconds per service".
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def pceval(*args: str) -> float:
    """Run one pceval command in a child process; return its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pceval", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="evaluation folder")
    parser.add_argument("--keep", action="store_true", help="reuse --out if it has results")
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--women", type=int, default=10000)
    parser.add_argument("--evaluation", action="store_true", help="also time the evaluation report")
    options = parser.parse_args()
    root = options.out or Path(tempfile.mkdtemp()) / "reports-benchmark"
    if not (options.keep and (root / "results" / "results.parquet").is_file()):
        if root.exists() and any(root.iterdir()):
            sys.exit(f"{root} exists and is not empty; pass --keep to reuse it or choose --out")
        for stage, args in (("synth", ["synth", str(root), "--services", str(options.services),
                                       "--women", str(options.women)]),
                            ("build", ["build", str(root)]), ("analyse", ["analyse", str(root)])):
            print(f"{stage:10s} {pceval(*args):8.1f} s", flush=True)
    from pceval.project import load_project

    services = len(load_project(root).config.services)
    seconds = pceval("report", str(root), "--all-services")
    written = len(list((root / "reports").glob("service-*.html")))
    print(f"service reports: {written} of {services} services in {seconds:.1f} s "
          f"= {seconds / max(written, 1):.2f} s per service (one kernel, HTML)")
    if options.evaluation:
        print(f"evaluation report: {pceval('report', str(root)):.1f} s (HTML)")
    print(f"evaluation folder: {root}")


if __name__ == "__main__":
    main()
