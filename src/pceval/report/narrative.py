"""Plain-language sentences from result rows: the headlines of a report.

Each function reads published result rows and returns a :class:`Headline`: the sentence and
the rows its numbers came from (so a test can check that a number in the text is the number in
the table). Numbers are rounded for reading, never recomputed; a withheld value reads "n.p."
and the sentence says less rather than working it out. Words about direction ("rose",
"no clear change") follow the 95% interval, not the point estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from pceval.report.tables import NOT_PUBLISHED, fmt_int, fmt_num, fmt_pct, interval, pick

__all__ = [
    "COHORT_WORDS",
    "Headline",
    "equity_headline",
    "funnel_words",
    "his_status_headline",
    "published",
    "reach_headline",
    "safety_headline",
    "timeliness_headline",
]

#: How the report names the cohorts of the equity question.
COHORT_WORDS = {
    "atsi": "Aboriginal and Torres Strait Islander women",
    "cald": "culturally and linguistically diverse women",
    "disability": "women with disability",
    "lgbtiqa": "LGBTQIA+ people",
    "remoteness": "women in regional and remote areas",
    "same_worker": "women with the same worker throughout",
}


@dataclass(frozen=True)
class Headline:
    """A sentence and the result rows behind its numbers."""

    text: str
    rows: Mapping[str, pd.Series | None] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text


def published(row: pd.Series | None) -> bool:
    """True when a row exists, was not withheld and has an estimate."""
    return row is not None and not bool(row["suppressed"]) and not pd.isna(row["estimate"])


def _direction(row: pd.Series | None, rise: str, fall: str, flat: str) -> str:
    if not published(row) or pd.isna(row["ci_low"]):
        return flat
    if row["ci_low"] > 0:
        return rise
    if row["ci_high"] < 0:
        return fall
    return flat


def _signed(value) -> str:
    return fmt_num(value, signed=True)


def reach_headline(results: pd.DataFrame, question: str = "q01_reach") -> Headline:
    """Women identified, and the shares offered contact, reached and engaged.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> rows = result_frame([{"question": "q01_reach", "indicator": i, "statistic": "proportion",
    ...     "n": 200, "estimate": e, "ci_low": e - .05, "ci_high": e + .05}
    ...     for i, e in [("offered", .9), ("reached", .7), ("engaged", .5)]])
    >>> print(reach_headline(rows))
    Reach: of the 200 women identified as partners or ex-partners of men in the program, 90% were offered partner contact and 70% (95% CI 65% to 75%) were reached at least once; 50% engaged (two or more contacts).
    """
    offered, reached, engaged = (pick(results, question=question, indicator=i, statistic="proportion")
                                 for i in ("offered", "reached", "engaged"))
    if reached is None:
        return Headline("Reach: no published result.", {"reached": None})
    text = (f"Reach: of the {fmt_int(reached['n'])} women identified as partners or ex-partners of "
            f"men in the program, {interval(offered, fmt_pct).split(' (')[0]} were offered partner "
            f"contact and {interval(reached)} were reached at least once; "
            f"{interval(engaged).split(' (')[0]} engaged (two or more contacts).")
    return Headline(text, {"offered": offered, "reached": reached, "engaged": engaged})


def timeliness_headline(results: pd.DataFrame, question: str = "q03_timeliness",
                        name: str = "days_to_first_contact", horizon: int = 30) -> Headline:
    """Median days from his referral to her first contact, and the share contacted by a day."""
    median = pick(results, question=question, indicator=name, statistic="median")
    within = pick(results, question=question, indicator=f"{name}_within_{horizon}_days",
                  statistic="proportion")
    before = pick(results, question=question, indicator="contacted_before_group", statistic="proportion")
    if not published(median):
        first = "Timeliness: the median time to first contact is not published."
    else:
        days = f"{fmt_num(median['estimate'], 0)} days"
        if not pd.isna(median["ci_low"]) and not pd.isna(median["ci_high"]):
            days += f" (95% CI {fmt_num(median['ci_low'], 0)} to {fmt_num(median['ci_high'], 0)})"
        first = f"Timeliness: half the women were first contacted within {days} of his referral"
        first += (f", and {interval(within)} within {horizon} days." if published(within) else ".")
    if published(before):
        first += (f" {interval(before)} of women whose partner started group were contacted "
                  "before his first session.")
    return Headline(first, {"median": median, "within": within, "before": before})


def safety_headline(results: pd.DataFrame, question: str = "q08_safety",
                    outcome: str = "felt_safety") -> Headline:
    """Mean change in felt safety between baseline and follow-up, with its interval."""
    change = pick(results, question=question, indicator=outcome, statistic="mean_change")
    if not published(change):
        return Headline("Felt safety: the change between baseline and follow-up is not published.",
                        {"change": change})
    words = _direction(change, "rose", "fell", "showed no clear change")
    text = (f"Felt safety: among the {fmt_int(change['n'])} women who answered at baseline and at "
            f"follow-up, felt safety {words}: a mean change of {interval(change, _signed)} on a "
            "scale from 1 to 5.")
    return Headline(text, {"change": change})


def his_status_headline(results: pd.DataFrame, question: str = "q10_his_status",
                        outcome: str = "felt_safety", column: str = "he_left",
                        wave: str = "followup vs baseline") -> Headline:
    """Whether her felt safety still rose when he dropped out or was exited (mixed model)."""
    rows = results[(results["question"] == question) & (results["indicator"] == outcome)
                   & (results["breakdown"] == "term")]

    def term(group: str, statistic: str) -> pd.Series | None:
        found = rows[(rows["group"] == group) & (rows["statistic"] == statistic)]
        return None if found.empty else found.iloc[0]

    left = term(f"{wave} | {column}=True", "coefficient")
    gap = term(f"{wave} | {column}=True vs False", "difference")
    if not published(left):
        return Headline("When he left the program: the change in her felt safety is not published.",
                        {"left": left, "gap": gap})
    words = _direction(left, "still rose", "fell", "showed no clear change")
    text = (f"When he dropped out or was exited, her felt safety {words} from baseline to "
            f"follow-up ({interval(left, _signed)} on the 1 to 5 scale, adjusted for risk tier)")
    if published(gap):
        compared = _direction(gap, "more than", "less than", "about as much as")
        text += (f", {compared} when he stayed in the program (difference "
                 f"{interval(gap, _signed)}).")
    else:
        text += "."
    return Headline(text, {"left": left, "gap": gap})


def equity_headline(results: pd.DataFrame, question: str = "q06_equity", indicator: str = "reached",
                    cohort_words: Mapping[str, str] | None = None) -> Headline:
    """Gaps in reach by cohort, adjusted for service: those whose interval excludes no gap."""
    words = dict(COHORT_WORDS, **(cohort_words or {}))
    rows = results[(results["question"] == question) & (results["indicator"] == indicator)
                   & (results["statistic"] == "adjusted_difference")]
    gaps, unclear, withheld, used = [], [], [], {}
    for row in rows.itertuples(index=False):
        series = pd.Series(row._asdict())
        name = words.get(str(row.breakdown), str(row.breakdown).replace("_", " "))
        used[str(row.breakdown)] = series
        if not published(series):
            withheld.append(name)
        elif _direction(series, "up", "down", "") == "":
            unclear.append(name)
        else:
            side = "lower" if row.estimate < 0 else "higher"
            gaps.append(f"{side} for {name} ({interval(series, _points)})")
    if not used:
        return Headline("Equity: no published result.", {})
    parts = []
    if gaps:
        parts.append("once services are allowed for, reach was " + "; ".join(gaps))
    if unclear:
        parts.append("there was no clear gap for " + _join(unclear))
    if withheld:
        parts.append(f"the gap for {_join(withheld)} is not published ({NOT_PUBLISHED})")
    text = "Equity: " + "; ".join(parts) + "."
    return Headline(text, used)


def _points(value) -> str:
    return NOT_PUBLISHED if pd.isna(value) else f"{100 * float(value):+.0f} points"


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def funnel_words(note: str | None) -> str:
    """Plain words for a funnel flag (``funnel: outside 99.8% limits (above)``).

    Examples
    --------
    >>> funnel_words("funnel: within 95% limits")
    'within the range expected by chance'
    >>> funnel_words("funnel: outside 99.8% limits (above)")
    'above the 99.8% limit: higher than chance alone would explain'
    """
    if not note or pd.isna(note) or "funnel:" not in str(note):
        return "not published"
    flag = str(note).split("funnel:", 1)[1].strip()
    side = "above" if "(above)" in flag else "below"
    if flag.startswith("within"):
        return "within the range expected by chance"
    if flag.startswith("between"):
        return (f"{side} the 95% limit but within the 99.8% limit: worth a look, though chance "
                "could explain it")
    return (f"{side} the 99.8% limit: " + ("higher" if side == "above" else "lower")
            + " than chance alone would explain")
