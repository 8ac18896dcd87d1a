"""Export coding sheets, fill them with simulated coders of known agreement, import them back.

Coder A codes every segment as the synthetic truth says (the themes of the template that wrote
it, :data:`pceval.synth.text.THEMES`). Coder B does too, except on chosen double-coded segments
where B flips one code: so the agreement, the disagreements and the consensus are known in
advance and computed here by hand, independently of pceval.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from pceval.cli import app
from pceval.code import export_sheets, import_sheets, text_segments
from pceval.instrument import Sensitivity, load_instrument
from pceval.instrument.themes import load_thematic_codebook
from pceval.project import load_project
from pceval.synth.text import themes_of_text


def truth(segment: str, code: str, text: str) -> int:
    """A perfect coder: 1 when the template that wrote the text has the theme."""
    return int(code in themes_of_text(text))

BOOK = load_thematic_codebook()
FLIPPED = "contact_timing"


def _segments(root) -> pd.DataFrame:
    project = load_project(root)
    instruments = {s.instrument: load_instrument(s.instrument) for s in project.config.sources}
    scored = {i: pd.read_parquet(root / "build" / "scored" / f"{i}.parquet") for i in instruments}
    return text_segments(scored, instruments)


def _kappa(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Percent agreement and Cohen's kappa of two 0/1 codings, by the textbook formulas."""
    po = float(np.mean(a == b))
    pe = a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
    return po, (po - pe) / (1 - pe)


def _estimate(table: pd.DataFrame, code: str, statistic: str) -> float:
    row = table[(table["code"] == code) & (table["statistic"] == statistic)]
    assert len(row) == 1, (code, statistic)
    return float(row["estimate"].iloc[0])


@pytest.fixture
def coded(evaluation, fill):
    """Two coders, 30% double-coded; B flips FLIPPED on every third double-coded segment it applies to."""
    export = export_sheets(evaluation, coders=["A", "B"], double_share=0.3, seed=3)
    segments = _segments(evaluation).set_index("segment_id")
    double = sorted(set(export.manifest.loc[export.manifest["double"], "segment_id"]))
    applies = [s for s in double if segments.at[s, "respondent"] in BOOK.code(FLIPPED).respondents]
    flips = set(applies[::3])

    def coder_b(segment, code, text):
        value = truth(segment, code, text)
        return 1 - value if segment in flips and code == FLIPPED else value

    sheets = evaluation / "coding" / "sheets"
    fill(sheets / "coding_A.xlsx", truth)
    fill(sheets / "coding_B.xlsx", coder_b)
    return export, segments, double, applies, flips


def test_export_assigns_a_double_coded_share_and_the_rest_once(evaluation):
    export = export_sheets(evaluation, coders=["A", "B", "C"], double_share=0.25, seed=9)
    segments = _segments(evaluation)
    manifest = export.manifest
    assert set(manifest["segment_id"]) == set(segments["segment_id"])
    per_segment = manifest.groupby("segment_id")["coder"].nunique()
    n = len(segments)
    assert int((per_segment == 2).sum()) == int(np.floor(0.25 * n + 0.5)) == export.double_coded
    assert int((per_segment == 1).sum()) == n - export.double_coded
    # the three pairs share the double-coded sample, and workloads differ by at most one
    pairs = manifest[manifest["double"]].groupby("segment_id")["coder"].apply(lambda c: "".join(sorted(c)))
    counts = pairs.value_counts()
    assert set(counts.index) == {"AB", "AC", "BC"} and counts.max() - counts.min() <= 1
    single = manifest[~manifest["double"]].groupby("coder").size()
    assert single.max() - single.min() <= 1
    # each workbook holds exactly its coder's segments, with the scrubbed text of the scored zone
    text = segments.set_index("segment_id")["text"]
    for coder in "ABC":
        ws = load_workbook(evaluation / "coding" / "sheets" / f"coding_{coder}.xlsx")["coding"]
        rows = list(ws.iter_rows(min_row=2, max_col=3, values_only=True))
        assert sorted(r[0] for r in rows) == sorted(manifest.loc[manifest["coder"] == coder, "segment_id"])
        assert all(r[2] == text[r[0]] for r in rows)
        assert [c.value for c in ws[1]][4:] == list(BOOK.ids)


def test_export_is_repeatable_byte_for_byte(evaluation):
    def digest():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((evaluation / "coding").rglob("*")) if p.is_file()}

    export_sheets(evaluation, coders=["A", "B"], double_share=0.2, seed=5)
    first = digest()
    export_sheets(evaluation, coders=["A", "B"], double_share=0.2, seed=5)
    assert digest() == first
    export_sheets(evaluation, coders=["A", "B"], double_share=0.2, seed=6)
    assert digest()["manifest.csv"] != first["manifest.csv"]


def test_round_trip_agreement_consensus_and_frequencies(evaluation, coded, fill):
    export, segments, double, applies, flips = coded
    result = import_sheets(evaluation, n_boot=0)

    # agreement on the flipped code, by hand: A is the truth, B differs on `flips`
    a = np.array([truth(s, FLIPPED, segments.at[s, "text"]) for s in applies])
    b = np.array([1 - v if s in flips else v for s, v in zip(applies, a, strict=True)])
    po, kappa = _kappa(a, b)
    assert _estimate(result.agreement, FLIPPED, "percent_agreement") == pytest.approx(po, abs=1e-12)
    assert _estimate(result.agreement, FLIPPED, "cohen_kappa") == pytest.approx(kappa, abs=1e-12)
    assert po == pytest.approx(1 - len(flips) / len(applies))
    # every other code is coded identically by both
    for code in ("program_information", "safety_planning"):
        assert _estimate(result.agreement, code, "percent_agreement") == 1.0
    # overall: every applicable code of every double-coded segment is a unit
    units = sum(len(BOOK.codes_for(segments.at[s, "respondent"])) for s in double)
    overall = result.agreement[(result.agreement["code"] == "overall")
                               & (result.agreement["statistic"] == "percent_agreement")].iloc[0]
    assert int(overall["n_units"]) == units
    assert float(overall["estimate"]) == pytest.approx(1 - len(flips) / units, abs=1e-12)

    # consensus: the flips await adjudication and go to the consensus workbook
    pending = result.audit[result.audit["decision"] == "pending"]
    assert set(pending["segment_id"]) == flips and set(pending["code"]) == {FLIPPED}
    assert set(pending["coder_values"]) == {"A=0; B=1", "A=1; B=0"}
    assert result.pending == len(flips)
    rules = result.audit.groupby("rule").size().to_dict()
    singles = set(export.manifest.loc[~export.manifest["double"], "segment_id"])
    assert rules["single_coder"] == sum(len(BOOK.codes_for(segments.at[s, "respondent"])) for s in singles)
    assert rules["coders_agree"] == units - len(flips)
    audit_file = pd.read_csv(evaluation / "coding" / "consensus_audit.csv")
    assert len(audit_file) == len(result.audit)
    codings = pd.read_parquet(evaluation / "coding" / "codings.parquet")
    assert list(codings.columns) == ["segment_id", "coder", "code", "value"]
    assert len(codings) == rules["single_coder"] + 2 * units

    # the adjudicator decides by the truth; the next import takes the decisions
    path = evaluation / "coding" / "sheets" / "consensus.xlsx"
    wb = load_workbook(path)
    ws = wb["consensus"]
    assert ws.max_row - 1 == len(flips)
    for row in ws.iter_rows(min_row=2):
        row[6].value = truth(row[0].value, row[1].value, row[4].value)
    wb.save(path)
    result = import_sheets(evaluation, n_boot=0)
    assert result.pending == 0
    adjudicated = result.audit[result.audit["rule"] == "adjudicated"]
    assert len(adjudicated) == len(flips)
    for seg, value in zip(adjudicated["segment_id"], adjudicated["value"], strict=True):
        assert value == truth(seg, FLIPPED, segments.at[seg, "text"])
    # the consensus workbook is rewritten with the decisions kept
    kept = [r[6] for r in load_workbook(path)["consensus"].iter_rows(min_row=2, values_only=True)]
    assert len(kept) == len(flips) and None not in kept

    # theme frequencies against the truth, counted here from the scored data
    _check_frequencies(evaluation, result.frequencies)


def _check_frequencies(root, frequencies: pd.DataFrame) -> None:
    project = load_project(root)
    rows = []
    for source in project.config.sources:
        inst = load_instrument(source.instrument)
        frame = pd.read_parquet(root / "build" / "scored" / f"{inst.id}.parquet")
        unit = frame["pid"] if "pid" in frame.columns else frame["response_id"]
        for item in inst.items_with(Sensitivity.FREE_TEXT):
            text = frame[item.id].astype("string").str.strip()
            keep = text.notna() & (text != "")
            for u, t, w in zip(unit[keep], text[keep], frame.loc[keep, "_wave"], strict=True):
                rows.append({"respondent": inst.respondent, "unit": u, "wave": w,
                             "themes": themes_of_text(t)})
    answers = pd.DataFrame(rows)
    min_cell = project.config.privacy.min_cell
    compared = 0
    for (respondent, code), expected_rows in _expected(answers).groupby(["respondent", "code"]):
        got = frequencies[(frequencies["respondent"] == respondent) & (frequencies["code"] == code)]
        for exp in expected_rows.itertuples():
            row = got[(got["breakdown"] == exp.breakdown) & (got["group"] == exp.group)]
            assert len(row) == 1, (respondent, code, exp.breakdown, exp.group)
            row = row.iloc[0]
            if 1 <= exp.count < min_cell:
                assert bool(row["suppressed"]) and pd.isna(row["count"])
            if not row["suppressed"]:
                assert (int(row["n"]), int(row["count"])) == (exp.n, exp.count)
                assert float(row["share"]) == pytest.approx(exp.count / exp.n)
                compared += 1
    assert compared >= 20


def _expected(answers: pd.DataFrame) -> pd.DataFrame:
    out = []
    for respondent, part in answers.groupby("respondent"):
        groups = [("overall", "all", part)]
        if part["wave"].notna().any():
            groups += [("wave", w, g) for w, g in part.groupby("wave")]
        for code in BOOK.codes_for(respondent):
            for breakdown, group, g in groups:
                hit = g[g["themes"].map(lambda t, c=code.id: c in t)]
                out.append({"respondent": respondent, "code": code.id, "breakdown": breakdown,
                            "group": group, "n": g["unit"].nunique(), "count": hit["unit"].nunique()})
    return pd.DataFrame(out)


def test_quote_bank_quotes_consented_answers_of_themes_with_enough_respondents(evaluation, coded):
    from pceval.project import write_config

    project = load_project(evaluation)
    # the survey's consent item stands in for a consent-to-be-quoted item here
    coding = project.config.coding.model_copy(update={
        "quote_bank": True, "min_n": 2, "quote_consent": {"womens_survey": "consent"}})
    # a small evaluation: a minimum cell of 3 lets some themes through
    privacy = project.config.privacy.model_copy(update={"min_cell": 3})
    write_config(evaluation, project.config.model_copy(update={"coding": coding, "privacy": privacy}))
    project = load_project(evaluation)
    _, segments, *_ = coded
    result = import_sheets(evaluation, n_boot=0)
    quotes = result.quotes
    assert quotes is not None and len(quotes)
    # case notes are never quoted without their own consent item; women's answers only with it
    assert "record" not in set(quotes["respondent"]) and "woman" in set(quotes["respondent"])
    women = pd.read_parquet(evaluation / "build" / "scored" / "womens_survey.parquet")
    consented = {f"womens_survey:{r}:{w}:comments"
                 for r, w in zip(women.loc[women["consent"] == 1, "response_id"],
                                 women.loc[women["consent"] == 1, "_wave"], strict=True)}
    assert set(quotes.loc[quotes["respondent"] == "woman", "segment_id"]) <= consented
    # quotes are the scrubbed text of the scored zone, each showing its theme
    assert all(quotes["text"] == segments.loc[quotes["segment_id"], "text"].to_numpy())
    assert all(code in themes_of_text(text) for code, text in zip(quotes["code"], quotes["text"], strict=True))
    # min_n (2) is raised to the minimum cell (3): exactly the women's themes raised by 3 or
    # more women are quoted (every woman with a comment consented in this evaluation)
    applied = result.audit[result.audit["value"] == 1].join(segments, on="segment_id")
    raised = applied[applied["respondent"] == "woman"].groupby("code")["pid"].nunique()
    woman_quotes = quotes[quotes["respondent"] == "woman"]
    assert set(woman_quotes["code"]) == set(raised[raised >= 3].index)
    assert (woman_quotes["respondents"] == woman_quotes["code"].map(raised)).all()
    assert 0 < len(raised[raised >= 3]) < len(raised)
    written = pd.read_csv(evaluation / "coding" / "quote_bank.csv")
    assert len(written) == len(quotes)


def test_cli_export_and_import(evaluation, fill):
    runner = CliRunner()
    result = runner.invoke(app, ["code", "export", str(evaluation), "--coders", "A,B",
                                 "--double", "0", "--seed", "2"])
    assert result.exit_code == 0, result.output
    n = len(_segments(evaluation))
    assert f"{n} segments, 0 double-coded" in result.output
    for coder in "AB":
        fill(evaluation / "coding" / "sheets" / f"coding_{coder}.xlsx", truth)
    result = runner.invoke(app, ["code", "import", str(evaluation), "--n-boot", "0"])
    assert result.exit_code == 0, result.output
    assert f"2 workbook(s) read: {n} segments coded by 2 coder(s)" in result.output
    assert (evaluation / "coding" / "theme_frequencies.csv").exists()
    assert not (evaluation / "coding" / "sheets" / "consensus.xlsx").exists()
    # a started workbook is never overwritten unasked
    result = runner.invoke(app, ["code", "export", str(evaluation), "--coders", "A,B"])
    assert isinstance(result.exception, Exception) and "already holds codings" in str(result.exception)


def test_an_untouched_workbook_is_known_by_its_hash_and_a_saved_one_is_read(evaluation, monkeypatch):
    from pceval.code import workflow

    export_sheets(evaluation, coders=["A", "B"], double_share=0.1, seed=3)
    sheets = evaluation / "coding" / "sheets"
    calls = []
    monkeypatch.setattr(workflow, "_holds_codings", lambda path: calls.append(path.name) or False)
    assert workflow._started(load_project(evaluation)) == []
    assert calls == []  # both workbooks are as written: no cell was read
    # a coder opens A's workbook and saves it without coding: its bytes change, so it is read
    wb = load_workbook(sheets / "coding_A.xlsx")
    wb.save(sheets / "coding_A.xlsx")
    assert workflow._started(load_project(evaluation)) == []
    assert calls == ["coding_A.xlsx"]
    monkeypatch.undo()
    # and a workbook with a code entered is started, whatever its hash
    wb = load_workbook(sheets / "coding_B.xlsx")
    wb["coding"]["E2"] = 1
    wb.save(sheets / "coding_B.xlsx")
    assert [p.name for p in workflow._started(load_project(evaluation))] == ["coding_B.xlsx"]
