"""The public surface of pceval.outputs: a change to it shows up in this list."""

import pceval.outputs


def test_exported_names():
    assert sorted(pceval.outputs.__all__) == [
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
    for name in pceval.outputs.__all__:
        assert getattr(pceval.outputs, name) is not None
