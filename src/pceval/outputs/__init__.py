"""Files for people outside pceval: SPSS, Stata, spreadsheet-safe CSV and a data package.

- :mod:`~pceval.outputs.missing_codes`: the fixed mappings from a missing cell's reason to a
  numeric code (SPSS, data package) and to a Stata extended missing letter, and
  :func:`apply_missing_codes`;
- :mod:`~pceval.outputs.spss`: :func:`write_sav`, labelled ``.sav`` with user-missing values;
- :mod:`~pceval.outputs.stata`: :func:`write_dta`, labelled ``.dta`` with ``.a``-``.m``;
- :mod:`~pceval.outputs.csvsafe`: :func:`write_csv_safe`, UTF-8 CSV that Excel opens and
  cannot turn into formulas;
- :mod:`~pceval.outputs.datapackage`: :func:`write_datapackage`, the clean CSVs with a
  Frictionless ``datapackage.json`` that validates.

Every file is written atomically and the same input gives the same bytes.
"""

from pceval.outputs._columns import numeric_choice_codes
from pceval.outputs._statfiles import spss_names, stata_names
from pceval.outputs.csvsafe import (
    FORMULA_CHARACTERS,
    neutralise_cell,
    restore_cell,
    write_csv_safe,
)
from pceval.outputs.datapackage import write_datapackage
from pceval.outputs.missing_codes import (
    MISSING_CODES,
    MISSING_LABELS,
    STATA_MISSING,
    apply_missing_codes,
    missing_code_labels,
    missing_code_map,
)
from pceval.outputs.spss import write_sav
from pceval.outputs.stata import write_dta

__all__ = [
    "FORMULA_CHARACTERS",
    "MISSING_CODES",
    "MISSING_LABELS",
    "STATA_MISSING",
    "apply_missing_codes",
    "missing_code_labels",
    "missing_code_map",
    "neutralise_cell",
    "numeric_choice_codes",
    "restore_cell",
    "spss_names",
    "stata_names",
    "write_csv_safe",
    "write_datapackage",
    "write_dta",
    "write_sav",
]
