"""pceval's benchmark suite: build, analysis and report speed against references in the same run.

    python benchmarks/run.py [--scale demo|national] [--women N] [--keep DIR]

``arrow_floor`` reads the same files and writes each table once as Parquet and once as CSV with
pyarrow alone: the share of a build's time that is pure input and output.

Each measured step runs in its own process so the operating system reports its peak memory
(``ru_maxrss``). The build is compared with a bare ``pyarrow.csv.read_csv`` of the same raw
files, measured in the same run; peak memory is compared with the raw files' in-memory Arrow
size. Results are printed as a table and written to ``benchmarks/results.json``.

Scales: ``demo`` is the README's demo (1,500 women); ``national`` is about 680,000 women, which
gives about 5,000,000 partner contact record rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCALES = {"demo": {"women": 1_500, "services": 8}, "national": {"women": 680_000, "services": 100}}

_CHILD = r"""
import json, resource, sys, time
step, root = sys.argv[1], sys.argv[2]
start = time.perf_counter()
extra = {}
if step == "synth":
    from pceval.synth import generate_evaluation
    generate_evaluation(root, seed=20260101, services=int(sys.argv[3]), women=int(sys.argv[4]))
elif step == "arrow_read":
    import pyarrow.csv as pv
    from pceval.project import load_project
    project = load_project(root)
    total_bytes = rows = 0
    for source in project.config.sources:
        path = project.source_path(source)
        delimiter = ";" if source.platform == "kobo" else ","
        table = pv.read_csv(path, parse_options=pv.ParseOptions(delimiter=delimiter, newlines_in_values=True))
        total_bytes += table.nbytes
        rows += table.num_rows
    extra = {"arrow_bytes": total_bytes, "rows": rows}
elif step == "arrow_floor":
    # the I/O any build must do: read the raw files, write the same tables once as Parquet and
    # once as CSV, with pyarrow alone (no cleaning, no formatting)
    import tempfile
    import pyarrow.csv as pv
    import pyarrow.parquet as pq
    from pceval.project import load_project
    project = load_project(root)
    with tempfile.TemporaryDirectory() as out:
        for n, source in enumerate(project.config.sources):
            path = project.source_path(source)
            delimiter = ";" if source.platform == "kobo" else ","
            table = pv.read_csv(path, parse_options=pv.ParseOptions(delimiter=delimiter,
                                                                    newlines_in_values=True))
            pq.write_table(table, f"{out}/{n}.parquet")
            pv.write_csv(table, f"{out}/{n}.csv")
            del table
elif step in {"build", "analyse", "report"}:
    from pceval import pipeline
    from pceval.project import load_project
    project = load_project(root)
    result = getattr(pipeline, step)(project)
    if step == "build":
        extra = {"rows": result.rows}
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": max(peak, children), **extra}))
"""


def run_step(*args: str) -> dict:
    """Run one step in a fresh Python process and return what it measured."""
    result = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"step {args[0]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="demo")
    parser.add_argument("--women", type=int, default=None, help="override the scale's number of women")
    parser.add_argument("--keep", type=Path, default=None, help="evaluation folder to use and keep")
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument("--shareable", default=None,
                        help="comma-separated shareable formats the build writes (csv,sav,dta; default all)")
    options = parser.parse_args()
    scale = dict(SCALES[options.scale])
    if options.women:
        scale["women"] = options.women
    root = options.keep or Path(tempfile.mkdtemp(prefix="pceval-bench-")) / "evaluation"
    rows: dict[str, dict] = {}
    if not (root / "pceval.yml").exists():
        rows["synth"] = run_step("synth", str(root), str(scale["services"]), str(scale["women"]))
    if options.shareable is not None:
        from pceval.project import load_project, write_config

        config = load_project(root).config
        formats = tuple(f for f in options.shareable.split(",") if f)
        write_config(root, config.model_copy(update={"shareable": formats}))
    rows["arrow_read"] = run_step("arrow_read", str(root))
    rows["arrow_floor"] = run_step("arrow_floor", str(root))
    rows["build"] = run_step("build", str(root))
    rows["analyse"] = run_step("analyse", str(root))
    if not options.skip_report:
        rows["report"] = run_step("report", str(root))
    raw_bytes = sum(p.stat().st_size for p in (root / "raw").glob("*"))
    arrow_bytes = rows["arrow_read"]["arrow_bytes"]
    summary = {
        "scale": options.scale,
        "women": scale["women"],
        "services": scale["services"],
        "shareable": options.shareable or "csv,sav,dta",
        "raw_rows": {k: v["rows_in"] for k, v in rows["build"]["rows"].items()},
        "raw_file_bytes": raw_bytes,
        "raw_arrow_bytes": arrow_bytes,
        "build_seconds": rows["build"]["seconds"],
        "arrow_read_seconds": rows["arrow_read"]["seconds"],
        "arrow_floor_seconds": rows["arrow_floor"]["seconds"],
        "arrow_floor_peak_bytes": rows["arrow_floor"]["peak_bytes"],
        "build_to_arrow_read_ratio": rows["build"]["seconds"] / rows["arrow_read"]["seconds"],
        "build_peak_bytes": rows["build"]["peak_bytes"],
        "build_peak_to_arrow_size": rows["build"]["peak_bytes"] / arrow_bytes,
        "analyse_seconds": rows["analyse"]["seconds"],
        "analyse_peak_bytes": rows["analyse"]["peak_bytes"],
        "report_seconds": rows.get("report", {}).get("seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%d"),
    }
    print(f"{'step':<12}{'seconds':>10}{'peak MiB':>12}")
    for name, row in rows.items():
        print(f"{name:<12}{row['seconds']:>10.1f}{row['peak_bytes'] / 2**20:>12.0f}")
    print(f"raw rows: {summary['raw_rows']}")
    print(f"build / bare pyarrow read: {summary['build_to_arrow_read_ratio']:.1f}x; "
          f"build peak / raw Arrow size: {summary['build_peak_to_arrow_size']:.1f}x "
          f"({arrow_bytes / 2**20:.0f} MiB); pyarrow read + Parquet + CSV floor: "
          f"{rows['arrow_floor']['seconds'] / rows['arrow_read']['seconds']:.1f}x the read")
    (HERE / "results.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if options.keep is None:
        shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
