"""Write a ready synthetic evaluation project: configuration, key, raw exports and truth.

```
<root>/
  pceval.yml                         services, waves, the four sources, privacy settings
  private/pseudonym.key              derived from the seed (synthetic projects only), mode 0600
  raw/womens_survey_redcap.csv       REDCap record export
  raw/contact_record_kobo.csv        KoboToolbox CSV export
  raw/worker_survey_qualtrics.csv    Qualtrics CSV export
  raw/facilitator_survey_qualtrics.csv
  truth/ground_truth.json            generating parameters, realised values, injected faults
  truth/canaries.json                every identifier placed in raw/, with file, row and field
  truth/women.csv                    one row per woman: the simulated truth (identifiable)
```

The same seed gives byte-identical files: every random draw comes from streams derived from
the seed, nothing reads the clock, and every output is sorted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pceval.errors import ConfigError
from pceval.instrument import load_instrument
from pceval.instrument.model import Instrument, Role
from pceval.io import write_csv, write_json
from pceval.project import Privacy, ProjectConfig, Service, Source, write_config
from pceval.synth import canaries as canary_mod
from pceval.synth import exports, messiness
from pceval.synth.common import META, code_range, day
from pceval.synth.population import CONSTRUCTS, EXPORT_DATE, PERIOD_START, Simulation, simulate

INSTRUMENTS = ("womens_survey", "contact_record", "worker_survey", "facilitator_survey")
SOURCES = {  # instrument -> (raw file, platform)
    "womens_survey": ("raw/womens_survey_redcap.csv", "redcap"),
    "contact_record": ("raw/contact_record_kobo.csv", "kobo"),
    "worker_survey": ("raw/worker_survey_qualtrics.csv", "qualtrics"),
    "facilitator_survey": ("raw/facilitator_survey_qualtrics.csv", "qualtrics"),
}
REDCAP_MISSING_CODES = {"UNK": "dont_know", "NASK": "not_applicable", "ASKU": "prefer_not_to_say"}
KEY_FILE = "private/pseudonym.key"
QUARANTINED = ("duplicate_submission", "no_case_key", "survey_preview", "no_service")
"""Kinds of row the cleaning stage must quarantine (every other fault is a cell to flag)."""
KEY_LABEL = b"pceval synthetic evaluation key\x1f"


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate_evaluation` wrote.

    Attributes
    ----------
    root : Path
        The evaluation project folder.
    paths : dict
        Role -> path: ``config``, ``key``, ``ground_truth``, ``canaries``, ``women`` and each raw
        file by its path relative to ``root`` (``raw/contact_record_kobo.csv``).
    counts : dict
        Raw file (relative path) -> data rows written; plus ``women``, ``services`` and
        ``canaries``.
    seed : int
    """

    root: Path
    paths: dict[str, Path]
    counts: dict[str, int]
    seed: int


def synthetic_key(seed: int) -> str:
    """The pseudonym key of a synthetic project: derived from the seed, so rebuilds match.

    Real projects use a random key (:func:`pceval.privacy.new_key`); a key derived from a
    public seed protects nothing and is only for synthetic data.
    """
    return hashlib.sha256(KEY_LABEL + str(int(seed)).encode("ascii")).hexdigest()


def _write_key(root: Path, seed: int) -> Path:
    from pceval.privacy.pseudonym import write_key_file

    path = root / KEY_FILE
    key = synthetic_key(seed)
    if path.exists():
        if path.read_text(encoding="ascii").strip() != key:
            raise ConfigError("a different pseudonym key already exists here", file=path,
                              fix="generate into an empty folder, or use the seed it was made with")
        return path
    return write_key_file(path, key=key)


# --- ground truth -------------------------------------------------------------------------------

def _share(num: float, den: float) -> float | None:
    return round(float(num) / float(den), 6) if den else None


def _mean(values: pd.Series) -> float | None:
    values = values.dropna()
    return round(float(values.mean()), 6) if len(values) else None


def scale_scores(frame: pd.DataFrame, inst: Instrument, scale_id: str) -> pd.Series:
    """A scale's score per row as the instrument declares it (reverse keying, method, minimum)."""
    scale = inst.scale(scale_id)
    values = []
    for item_id in scale.items:
        v = pd.to_numeric(frame[item_id], errors="coerce").astype(np.float64)
        missing = {float(m.code) for m in inst.missing_of(item_id)}
        v = v.where(~v.isin(missing))
        if item_id in scale.reverse:
            lo, hi = code_range(inst, item_id)
            v = lo + hi - v
        values.append(v)
    table = pd.concat(values, axis=1)
    valid = table.notna().sum(axis=1)
    need = scale.min_valid or len(scale.items)
    if scale.method == "sum":
        score = table.sum(axis=1)
    elif scale.method == "prorated_sum":
        score = table.mean(axis=1) * len(scale.items)
    else:
        score = table.mean(axis=1)
    return (score * scale.multiplier).where(valid >= need)


def _felt_safety(survey: pd.DataFrame, women: pd.DataFrame, inst: Instrument) -> pd.DataFrame:
    """Per woman: felt-safety score at baseline and follow-up (pre-messiness answers)."""
    scale_id = CONSTRUCTS["womens_survey"]["scales"]["felt_safety"]
    score = scale_scores(survey, inst, scale_id)
    table = pd.DataFrame({"woman": survey[META + "woman"].to_numpy(), "wave": survey[META + "wave"].to_numpy(),
                          "score": score.to_numpy()})
    wide = table.pivot_table(index="woman", columns="wave", values="score", aggfunc="first")
    return wide.reindex(np.arange(len(women)))


def _realised(women: pd.DataFrame, felt: pd.DataFrame, survey: pd.DataFrame, consent: str,
              gate: str, yes: str) -> dict:
    n = len(women)
    out = {"identified": n}
    for flag in ("offered", "reached", "engaged", "declined"):
        count = int(women[flag].sum())
        out[flag] = count
        out[f"{flag}_share"] = _share(count, n)
    out["expected_offered_probability"] = _mean(women["p_offered"])
    out["expected_reached_probability"] = _mean(women["p_reached"])
    out["reached_contacts_mean_among_reached"] = _mean(women.loc[women["reached"], "reached_contacts"])
    base = felt.get("baseline", pd.Series(np.nan, index=felt.index))
    follow = felt.get("followup", pd.Series(np.nan, index=felt.index))
    exit_ = felt.get("exit", pd.Series(np.nan, index=felt.index))
    both = base.notna() & follow.notna()
    out["felt_safety_baseline_mean"] = _mean(base)
    out["felt_safety_baseline_n"] = int(base.notna().sum())
    out["felt_safety_exit_mean"] = _mean(exit_)
    out["felt_safety_followup_mean"] = _mean(follow)
    out["felt_safety_followup_n"] = int(follow.notna().sum())
    out["felt_safety_change"] = _mean((follow - base)[both])
    out["felt_safety_change_n"] = int(both.sum())
    out["felt_safety_change_latent_mean"] = _mean(women.loc[both.to_numpy(), "felt_safety_change_latent"])
    consented = women["baseline_consented"]
    out["felt_safety_change_latent_all_consented"] = _mean(women.loc[consented, "felt_safety_change_latent"])
    # response and attrition
    responded = {w: set(survey.loc[(survey[META + "wave"] == w) & (survey[gate] == yes), META + "woman"])
                 for w in ("baseline", "exit", "followup")}
    reached = int(women["reached"].sum())
    n_base = int(women["baseline_responded"].sum())
    n_consented = int(consented.sum())
    ids = set(np.flatnonzero(consented.to_numpy()))
    n_exit = len(ids & responded["exit"])
    n_follow = len(ids & responded["followup"])
    out["survey"] = {
        "baseline_responses": n_base, "baseline_response_share_of_reached": _share(n_base, reached),
        "baseline_consented": n_consented,
        "exit_responses": n_exit, "exit_retention": _share(n_exit, n_consented),
        "exit_attrition": _share(n_consented - n_exit, n_consented),
        "exit_due": int(women["exit_survey_due"].sum()),
        "followup_responses": n_follow, "followup_retention": _share(n_follow, n_consented),
        "followup_attrition": _share(n_consented - n_follow, n_consented),
        "followup_due": int(women["followup_due"].sum()),
        "followup_attrition_among_due": _share(int(women["followup_due"].sum()) - n_follow,
                                               int(women["followup_due"].sum())),
    }
    return out


def ground_truth(sim: Simulation, seed: int) -> dict:
    """Generating parameters and the values realised on the simulated data (before faults)."""
    inst = sim.instruments["womens_survey"]
    survey = sim.answers["womens_survey"]
    women = sim.women.copy()
    gate = inst.role_item(Role.SAFETY_GATE).id
    consent = inst.role_item(Role.CONSENT).id
    yes = str(CONSTRUCTS["womens_survey"]["codes"]["yes"])
    base_rows = survey[survey[META + "wave"] == "baseline"]
    women["baseline_responded"] = False
    women.loc[base_rows[META + "woman"].to_numpy(), "baseline_responded"] = True
    women["baseline_consented"] = False
    ok = base_rows[(base_rows[gate] == yes) & (base_rows[consent] == yes)]
    women.loc[ok[META + "woman"].to_numpy(), "baseline_consented"] = True
    felt = _felt_safety(survey, women, inst)

    def realised(mask: np.ndarray) -> dict:
        keep = set(np.flatnonzero(mask))
        sub_survey = survey[survey[META + "woman"].isin(keep)]
        return _realised(women[mask], felt[mask], sub_survey, consent, gate, yes)

    services = sim.services
    parameters = dict(sim.parameters)
    parameters["services"] = {
        row.service_id: {
            "name": row.name, "delivery_model": row.delivery_model, "share": round(float(row.share), 6),
            "women": int(row.women), "reach_probability": round(float(row.reach_probability), 6),
            "stops_contact_at_his_exit": bool(row.stops_at_exit),
            "not_offered_probability": round(float(row.not_offered_probability), 6),
            "first_attempt_delay_days": round(float(row.first_attempt_delay_days), 3),
            "contact_interval_days": round(float(row.contact_interval_days), 3),
            "post_exit_days": round(float(row.post_exit_days), 3),
            "felt_safety_effect": round(float(row.felt_safety_effect), 6),
            "workers": int(row.workers), "facilitators": int(row.facilitators),
        }
        for row in services.itertuples(index=False)
    }
    left = women["his_status"].isin(["dropped_out", "exited"]).to_numpy()
    fs = sim.parameters["felt_safety"]
    service_effect = services["felt_safety_effect"].to_numpy()[women["service"].to_numpy()]
    parameters["felt_safety_true_effect"] = {
        "for_women_whose_partner_stayed": fs["effect"],
        "when_he_dropped_out_or_was_exited": round(fs["effect"] - fs["dropout_reduction"], 6),
        "population_mean": round(float(np.mean(service_effect - fs["dropout_reduction"] * left)), 6),
    }
    by_service = {sid: realised((women["service_id"] == sid).to_numpy()) for sid in services["service_id"]}
    model = services["delivery_model"].to_numpy()[women["service"].to_numpy()]
    by_model = {m: realised(model == m) for m in sorted(set(model))}
    status = women["his_status"].to_numpy()
    by_status = {s: realised(status == s) for s in sorted(set(status))}
    cohorts = {}
    for name in ("atsi", "cald", "disability"):
        cohorts[name] = {"recorded_yes": realised(women[name].to_numpy() == 1),
                         "recorded_no": realised(women[name].to_numpy() == 0)}
    return {
        "format": 1,
        "seed": int(seed),
        "services": len(services),
        "women": len(women),
        "definitions": {
            "identified": "women with a case in the contact record",
            "offered": "at least one attempt or contact",
            "reached": "at least one event with outcome 'reached'",
            "engaged": "at least two reached contacts and never declined",
            "felt_safety_change": ("mean of follow-up minus baseline felt-safety score among women "
                                   "with both (score = mean of items after reverse keying, "
                                   "as the instrument's scale declares)"),
            "exit_retention": "women who consented at baseline and answered at exit (past the safety check)",
        },
        "parameters": parameters,
        "realised": {
            "overall": realised(np.ones(len(women), dtype=bool)),
            "by_service": by_service,
            "by_delivery_model": by_model,
            "by_his_status": by_status,
            "by_cohort": cohorts,
        },
    }


# --- the whole project ---------------------------------------------------------------------------

def _config(root: Path, sim: Simulation, instruments: dict[str, Instrument]) -> ProjectConfig:
    waves = instruments["womens_survey"].waves
    services = tuple(Service(id=r.service_id, name=r.name, delivery_model=r.delivery_model)
                     for r in sim.services.itertuples(index=False))
    sources = []
    for inst_id in INSTRUMENTS:
        file, platform = SOURCES[inst_id]
        extra = {}
        if platform == "redcap":
            extra = {"events": {f"{w}_arm_1": w for w in waves}, "missing_data_codes": REDCAP_MISSING_CODES}
        sources.append(Source(file=file, instrument=inst_id, platform=platform, **extra))
    return ProjectConfig(kind="evaluation", schema_version=1,
                         name=f"Synthetic partner contact evaluation ({len(services)} services)",
                         services=services, waves=waves, sources=tuple(sources),
                         privacy=Privacy(key_file=KEY_FILE))


_HEADER = """\
# A synthetic pceval evaluation: every person, number and answer in raw/ is invented.
# truth/ holds what the generator did (ground truth and the identifiers it placed), for tests.
# The pseudonym key in private/ is derived from the seed so rebuilds match; a real evaluation
# uses a random key (`pceval key new`)."""


def generate_evaluation(root: str | Path, *, seed: int = 20260101, services: int = 8,
                        women: int = 1500,
                        free_text_identifiers: float | None = None) -> SynthSummary:
    """Write a ready synthetic evaluation project with known ground truth.

    Parameters
    ----------
    root : path
        Folder to write (created if needed). Files of an earlier run with the same seed are
        replaced; a pseudonym key from another seed is refused.
    seed : int
        The same seed gives byte-identical files.
    services, women : int
        Number of services and of women identified (across services).
    free_text_identifiers : float, optional
        Share of free-text answers (case notes and every survey's comments) that carry an
        identifier. By default about one in twelve, as in real data; a leak test raises it to
        plant identifiers in every instrument's free text (``truth/canaries.json`` lists them
        all, whatever the share).

    Returns
    -------
    SynthSummary

    Examples
    --------
    >>> import tempfile, pathlib
    >>> summary = generate_evaluation(pathlib.Path(tempfile.mkdtemp()) / "ev", women=60, services=3)
    >>> sorted(summary.counts)[:2], summary.counts["women"]
    (['canaries', 'raw/contact_record_kobo.csv'], 60)
    """
    if services < 1 or women < services:
        raise ValueError(f"need at least one service and one woman per service "
                         f"(got {services} services, {women} women)")
    if free_text_identifiers is not None and not 0.0 <= free_text_identifiers <= 1.0:
        raise ValueError("free_text_identifiers is a share from 0 to 1, "
                         f"got {free_text_identifiers}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    key_path = _write_key(root, seed)
    instruments = {i: load_instrument(i) for i in INSTRUMENTS}
    sim = simulate(seed, services, women, instruments, free_text_identifiers=free_text_identifiers)
    rng_meta = np.random.default_rng([seed, 1])
    rng_faults = np.random.default_rng([seed, 2])
    period = (day(PERIOD_START), day(EXPORT_DATE))
    config = _config(root, sim, instruments)
    sources = {s.instrument: s for s in config.sources}

    written: dict[str, exports.Written] = {}
    faults: dict[str, messiness.Injected] = {}
    before: dict[str, int] = {}
    # women's survey: REDCap
    inst = instruments["womens_survey"]
    frame = exports.assign_redcap_meta(sim.answers[inst.id], sources[inst.id].events)
    before[inst.id] = len(frame)
    frame, faults[inst.id] = messiness.redcap(
        rng_faults, frame, inst, messiness.PLATFORM_MISSING_RATES,
        str(CONSTRUCTS["womens_survey"]["codes"]["yes"]), period)
    written[inst.id] = exports.write_redcap(root / sources[inst.id].file, frame, inst,
                                            list(sources[inst.id].events))
    # contact record: Kobo
    inst = instruments["contact_record"]
    spec = CONSTRUCTS["contact_record"]
    frame = exports.assign_kobo_meta(rng_meta, sim.answers[inst.id], spec["items"]["worker"])
    before[inst.id] = len(frame)
    outcome_codes = spec["codes"]["outcome"]
    attempt_codes = {outcome_codes[k] for k in ("no_answer", "message_left", "unsafe")}
    frame, faults[inst.id] = messiness.kobo(rng_faults, frame, inst, spec["items"]["outcome"], attempt_codes,
                                            spec["codes"]["unknown_outcome"], exports.KOBO_OLD_FORM_VERSION,
                                            period)
    written[inst.id] = exports.write_kobo(root / sources[inst.id].file, frame, inst, rng_meta)
    # worker and facilitator surveys: Qualtrics
    for inst_id in ("worker_survey", "facilitator_survey"):
        inst = instruments[inst_id]
        frame = exports.assign_qualtrics_meta(rng_meta, sim.answers[inst_id])
        before[inst_id] = len(frame)
        frame, faults[inst_id] = messiness.qualtrics(rng_faults, frame, inst, period)
        written[inst_id] = exports.write_qualtrics(root / sources[inst_id].file, frame, inst)

    # canaries
    entries = pd.concat([canary_mod.collect(written[i], sources[i].file, instruments[i],
                                            CONSTRUCTS[i]["identifiers"]) for i in INSTRUMENTS],
                        ignore_index=True)
    truth_dir = root / "truth"
    canary_path = canary_mod.write_canaries(truth_dir / "canaries.json", entries)

    # ground truth
    truth = ground_truth(sim, seed)
    files = {}
    for inst_id in INSTRUMENTS:
        w = written[inst_id]
        log = faults[inst_id]
        row_of = dict(zip(w.frame["_index_in"].to_numpy().tolist(), w.frame["_row"].to_numpy().tolist()))
        # rows that name no service (she or he declined consent, so the service was not asked)
        # cannot be attributed either; they are simulated, not injected, but end in quarantine
        service = instruments[inst_id].role_item(Role.SERVICE)
        flagged = {i for i, _, k in log.cells if k in QUARANTINED}
        if service is not None:
            blank = w.frame[service.id].isna().to_numpy() & ~w.frame["_index_in"].isin(flagged).to_numpy()
            for i in w.frame.loc[blank, "_index_in"]:
                log.cells.append((int(i), service.id, "no_service"))
            if blank.any():
                log.counts["no_service"] = int(blank.sum())
        quarantined = sum(log.counts.get(k, 0) for k in QUARANTINED)
        files[sources[inst_id].file] = {
            "instrument": inst_id,
            "platform": w.platform,
            "header_rows": exports.HEADER_ROWS[w.platform],
            "delimiter": exports.DELIMITERS[w.platform],
            "rows": w.rows,
            "rows_simulated": before[inst_id],
            "rows_expected_quarantined": quarantined,
            "rows_expected_kept": w.rows - quarantined,
            "injected": dict(sorted(log.counts.items())),
            "missing_codes_injected": dict(sorted(log.missing_codes.items())),
            "missing_codes_in_file": messiness.count_missing_codes(w.frame, instruments[inst_id]),
            "platform_missing_codes": dict(sorted(log.platform_codes.items())),
            "faults": sorted(({"row": int(row_of[i]), "field": f, "fault": k} for i, f, k in log.cells),
                             key=lambda d: (d["row"], d["field"], d["fault"])),
        }
    truth["files"] = files
    truth["canaries"] = {"count": len(entries),
                         "by_kind": {str(k): int(v) for k, v in entries["kind"].value_counts().sort_index().items()}}
    truth_path = write_json(truth_dir / "ground_truth.json", truth)
    women_table = _women_table(sim)
    women_path = write_csv(truth_dir / "women.csv", women_table)
    config_path = write_config(root, config, header=_HEADER)

    paths = {"config": config_path, "key": key_path, "ground_truth": truth_path,
             "canaries": canary_path, "women": women_path}
    counts = {"women": len(sim.women), "services": len(sim.services), "canaries": len(entries)}
    for inst_id in INSTRUMENTS:
        paths[sources[inst_id].file] = written[inst_id].path
        counts[sources[inst_id].file] = written[inst_id].rows
    return SynthSummary(root=root, paths=paths, counts=counts, seed=int(seed))


def _women_table(sim: Simulation) -> pd.DataFrame:
    """One row per woman: the simulated truth a test may check analyses against.

    It names her and him (the invented names of the raw files), so it stays with ``raw/``.
    """
    w = sim.women
    out = pd.DataFrame({
        "case_id": w["case_id"], "service_id": w["service_id"],
        "her_name": w["her_name"], "his_name": w["his_name"], "path": w["path"],
        "offered": w["offered"].astype(int), "reached": w["reached"].astype(int),
        "engaged": w["engaged"].astype(int), "declined": w["declined"].astype(int),
        "reached_contacts": w["reached_contacts"], "his_status": w["his_status"],
        "risk_tier": np.asarray(CONSTRUCTS["contact_record"]["codes"]["risk_tier"], dtype=object)[w["risk"].to_numpy()],
        "atsi": w["atsi"], "cald": w["cald"], "disability": w["disability"],
        "p_offered": w["p_offered"].round(6), "p_reached": w["p_reached"].round(6),
        "felt_safety_baseline_latent": w["felt_safety_baseline_latent"].round(6),
        "felt_safety_change_latent": w["felt_safety_change_latent"].round(6),
    })
    return out.sort_values("case_id", kind="stable").reset_index(drop=True)


__all__ = ["SynthSummary", "generate_evaluation", "ground_truth", "scale_scores", "synthetic_key"]

