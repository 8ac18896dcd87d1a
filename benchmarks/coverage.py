"""Coverage of the main effects' 95% intervals over many simulated evaluations.

    python benchmarks/coverage.py [--replicates 1000] [--women 600] [--services 6]
                                  [--first-seed 500000] [--jobs N] [--json PATH]

Each replicate simulates one evaluation with the generator's own stages
(:func:`pceval.synth.expected.simulate_sample`; no files, no build), computes pceval's intervals
as the analysis does, and checks them against the generator's expectations
(:mod:`pceval.synth.expected`):

reach (q01_reach)
    Share of identified women with a reached contact, Wilson interval
    (:func:`pceval.analyse.methods.proportions`).
felt-safety change (q08_safety)
    Mean change in the felt-safety score, baseline to follow-up, among women with both, paired
    t interval (:func:`pceval.analyse.methods.paired_change`).
equity gap in reach (q06_equity)
    For each cohort (recorded "yes" against "no"): the service-adjusted difference (logistic
    model with a fixed effect per service, marginally standardised, delta-method interval) and
    the unadjusted difference (Newcombe), from the ``equity_gap`` method.

Each effect is judged against its primary truth (marked ``*``), the expectation for the
sample's services and caseloads, and, for contrast, against other candidate truths: finer
conditional expectations (also legitimate targets; the intervals are then a little
conservative), and quantities the intervals do not estimate (a realised latent mean, the mean
over the generator's distribution of services), whose coverage shows why they are not the truth.

The table gives, per effect and truth: the replicates, the coverage with its Wilson 95%
interval, the mean error (estimate minus truth) with its standard error, and the ratio of the
intervals' implied standard error (half-width / 1.96, root mean square) to the standard
deviation of the errors (1 = calibrated; above 1 = conservative).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

COHORTS = ("atsi", "cald", "disability")
CODES = {1: "yes", 0: "no", -99: "-99", -98: "-98"}
Z = 1.959963984540054


def _replicate_batch(args: tuple[list[int], int, int]) -> list[dict]:
    """Simulate and analyse the replicates of one batch of seeds (runs in a worker process)."""
    seeds, n_services, n_women = args
    from pceval.analyse.families.models_equity import EquityParams, run_equity_gap
    from pceval.analyse.methods import paired_change, proportions
    from pceval.instrument import load_instrument
    from pceval.score.scales import score_scale
    from pceval.synth import expected as ex

    womens_survey = load_instrument("womens_survey")
    scale = womens_survey.scale("felt_safety")
    context = SimpleNamespace(
        params=EquityParams(cohorts=[{"column": c, "codes": ["yes"], "others": ["no"]} for c in COHORTS],
                            indicators=["reached"]),
        breakdowns={}, service="service_id", question_id="q06_equity",
        analysis=SimpleNamespace(id="reach", indicators=()))
    over_services = ex.reach_over_services(n_services)
    rows = []
    for seed in seeds:
        s = ex.simulate_sample(seed, n_services, n_women, womens_survey)
        n = len(s.women)
        contacts = np.bincount(s.events["woman"].to_numpy(),
                               weights=(s.events["outcome"] == "reached").to_numpy(), minlength=n)
        units = pd.DataFrame({"pid": np.arange(n), "service_id": s.women["service_id"].to_numpy(),
                              "reached": (contacts >= 1).astype("int64"),
                              **{c: s.women[c].map(CODES).to_numpy() for c in COHORTS}})
        reach = proportions(units, indicators={"reached": "reached"}, unit="pid", question="q01_reach").iloc[0]
        rows.append({"seed": seed, "effect": "reach", "n": reach["n"], "estimate": reach["estimate"],
                     "ci_low": reach["ci_low"], "ci_high": reach["ci_high"],
                     "truth:services*": ex.expected_reach(s.services, s.women),
                     "truth:women": ex.expected_reach(s.services, s.women, given="women"),
                     "truth:over_services": over_services})

        items = s.felt_safety.copy()
        items["felt_safety"] = score_scale(items, womens_survey, scale).to_numpy(dtype="float64", na_value=np.nan)
        change = paired_change(items, unit="woman", wave="wave", value="felt_safety", pre="baseline",
                               post="followup", question="q08_safety")
        change = change[change["statistic"] == "mean_change"].iloc[0]
        wide = items.pivot_table(index="woman", columns="wave", values="felt_safety", aggfunc="first")
        pairs = wide.index[wide["baseline"].notna() & wide["followup"].notna()].to_numpy()
        left = s.women["his_status"].isin(["dropped_out", "exited"]).to_numpy()
        effect = s.services["felt_safety_effect"].to_numpy()[s.women["service"].to_numpy()]
        rows.append({"seed": seed, "effect": "felt_safety_change", "n": change["n"],
                     "estimate": change["estimate"], "ci_low": change["ci_low"], "ci_high": change["ci_high"],
                     "truth:covariates*": ex.expected_felt_safety_change(s.services, s.women, pairs),
                     "truth:baseline_latent": ex.expected_felt_safety_change(
                         s.services, s.women, pairs, given="baseline_latent"),
                     "truth:realised_latent_change": float(
                         s.women["felt_safety_change_latent"].to_numpy()[pairs].mean()),
                     "truth:effect_all_women": float(np.mean(effect - 0.2 * left))})

        gaps = run_equity_gap(units, context)
        for cohort in COHORTS:
            truth = ex.expected_cohort_reach_difference(s.services, s.women, cohort)
            for statistic, label in (("adjusted_difference", "adjusted"), ("difference", "unadjusted")):
                row = gaps[(gaps["breakdown"] == cohort) & (gaps["statistic"] == statistic)].iloc[0]
                rows.append({"seed": seed, "effect": f"equity_{cohort}_{label}", "n": row["n"],
                             "estimate": row["estimate"], "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                             "truth:services*": truth})
    return rows


def _wilson(x: int, n: int) -> tuple[float, float]:
    from pceval.analyse.methods import wilson_interval

    return wilson_interval(x, n)


def summarise(rows: list[dict]) -> pd.DataFrame:
    """One line per effect and truth: coverage, bias and calibration."""
    frame = pd.DataFrame(rows)
    out = []
    for effect, part in frame.groupby("effect", sort=False):
        ok = part["ci_low"].notna() & part["ci_high"].notna()
        part = part[ok]
        truths = [c for c in part.columns if c.startswith("truth:") and part[c].notna().all()]
        implied = (part["ci_high"] - part["ci_low"]) / (2 * Z)
        for column in truths:
            error = part["estimate"] - part[column]
            hits = int(((part["ci_low"] <= part[column]) & (part[column] <= part["ci_high"])).sum())
            low, high = _wilson(hits, len(part))
            out.append({"effect": effect, "truth": column.removeprefix("truth:"), "replicates": len(part),
                        "coverage": hits / len(part), "cov_low": low, "cov_high": high,
                        "mean_error": error.mean(), "se_mean_error": error.std() / np.sqrt(len(part)),
                        "se_ratio": float(np.sqrt(np.mean(implied**2)) / error.std()),
                        "mean_n": part["n"].mean(), "dropped": int((~ok).sum())})
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--women", type=int, default=600)
    parser.add_argument("--services", type=int, default=6)
    parser.add_argument("--first-seed", type=int, default=500_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, default=None, help="also write the table (and settings) here")
    args = parser.parse_args(argv)

    seeds = list(range(args.first_seed, args.first_seed + args.replicates))
    batches = [(seeds[i::args.jobs * 4], args.services, args.women) for i in range(args.jobs * 4)]
    batches = [b for b in batches if b[0]]
    start = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            rows = [r for part in pool.map(_replicate_batch, batches) for r in part]
    else:
        rows = [r for b in batches for r in _replicate_batch(b)]
    seconds = time.perf_counter() - start
    table = summarise(rows)

    print(f"Coverage of 95% intervals: {args.replicates} replicates of {args.women} women in "
          f"{args.services} services (seeds {seeds[0]}-{seeds[-1]}), {seconds:.0f} s with {args.jobs} "
          f"process(es). * marks the truth each interval is judged against.")
    shown = table.assign(
        coverage=table["coverage"].map("{:.3f}".format),
        interval=[f"[{a:.3f}, {b:.3f}]" for a, b in zip(table["cov_low"], table["cov_high"], strict=True)],
        mean_error=[f"{m:+.4f} ({s:.4f})" for m, s in zip(table["mean_error"], table["se_mean_error"], strict=True)],
        se_ratio=table["se_ratio"].map("{:.3f}".format), mean_n=table["mean_n"].map("{:.0f}".format))
    print(shown[["effect", "truth", "replicates", "coverage", "interval", "mean_error", "se_ratio", "mean_n"]]
          .to_string(index=False))
    if args.json is not None:
        args.json.write_text(json.dumps({"settings": {k: (str(v) if isinstance(v, Path) else v)
                                                      for k, v in vars(args).items()},
                                         "seconds": seconds, "table": table.to_dict(orient="records")},
                                        indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
