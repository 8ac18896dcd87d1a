"""Ground truth agrees with the files and with the simulated data before faults were added."""

from __future__ import annotations

import stat
from datetime import date

import numpy as np
import pandas as pd
import pytest

from pceval.errors import InstrumentError
from pceval.instrument import load_instrument
from pceval.synth import simulate, synthetic_key
from pceval.synth.common import META
from pceval.synth.population import check_constructs

INSTRUMENTS = ("womens_survey", "contact_record", "worker_survey", "facilitator_survey")
LAYOUT = {"redcap": (1, ","), "kobo": (1, ";"), "qualtrics": (3, ",")}


@pytest.fixture(scope="module")
def simulated(small):
    """The same simulation again, before any fault: the generator's pre-messiness tables."""
    p = small["params"]
    instruments = {i: load_instrument(i) for i in INSTRUMENTS}
    return simulate(p["seed"], p["services"], p["women"], instruments)


def test_row_counts_and_expected_quarantine(small, read_rows):
    truth = small["truth"]
    for file, info in truth["files"].items():
        header_rows, delimiter = LAYOUT[info["platform"]]
        assert (info["header_rows"], info["delimiter"]) == (header_rows, delimiter)
        data = read_rows(small["root"] / file, delimiter)[header_rows:]
        assert len(data) == info["rows"] == small["summary"].counts[file]
        injected = info["injected"]
        quarantined = sum(injected.get(k, 0) for k in ("duplicate_submission", "no_case_key", "survey_preview",
                                                       "no_service"))
        assert info["rows_expected_quarantined"] == quarantined > 0
        assert info["rows_expected_kept"] + quarantined == info["rows"]
        added = injected.get("duplicate_submission", 0) + injected.get("survey_preview", 0)
        if info["platform"] == "redcap":  # its blank-key rows are added surveys, not blanked ones
            added += injected.get("no_case_key", 0)
        assert info["rows"] == info["rows_simulated"] + added


def test_every_listed_fault_is_in_the_file(small, read_rows):
    truth = small["truth"]
    for file, info in truth["files"].items():
        header_rows, delimiter = LAYOUT[info["platform"]]
        rows = read_rows(small["root"] / file, delimiter)
        inst = load_instrument(info["instrument"])
        header = rows[0]
        column = {}
        for i, name in enumerate(header):
            column.setdefault(name.split("/")[-1] if info["platform"] == "kobo" else name, i)
        counts = {}
        for fault in info["faults"]:
            counts[fault["fault"]] = counts.get(fault["fault"], 0) + 1
            row = rows[fault["row"] - 1]
            if fault["fault"] == "out_of_range":
                item = inst.item(fault["field"])
                assert float(row[column[item.id]]) > item.constraint.max
            elif fault["fault"] == "invalid_date":
                text = row[column[fault["field"]]]
                with pytest.raises(ValueError):
                    date.fromisoformat(text)
            elif fault["fault"] == "no_case_key":
                assert row[column[inst.role_item("case_key").id]].strip() == ""
            elif fault["fault"] == "unknown_code":
                codes = {str(c.code) for c in inst.choices_of(fault["field"])}
                assert row[column[fault["field"]]] not in codes
            elif fault["fault"] == "survey_preview":
                assert row[header.index("Status")] == "8"
            elif fault["fault"] == "no_service":
                assert row[column[inst.role_item("service").id]].strip() == ""
                assert row[column[inst.role_item("consent").id]] == "0"
        assert counts == {k: v for k, v in info["injected"].items() if k != "trailing_whitespace"}


def test_duplicates_really_duplicate(small, read_rows):
    truth = small["truth"]
    kobo = "raw/contact_record_kobo.csv"
    rows = read_rows(small["root"] / kobo, ";")
    header = rows[0]
    items = slice(2, header.index("_id"))
    seen: dict[tuple, int] = {}
    dup_rows = {f["row"] for f in truth["files"][kobo]["faults"] if f["fault"] == "duplicate_submission"}
    for n, row in enumerate(rows[1:], start=2):
        key = tuple(cell.strip() for cell in row[items])
        if n in dup_rows:
            assert key in seen, "a resubmission repeats an earlier entry exactly"
        else:
            assert key not in seen, "no two genuine entries are identical"
            seen[key] = n
    redcap = "raw/womens_survey_redcap.csv"
    rows = read_rows(small["root"] / redcap, ",")
    header = rows[0]
    case, event, complete = header.index("case_id"), 1, header.index("womens_survey_complete")
    dup_rows = {f["row"] for f in truth["files"][redcap]["faults"] if f["fault"] == "duplicate_submission"}
    keys = {}
    for n, row in enumerate(rows[1:], start=2):
        keys.setdefault((row[case].strip(), row[event]), []).append((n, row[complete], row[0]))
    for n in dup_rows:
        row = rows[n - 1]
        group = keys[(row[case].strip(), row[event])]
        assert len(group) == 2 and {c for _, c, _ in group} == {"0", "2"}
        assert len({r for _, _, r in group}) == 2  # under a new record_id


def test_realised_reach_matches_the_simulated_record(small, simulated):
    truth = small["truth"]["realised"]
    events, n = simulated.events, len(simulated.women)
    reached_n = np.bincount(events["woman"], weights=events["outcome"] == "reached", minlength=n)
    tried = np.bincount(events["woman"], weights=events["event"].isin(["attempt", "contact"]), minlength=n)
    declined = np.bincount(events["woman"], weights=events["outcome"] == "declined", minlength=n) > 0
    assert truth["overall"]["identified"] == n
    assert truth["overall"]["offered"] == int((tried > 0).sum())
    assert truth["overall"]["reached"] == int((reached_n > 0).sum())
    assert truth["overall"]["engaged"] == int(((reached_n >= 2) & ~declined).sum())
    assert truth["overall"]["reached_share"] == pytest.approx((reached_n > 0).mean(), abs=1e-6)
    service = simulated.women["service_id"].to_numpy()
    for sid, values in truth["by_service"].items():
        mine = service == sid
        assert values["identified"] == int(mine.sum())
        assert values["reached"] == int((reached_n[mine] > 0).sum())
    shares = [v["reached_share"] for v in truth["by_service"].values()]
    assert max(shares) - min(shares) > 0.1  # services differ in reach
    sizes = [v["identified"] for v in truth["by_service"].values()]
    assert min(sizes) <= 0.03 * sum(sizes)  # a small service exercises the small-cell rules


def test_realised_felt_safety_matches_the_simulated_answers(small, simulated):
    inst = load_instrument("womens_survey")
    scale = inst.scale("felt_safety")
    answers = simulated.answers["womens_survey"]
    items = answers[list(scale.items)].apply(pd.to_numeric, errors="coerce")
    for item_id in scale.reverse:
        items[item_id] = 6 - items[item_id]
    score = items.mean(axis=1).where(items.notna().sum(axis=1) >= scale.min_valid)
    table = pd.DataFrame({"woman": answers[META + "woman"], "wave": answers[META + "wave"], "score": score})
    wide = table.pivot_table(index="woman", columns="wave", values="score")
    both = wide[["baseline", "followup"]].dropna()
    truth = small["truth"]["realised"]["overall"]
    assert truth["felt_safety_change_n"] == len(both)
    assert truth["felt_safety_change"] == pytest.approx((both["followup"] - both["baseline"]).mean(), abs=1e-6)
    assert truth["felt_safety_baseline_mean"] == pytest.approx(wide["baseline"].mean(), abs=1e-6)
    # the story: baseline near 2.8, a real improvement near the generating effect
    assert 2.5 < truth["felt_safety_baseline_mean"] < 3.1
    assert 0.2 < truth["felt_safety_change"] < 0.6
    effect = small["truth"]["parameters"]["felt_safety_true_effect"]
    assert effect["for_women_whose_partner_stayed"] == 0.45
    survey = truth["survey"]
    assert 0.5 < survey["exit_retention"] < 0.8 and 0.4 < survey["followup_retention"] < 0.75


def test_pre_fault_answers_follow_the_instrument(simulated):
    """Before faults, every answer is a declared code or within its constraint."""
    for inst_id in INSTRUMENTS:
        inst = load_instrument(inst_id)
        answers = simulated.answers[inst_id]
        assert [c for c in answers.columns if not c.startswith(("meta:", "canary"))] == inst.columns()
        for item in inst.data_items():
            if item.is_multiple:
                continue
            values = answers[item.id].dropna().astype(str)
            allowed = {str(c.code) for c in inst.choices_of(item)} | {str(m) for m in item.missing_codes}
            if item.is_choice:
                assert set(values) <= allowed, item.id
            elif item.constraint is not None and item.constraint.max is not None:
                numbers = pd.to_numeric(values[~values.isin(allowed)])
                assert numbers.between(item.constraint.min, item.constraint.max).all(), item.id


def test_record_dates_are_consistent(simulated):
    inst = load_instrument("contact_record")
    frame = simulated.answers["contact_record"]
    event = pd.to_datetime(frame[inst.role_item("event_date").id])
    referral = pd.to_datetime(frame["referral_date"])
    close = pd.to_datetime(frame["case_close_date"])
    assert (event >= referral).all()
    assert (event[close.notna()] <= close[close.notna()]).all()
    assert event.max() <= pd.Timestamp("2026-06-30")
    # attempts come after she was identified, and each woman's entries fall on distinct days
    assert not frame.duplicated([inst.role_item("case_key").id, inst.role_item("event_date").id]).any()


def test_case_numbers_and_cohorts(simulated):
    women = simulated.women
    assert women["case_id"].is_unique
    assert women["case_id"].str.fullmatch(r"[A-Z]{2}[0-9]{4,6}").all()
    assert 0.04 < (women["atsi"] == 1).mean() < 0.12
    assert 0.15 < (women["cald"] == 1).mean() < 0.25
    assert set(women["atsi"]) <= {1, 0, -99, -98}


def test_key_file(small):
    key = small["root"] / "private" / "pseudonym.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().strip() == synthetic_key(small["params"]["seed"])
    assert synthetic_key(1) != synthetic_key(2)


def test_constructs_are_checked_against_the_instruments():
    instruments = {i: load_instrument(i) for i in INSTRUMENTS}
    check_constructs(instruments)
    womens = instruments["womens_survey"]
    fewer = womens.model_copy(update={"items": tuple(i for i in womens.items if i.id != "violence_3m")})
    with pytest.raises(InstrumentError, match="violence_3m"):
        check_constructs({**instruments, "womens_survey": fewer})
