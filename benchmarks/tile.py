"""A large synthetic evaluation made of copies of a smaller one, each with its own identities.

The generator holds a whole evaluation in memory (about 20 GiB at 680,000 women before it had
written the first of its files), so a national-scale evaluation is written as ``copies`` copies
of one synthetic evaluation: every copy keeps the same services, answers and data faults, and
gets its own case numbers and platform record ids, so its women are new women to ``pceval
build`` (linked within the copy, never across copies). The staff surveys are written once: the
same services have the same staff.

    python benchmarks/tile.py BASE OUT --copies 7

A case number ``AB12345`` becomes ``AB112345`` in copy 1, ``AB212345`` in copy 2 (six digits,
which the instruments' pattern allows and the generator never writes); record ids get ``-1``,
``-2`` ... Copy 0 is the base as it is.
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import pandas as pd

#: Per platform: the delimiter, the header rows and the platform's own record id columns.
PLATFORMS = {
    "redcap": (",", 1, ("record_id",)),
    "kobo": (";", 1, ("_id", "_uuid")),
    "qualtrics": (",", 3, ("ResponseId",)),
}


def _case_numbers(values: pd.Series, copy: int) -> pd.Series:
    # the copy's digit goes before the five digits the generator writes
    return values.str.replace(r"([0-9]{5})", rf"{copy}\1", n=1, regex=True)


def _record_ids(values: pd.Series, copy: int) -> pd.Series:
    return values.where(values == "", values + f"-{copy}")


def tile_file(source: Path, target: Path, *, platform: str, case_column: str | None, copies: int) -> int:
    """Write ``copies`` copies of one raw export; return the data rows written."""
    delimiter, header_rows, record_columns = PLATFORMS[platform]
    encoding = "utf-8-sig" if platform == "qualtrics" else "utf-8"
    frame = pd.read_csv(source, sep=delimiter, dtype=str, keep_default_na=False, encoding=encoding,
                        header=0)
    extra_headers, frame = frame.iloc[: header_rows - 1], frame.iloc[header_rows - 1:]
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding=encoding, newline="") as out:
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(frame.columns)
        writer.writerows(extra_headers.itertuples(index=False, name=None))
        for copy in range(copies):
            part = frame
            if copy:
                part = frame.copy()
                if case_column is not None:
                    part[case_column] = _case_numbers(part[case_column], copy)
                for column in record_columns:
                    if column in part.columns:
                        part[column] = _record_ids(part[column], copy)
            part.to_csv(out, sep=delimiter, header=False, index=False, lineterminator="\r\n")
    return len(frame) * copies


def tile_evaluation(base: Path, out: Path, copies: int) -> dict[str, int]:
    """Write the evaluation at ``out`` as ``copies`` copies of the one at ``base``."""
    from pceval.instrument import Role, load_instrument
    from pceval.project import load_project

    project = load_project(base)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(base / "pceval.yml", out / "pceval.yml")
    shutil.copytree(base / "private", out / "private", dirs_exist_ok=True)
    rows = {}
    for source in project.config.sources:
        instrument = load_instrument(source.instrument)
        case = instrument.role_item(Role.CASE_KEY)
        path = project.source_path(source)
        header = pd.read_csv(path, sep=PLATFORMS[source.platform][0], nrows=0,
                             encoding="utf-8-sig").columns
        # Kobo writes group paths: the case number is the column ending in its item id
        case_column = next((c for c in header if case is not None and c.split("/")[-1] == case.id), None)
        # the staff surveys (no case number) stay as they are: the same services' same staff
        rows[source.file] = tile_file(path, out / source.file, platform=source.platform,
                                      case_column=case_column, copies=copies if case_column else 1)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--copies", type=int, default=7)
    options = parser.parse_args()
    print(tile_evaluation(options.base, options.out, options.copies))


if __name__ == "__main__":
    main()
