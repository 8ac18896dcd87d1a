"""The simulated evaluation: services, women, partner contact, surveys, with its ground truth.

The story the numbers tell follows the source study (Chung et al. 2020) and is meant to be
recoverable by the analyses:

Services
    Services differ in size (Dirichlet shares, and always one small service holding about
    1.5% of women, so that the small-cell rules are exercised), in delivery model (in-house or
    partner agency), in reach (generating probabilities spread evenly from 0.55 to 0.90 and
    shuffled), in how soon they first try to call, in how often they keep contact, and in
    whether partner contact **stops when he drops out or is exited** (about half of services,
    as the research found) or continues for a while after he leaves.

Women and the men in the program
    He is referred between 2024-07-01 and 2026-02-28 (the evaluation runs to 2026-06-30, the
    export date). She is identified within ten days. About 82% of men start group two to ten
    weeks after referral; of starters about 55% complete a 20-week program, 32% drop out and
    13% are exited (more often at serious risk). Status and dates are as at the export date
    (attending if his exit would come later, referred if he has not started). Her risk tier
    (lower/elevated/serious), age group and cohort (Aboriginal and Torres Strait Islander
    about 8%, culturally and linguistically diverse about 20%, disability about 10%, with
    some "prefer not to say" and "not known" codes) are recorded.

Partner contact (the record)
    A few women are never offered contact. The rest get calls: each attempt succeeds with a
    probability that is lower for Aboriginal and Torres Strait Islander, CALD women and women
    with disability (more attempts: an equity gap), and their reach is lower too. Some women
    are never reached (no answer after the protocol's eight attempts, or a wrong number), some
    decline at first contact, and a few decline later. After first contact, contacts continue
    at a service-specific interval until she disengages, the case closes, or - in services
    that stop at his exit - he drops out or is exited. Each contact has a mode, minutes,
    content, a worker (mostly the same one), and sometimes a case note.

Women's survey
    Of women reached, about 70% answer at baseline; a few answer "No" to the safety check
    (everything after it blank) or decline consent. Exit and follow-up waves (three months
    after exit) are answered by about 60% and 55% of baseline respondents, with attrition
    missing at random given baseline felt safety (women who felt less safe are less likely to
    answer later). Felt safety is a latent score (baseline mean about 2.8 on 1-5) that rises by
    a service-varying effect (mean 0.45, SD 0.15 between services, 0.2 less when he dropped
    out or was exited); the four items are the latent plus noise, rounded and clipped, with the
    reverse-keyed item reversed exactly as the instrument's scale declares. Other answers are
    plausible given the latent (violence in the past 3 months falls as safety rises).

Worker and facilitator surveys
    Two to six partner contact workers and three to eight facilitators per service answer
    once; their answers are consistent with their service (employer and delivery model,
    what happens at his exit, caseload).

Construct-to-instrument mapping
    Everything the simulation models as a specific construct is declared in :data:`CONSTRUCTS`
    (scale ids, item ids, choice codes); :func:`check_constructs` verifies it against the
    instruments. Every other item is looked up by its role or filled generically, so items
    added to an instrument are generated with no code change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pceval.errors import InstrumentError
from pceval.instrument.model import Instrument, Role, multi_column
from pceval.synth import identities as ids
from pceval.synth import text as texts
from pceval.synth.common import (
    CANARY,
    CANARY_KIND,
    META,
    apply_visibility,
    codes,
    day,
    generic_values,
    iso,
    likert_from_latent,
    pick,
    text,
)

# --- the one table of simulated constructs ------------------------------------------------

CONSTRUCTS: dict[str, dict] = {
    "womens_survey": {
        "scales": {"felt_safety": "felt_safety", "space_for_action": "space_for_action",
                   "experience": "experience"},
        "items": {"violence": "violence_3m", "life_satisfaction": "life_satisfaction",
                  "children": "children_n", "relationship": "relationship",
                  "age_group": "age_group", "help_received": "help_received",
                  "told_limits": "told_limits", "his_change": "his_change", "misuse": "misuse",
                  "comments": "comments"},
        # identifier item -> which of her identifiers it holds
        "identifiers": {"first_name": "her_given", "phone": "her_phone", "email": "her_email",
                        "street_address": "her_address"},
        "codes": {"yes": 1, "no": 0, "help_none": 6,
                  # relationship choices: together, separated, on and off
                  "relationship": (1, 2, 3)},
    },
    "contact_record": {
        "items": {"delivery_model": "delivery_model", "safe_contact": "safe_contact",
                  "referral_date": "referral_date", "group_start": "group_start_date",
                  "his_status": "his_status", "his_exit": "his_exit_date",
                  "risk_tier": "risk_tier", "age_group": "age_group", "atsi": "atsi",
                  "cald": "cald", "disability": "disability", "case_close": "case_close_date",
                  "event_type": "event_type", "mode": "mode", "outcome": "outcome",
                  "minutes": "minutes", "content": "content", "worker": "worker_code",
                  "notes": "notes"},
        "identifiers": {"woman_name": "her_name", "woman_phone": "her_phone", "man_name": "his_name"},
        "codes": {
            "yes": "yes", "no": "no",
            "delivery_model": {"in_house": "in_house", "partner_agency": "partner_agency"},
            "event_type": {"identified": "identified", "attempt": "attempt", "contact": "contact"},
            "outcome": {"reached": "reached", "no_answer": "no_answer",
                        "message_left": "message_left", "wrong_number": "wrong_number",
                        "unsafe": "unsafe", "declined": "declined"},
            "his_status": {"referred": "referred", "attending": "attending",
                           "completed": "completed", "dropped_out": "dropped_out",
                           "exited": "exited"},
            "risk_tier": ("low", "elevated", "serious"),
            "mode": ("phone", "sms", "email", "in_person", "video"),
            "content": ("program_info", "risk_review", "safety_plan", "referral", "status_notice"),
            # a code from an older version of the form, not in the current choice list
            "unknown_outcome": "callback",
        },
    },
    "worker_survey": {
        "items": {"employer": "employer", "caseload": "caseload", "funded_days": "funded_days",
                  "exit_practice": "exit_practice", "comments": "comments"},
        "identifiers": {"worker_name": "name", "worker_email": "email"},
        "codes": {"yes": 1, "no": 0, "employer": {"in_house": 1, "partner_agency": 2},
                  # continues as long as she wants, for a set time, stops when he leaves
                  "exit_practice": (1, 2, 3)},
    },
    "facilitator_survey": {
        "items": {"comments": "comments"},
        "identifiers": {"fac_name": "name", "fac_email": "email"},
        "codes": {"yes": 1, "no": 0},
    },
}
"""Simulated constructs -> the scale ids, item ids and choice codes that record them."""

# --- generating parameters ------------------------------------------------------------------

PERIOD_START = "2024-07-01"
REFERRAL_END = "2026-02-28"
EXPORT_DATE = "2026-06-30"
SMALL_SERVICE_SHARE = 0.015
REACH_RANGE = (0.55, 0.90)
IN_HOUSE_SHARE = 0.6
STOPS_AT_EXIT_SHARE = 0.5
NOT_OFFERED_RANGE = (0.02, 0.08)
FIRST_ATTEMPT_DELAY_RANGE = (3.0, 18.0)   # mean days from identification to first attempt
CONTACT_INTERVAL_RANGE = (14.0, 35.0)     # mean days between contacts
POST_EXIT_DAYS_RANGE = (30.0, 120.0)      # contact after he leaves, where it continues
MAX_ATTEMPTS = 8                          # the protocol's attempts before "unreachable"
MAX_FOLLOW_ON = 30
ATTEMPT_SUCCESS = 0.45
COHORT = {  # prevalence, multiplier on reach, multiplier on per-attempt success
    "atsi": (0.08, 0.85, 0.80),
    "cald": (0.20, 0.90, 0.70),
    "disability": (0.10, 0.92, 0.85),
}
COHORT_PREFER_NOT = 0.015
COHORT_NOT_KNOWN = 0.025
AGE_SHARES = (0.10, 0.32, 0.33, 0.17, 0.08)
RISK_SHARES = (0.35, 0.45, 0.20)
PROGRAM = {"start": 0.82, "length_days": 140.0, "completed": 0.55, "dropped_out": 0.32,
           "exited": 0.13}
UNREACHED_SPLIT = {"wrong_number": 0.20, "declined": 0.25, "unreachable": 0.55}
LATE_DECLINE = 0.06
FOLLOW_ON_REACHED = 0.82
DISENGAGE_MEAN_DAYS = 240.0
NOTE_SHARE = 0.18
# Share of free-text answers (case notes, every survey's comments) that carry an identifier;
# staff comments too: the synthetic evaluations tests rely on were generated with this share,
# and another would change their bytes.
FREE_TEXT_IDENTIFIER_SHARE = 0.08
SURVEY = {"baseline": 0.70, "exit": 0.70, "followup": 0.66, "attrition_slope": 0.5,
          "gate_no": 0.02, "consent_no": 0.02, "comment": 0.22}
FELT_SAFETY = {"baseline_mean": 2.8, "baseline_sd": 0.65, "effect": 0.45, "service_sd": 0.15,
               "dropout_reduction": 0.2, "individual_sd": 0.45, "exit_fraction": 0.6,
               "item_noise_sd": 0.55}
WORKERS_RANGE = (2, 6)
FACILITATORS_RANGE = (3, 8)


# --- checks ------------------------------------------------------------------------------------

def check_constructs(instruments: dict[str, Instrument]) -> None:
    """Fail clearly if an instrument no longer has what :data:`CONSTRUCTS` maps to."""
    for inst_id, spec in CONSTRUCTS.items():
        inst = instruments[inst_id]
        for scale_id in spec.get("scales", {}).values():
            try:
                inst.scale(scale_id)
            except KeyError:
                raise InstrumentError(f"the generator needs scale {scale_id!r}", field=inst_id) from None
        for item_id in [*spec.get("items", {}).values(), *spec.get("identifiers", {})]:
            try:
                inst.item(item_id)
            except KeyError:
                raise InstrumentError(f"the generator needs item {item_id!r}", field=inst_id) from None
        items = spec.get("items", {})
        for name, mapping in spec.get("codes", {}).items():
            if name in items:
                known = {str(c) for c in codes(inst, items[name])}
                given = mapping.values() if isinstance(mapping, dict) else mapping
                stray = sorted({str(c) for c in given} - known)
                if stray:
                    raise InstrumentError(f"choice codes {stray} of {items[name]!r} are not in the instrument",
                                          field=inst_id)


# --- results -----------------------------------------------------------------------------------

@dataclass
class Simulation:
    """The simulated evaluation before any messiness.

    ``services``, ``women`` and ``events`` are the truth tables (one row per service, woman,
    record event); ``answers`` holds each instrument's answer frame (see
    :mod:`pceval.synth.common`); ``parameters`` the generating parameters.
    """

    services: pd.DataFrame
    women: pd.DataFrame
    events: pd.DataFrame
    responses: pd.DataFrame
    answers: dict[str, pd.DataFrame]
    parameters: dict
    instruments: dict[str, Instrument] = field(repr=False)


def _allocate(shares: np.ndarray, total: int) -> np.ndarray:
    """Integer counts with the given shares summing to ``total`` (largest remainders)."""
    raw = shares * total
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    if total >= len(shares):  # every service has someone
        while (counts == 0).any():
            counts[np.argmax(counts)] -= 1
            counts[np.argmin(counts)] += 1
    return counts


def _two_letters(rng: np.random.Generator, n: int) -> list[str]:
    letters = np.array(list("ABCDEFGHJKLMNPRSTVWY"))
    pool = [a + b for a in letters for b in letters]
    if n <= len(pool):
        return [pool[i] for i in rng.choice(len(pool), n, replace=False)]
    return [pool[i % len(pool)] for i in range(n)]


def simulate_services(rng: np.random.Generator, n_services: int, n_women: int) -> pd.DataFrame:
    if n_services < 1:
        raise ValueError("at least one service is needed")
    if n_services > 999:
        raise ValueError("service codes have at most three digits")
    if n_services == 1:
        shares = np.array([1.0])
    else:
        rest = rng.dirichlet(np.full(n_services - 1, 2.5)) * (1 - SMALL_SERVICE_SHARE)
        shares = np.append(rest, SMALL_SERVICE_SHARE)
    counts = _allocate(shares, n_women)
    reach = rng.permutation(np.linspace(*REACH_RANGE, n_services)) if n_services > 1 else np.array([np.mean(REACH_RANGE)])
    # fixed shares of services (at least one of each kind when there are two or more)
    def some(share: float) -> np.ndarray:
        k = int(round(share * n_services))
        if n_services >= 2:
            k = min(max(k, 1), n_services - 1)
        return rng.permutation(np.arange(n_services) < k)

    in_house = some(IN_HOUSE_SHARE)
    stops = some(STOPS_AT_EXIT_SHARE)
    width = 2 if n_services < 100 else 3
    service_ids = [f"S{i + 1:0{width}d}" for i in range(n_services)]
    frame = pd.DataFrame({
        "service_id": service_ids,
        "name": [f"Service {i + 1:0{width}d}" for i in range(n_services)],
        "delivery_model": np.where(in_house, "in_house", "partner_agency"),
        "share": shares,
        "women": counts,
        "reach_probability": reach,
        "stops_at_exit": stops,
        "not_offered_probability": rng.uniform(*NOT_OFFERED_RANGE, n_services),
        "first_attempt_delay_days": rng.uniform(*FIRST_ATTEMPT_DELAY_RANGE, n_services),
        "contact_interval_days": rng.uniform(*CONTACT_INTERVAL_RANGE, n_services),
        "post_exit_days": rng.uniform(*POST_EXIT_DAYS_RANGE, n_services),
        "felt_safety_effect": FELT_SAFETY["effect"] + rng.normal(0, FELT_SAFETY["service_sd"], n_services),
        "workers": rng.integers(WORKERS_RANGE[0], WORKERS_RANGE[1] + 1, n_services),
        "facilitators": rng.integers(FACILITATORS_RANGE[0], FACILITATORS_RANGE[1] + 1, n_services),
        "case_prefix": _two_letters(rng, n_services),
    })
    return frame


def _case_numbers(rng: np.random.Generator, services: pd.DataFrame) -> np.ndarray:
    out = []
    for prefix, n in zip(services["case_prefix"], services["women"]):
        digits = 5 if n * 4 <= 10**5 else 6
        if n > 10**digits:
            raise ValueError("too many women in one service for six-digit case numbers")
        numbers = np.sort(rng.choice(10**digits, int(n), replace=False))
        out.append(prefix + np.char.zfill(numbers.astype(str), digits).astype(object))
    return np.concatenate(out) if out else np.array([], dtype=object)


def _trunc_geometric(rng: np.random.Generator, q: np.ndarray, cap: int) -> np.ndarray:
    """Failures before the first success (success probability ``q``), at most ``cap``."""
    u = rng.random(len(q))
    top = 1.0 - (1.0 - q) ** (cap + 1)
    return np.minimum(np.floor(np.log1p(-u * top) / np.log1p(-q)), cap).astype(np.int64)


def _cohort_codes(rng: np.random.Generator, prevalence: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Recorded cohort (1 yes, 0 no, -99 prefer not to say, -98 not known) and true membership."""
    member = rng.random(n) < prevalence
    u = rng.random(n)
    recorded = np.where(member, 1, 0)
    recorded = np.where(u < COHORT_PREFER_NOT, -99, recorded)
    recorded = np.where((u >= COHORT_PREFER_NOT) & (u < COHORT_PREFER_NOT + COHORT_NOT_KNOWN), -98, recorded)
    return recorded, member


def simulate_women(rng: np.random.Generator, services: pd.DataFrame) -> pd.DataFrame:
    """One row per woman: who she is, his program, and her partner contact path (no events yet)."""
    n = int(services["women"].sum())
    svc = np.repeat(np.arange(len(services)), services["women"].to_numpy())
    export = day(EXPORT_DATE)
    referral = rng.integers(day(PERIOD_START), day(REFERRAL_END) + 1, n).astype(np.float64)
    identified = referral + rng.integers(0, 11, n)
    risk = rng.choice(3, n, p=RISK_SHARES)
    age = rng.choice(5, n, p=AGE_SHARES)
    cohort = {}
    for name, (prevalence, _, _) in COHORT.items():
        cohort[name], cohort[name + "_member"] = _cohort_codes(rng, prevalence, n)

    # his program
    starts = rng.random(n) < PROGRAM["start"]
    start = referral + 14 + np.rint(rng.gamma(2.0, 14.0, n))
    length = PROGRAM["length_days"] + np.rint(rng.normal(0, 10, n))
    exited_p = np.where(risk == 2, 2 * PROGRAM["exited"], PROGRAM["exited"])
    u = rng.random(n)
    completed = u < PROGRAM["completed"]
    exited = ~completed & (u >= 1 - exited_p)
    status = np.where(completed, "completed", np.where(exited, "exited", "dropped_out")).astype(object)
    frac = rng.uniform(0.1, 0.9, n)
    exit_day = np.where(completed, start + length, start + np.rint(frac * length))
    # men who never start: waiting, or gone from the program before starting
    waiting = ~starts & (referral + 150 > export)
    status = np.where(~starts, np.where(waiting, "referred", "dropped_out"), status)
    exit_day = np.where(~starts, np.where(waiting, np.nan, referral + rng.integers(20, 91, n)), exit_day)
    start = np.where(starts, start, np.nan)
    # as at the export date
    later_start = starts & (start > export)
    status = np.where(later_start, "referred", status)
    start = np.where(later_start, np.nan, start)
    exit_day = np.where(later_start, np.nan, exit_day)
    still = ~np.isnan(exit_day) & (exit_day > export)
    status = np.where(still, "attending", status)
    exit_day = np.where(still, np.nan, exit_day)

    # her partner contact path
    s = services.iloc[svc]
    not_offered = rng.random(n) < s["not_offered_probability"].to_numpy()
    reach_mult = np.ones(n)
    success_mult = np.ones(n)
    for name, (_, reach_m, success_m) in COHORT.items():
        reach_mult *= np.where(cohort[name] == 1, reach_m, 1.0)
        success_mult *= np.where(cohort[name] == 1, success_m, 1.0)
    p_offered = 1 - s["not_offered_probability"].to_numpy()
    p_reach_given_offered = np.clip(s["reach_probability"].to_numpy() * reach_mult / p_offered, 0, 0.98)
    reached = ~not_offered & (rng.random(n) < p_reach_given_offered)
    path = np.full(n, "reached", dtype=object)
    path[not_offered] = "not_offered"
    unreached = ~not_offered & ~reached
    path[unreached] = pick(rng, list(UNREACHED_SPLIT), list(UNREACHED_SPLIT.values()), int(unreached.sum()))
    late_decline = reached & (rng.random(n) < LATE_DECLINE)

    women = pd.DataFrame({
        "service": svc,
        "service_id": services["service_id"].to_numpy()[svc],
        "referral": referral, "identified": identified,
        "risk": risk, "age": age,
        **{k: v for k, v in cohort.items()},
        "his_status": status, "group_start": start, "his_exit": exit_day,
        "path": path, "late_decline": late_decline,
        "p_offered": p_offered, "p_reached": p_offered * p_reach_given_offered,
        "attempt_success": ATTEMPT_SUCCESS * success_mult,
    })
    return women


def _within(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows repeated ``counts`` times per owner: owner index and rank within owner."""
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(owner)) - np.repeat(starts, counts)
    return owner, rank


def simulate_events(rng: np.random.Generator, services: pd.DataFrame, women: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The partner contact record as events, and her case dates; truth, in simulation terms."""
    n = len(women)
    export = day(EXPORT_DATE)
    s = services.iloc[women["service"].to_numpy()]
    path = women["path"].to_numpy()
    identified = women["identified"].to_numpy()

    # failed attempts before first connection (or the whole effort for unreached women)
    failures = np.zeros(n, dtype=np.int64)
    connects = np.isin(path, ["reached", "declined"])
    failures[connects] = _trunc_geometric(rng, women["attempt_success"].to_numpy()[connects], MAX_ATTEMPTS - 1)
    unreachable = path == "unreachable"
    failures[unreachable] = np.where(rng.random(unreachable.sum()) < 0.7, MAX_ATTEMPTS,
                                     rng.integers(3, MAX_ATTEMPTS, unreachable.sum()))
    wrong = path == "wrong_number"
    failures[wrong] = np.where(rng.random(wrong.sum()) < 0.6, 1, 2)
    first_attempt = identified + 1 + np.rint(rng.gamma(1.5, s["first_attempt_delay_days"].to_numpy() / 1.5))

    owner, rank = _within(failures)
    gaps = rng.geometric(0.35, len(owner)).astype(np.float64)
    gaps[rank == 0] = 0
    cum = np.cumsum(gaps)
    starts = np.cumsum(failures) - failures
    base = np.zeros(n)
    has = failures > 0
    base[has] = cum[starts[has]]
    fail_day = first_attempt[owner] + cum - base[owner]
    last_fail = np.full(n, np.nan)
    last_fail[has] = fail_day[starts[has] + failures[has] - 1]
    fail_outcome = pick(rng, ["no_answer", "message_left", "unsafe"], [0.55, 0.35, 0.10], len(owner))
    is_last = rank == failures[owner] - 1
    fail_outcome[is_last & wrong[owner]] = "wrong_number"
    fail_outcome[~is_last & wrong[owner]] = "no_answer"

    # first connection: reached, or declined
    first = np.where(has, last_fail + rng.geometric(0.35, n), first_attempt)
    first = np.where(connects, first, np.nan)

    # follow-on events after a first reached contact
    status = women["his_status"].to_numpy()
    his_exit = women["his_exit"].to_numpy()
    left = np.isin(status, ["dropped_out", "exited"])
    stops = s["stops_at_exit"].to_numpy()
    end = np.where(np.isnan(his_exit), float(export),
                   his_exit + np.rint(s["post_exit_days"].to_numpy() * rng.uniform(0.6, 1.4, n)))
    end = np.where(left & stops, his_exit + rng.integers(0, 8, n), end)
    end = np.minimum(end, first + np.rint(rng.exponential(DISENGAGE_MEAN_DAYS, n)))
    end = np.minimum(end, export)
    reached_first = path == "reached"
    span = np.where(reached_first, np.maximum(end - first, 0), 0)
    span = np.nan_to_num(span).astype(np.int64)
    lam = span / s["contact_interval_days"].to_numpy()
    follow = np.minimum(rng.poisson(lam), np.minimum(MAX_FOLLOW_ON, span))
    late = women["late_decline"].to_numpy() & reached_first & (span >= 1)
    follow = np.where(late, np.maximum(follow, 1), follow).astype(np.int64)

    f_owner, f_rank = _within(follow)
    f_n = follow[f_owner]
    u = rng.random(len(f_owner))
    # sorted positions within the woman's window: sort by owner then u
    order = np.lexsort((u, f_owner))
    u_sorted = u[order]
    slots = span[f_owner] - f_n + 1
    follow_day = first[f_owner] + 1 + np.floor(u_sorted * slots) + f_rank
    follow_reached = rng.random(len(f_owner)) < FOLLOW_ON_REACHED
    follow_outcome = np.where(follow_reached, "reached",
                              pick(rng, ["no_answer", "message_left"], [0.6, 0.4], len(f_owner))).astype(object)
    last_follow = f_rank == f_n - 1
    follow_outcome[last_follow & late[f_owner]] = "declined"

    # assemble: identified, failed attempts, first connection, follow-ons
    first_outcome = np.where(path == "declined", "declined", "reached").astype(object)
    conn_idx = np.flatnonzero(connects)
    parts = [
        pd.DataFrame({"woman": np.arange(n), "day": identified, "event": "identified",
                      "outcome": None, "seq": 0, "first_connection": False}),
        pd.DataFrame({"woman": owner, "day": fail_day, "event": "attempt", "outcome": fail_outcome,
                      "seq": 1 + rank, "first_connection": False}),
        pd.DataFrame({"woman": conn_idx, "day": first[conn_idx], "event": "contact",
                      "outcome": first_outcome[conn_idx], "seq": 1 + failures[conn_idx],
                      "first_connection": True}),
        pd.DataFrame({"woman": f_owner, "day": follow_day,
                      "event": np.where(np.isin(follow_outcome, ["no_answer", "message_left"]),
                                        "attempt", "contact"),
                      "outcome": follow_outcome, "seq": 2 + failures[f_owner] + f_rank,
                      "first_connection": False}),
    ]
    events = pd.concat([p.astype({"event": object, "outcome": object}) for p in parts], ignore_index=True)
    events = events[events["day"] <= export]
    events = events.sort_values(["woman", "seq"], kind="stable").reset_index(drop=True)
    m = len(events)
    w = events["woman"].to_numpy()
    is_reached = events["outcome"].to_numpy() == "reached"
    first_conn = events["first_connection"].to_numpy()

    # mode
    mode = np.full(m, None, dtype=object)
    att = events["event"].to_numpy() == "attempt"
    mode[att] = pick(rng, ["phone", "sms", "email"], [0.78, 0.17, 0.05], int(att.sum()))
    con = events["event"].to_numpy() == "contact"
    mode[con & first_conn] = pick(rng, ["phone", "in_person", "video", "sms", "email"],
                                  [0.80, 0.06, 0.06, 0.05, 0.03], int((con & first_conn).sum()))
    mode[con & ~first_conn] = pick(rng, ["phone", "in_person", "video", "sms", "email"],
                                   [0.70, 0.12, 0.10, 0.05, 0.03], int((con & ~first_conn).sum()))
    # minutes
    minutes = np.full(m, np.nan)
    typical = np.where(first_conn, 35.0, 22.0)
    value = np.exp(np.log(typical) + rng.normal(0, 0.45, m))
    value = np.where(mode == "in_person", value * 1.5, value)
    value = np.where(np.isin(mode, ["sms", "email"]), rng.integers(3, 12, m), value)
    minutes[is_reached] = np.clip(np.rint(value[is_reached]), 1, 180)
    # content
    after_exit = ~np.isnan(his_exit[w]) & (events["day"].to_numpy() >= his_exit[w])
    after_start = ~np.isnan(women["group_start"].to_numpy()[w]) & (
        events["day"].to_numpy() >= women["group_start"].to_numpy()[w])
    p_first = {"program_info": 0.9, "risk_review": 0.75, "safety_plan": 0.35, "referral": 0.2,
               "status_notice": 0.05}
    p_later = {"program_info": 0.15, "risk_review": 0.45, "safety_plan": 0.25, "referral": 0.15,
               "status_notice": 0.25}
    content = {}
    for name in CONSTRUCTS["contact_record"]["codes"]["content"]:
        p = np.where(first_conn, p_first[name], p_later[name])
        if name == "status_notice":
            p = np.where(after_exit, 0.6, np.where(after_start, p, 0.02))
        content[name] = is_reached & (rng.random(m) < p)
    none = is_reached & ~np.any(np.column_stack(list(content.values())), axis=1)
    content["risk_review"] = content["risk_review"] | none
    # worker: mostly the same one throughout
    n_workers = services["workers"].to_numpy()[women["service"].to_numpy()]
    primary = (rng.random(n) * n_workers).astype(np.int64)
    switch = rng.random(m) < 0.12
    other = (rng.random(m) * n_workers[w]).astype(np.int64)
    worker = np.where(switch, other, primary[w])
    events["mode"] = mode
    events["minutes"] = minutes
    for name, chosen in content.items():
        events["content_" + name] = chosen
    events["worker"] = worker
    events["service"] = women["service"].to_numpy()[w]
    events["after_exit"] = after_exit

    # her case dates: close when contact ended well before the export
    last_day = events.groupby("woman")["day"].max().reindex(np.arange(n)).to_numpy()
    open_until = np.where(reached_first, end, last_day)
    close = np.maximum(last_day, open_until) + rng.integers(0, 15, n)
    close = np.where(close + 14 <= export, close, np.nan)
    case = pd.DataFrame({"case_close": close, "last_event": last_day, "contact_end": open_until})
    return events, case


# --- realised truth on the simulated record ----------------------------------------------------

def reach_flags(events: pd.DataFrame, n_women: int) -> pd.DataFrame:
    """Per woman: offered (an attempt or contact), reached, engaged, declined, attempts to reach."""
    outcome = events["outcome"].to_numpy()
    kind = events["event"].to_numpy()
    w = events["woman"].to_numpy()
    tried = np.bincount(w, weights=np.isin(kind, ["attempt", "contact"]), minlength=n_women) > 0
    reached_n = np.bincount(w, weights=outcome == "reached", minlength=n_women).astype(np.int64)
    declined = np.bincount(w, weights=outcome == "declined", minlength=n_women) > 0
    return pd.DataFrame({"offered": tried, "reached": reached_n >= 1,
                         "engaged": (reached_n >= 2) & ~declined, "declined": declined,
                         "reached_contacts": reached_n})


# --- women's survey ----------------------------------------------------------------------------

def _logit(p):
    return np.log(p / (1 - p))


def _expit(x):
    return 1 / (1 + np.exp(-x))


def simulate_responses(rng: np.random.Generator, services: pd.DataFrame, women: pd.DataFrame,
                       flags: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Which woman answers at which wave, when, and her latent scores (truth)."""
    n = len(women)
    export = day(EXPORT_DATE)
    fs = FELT_SAFETY
    reached = flags["reached"].to_numpy()
    first_reached = (events[events["outcome"] == "reached"].groupby("woman")["day"].min()
                     .reindex(np.arange(n)).to_numpy())
    risk = women["risk"].to_numpy()
    theta0 = fs["baseline_mean"] + np.where(risk == 2, -0.25, np.where(risk == 0, 0.15, 0.0)) \
        + rng.normal(0, fs["baseline_sd"], n)
    left = np.isin(women["his_status"].to_numpy(), ["dropped_out", "exited"])
    service_effect = services["felt_safety_effect"].to_numpy()[women["service"].to_numpy()]
    delta = service_effect - fs["dropout_reduction"] * left + rng.normal(0, fs["individual_sd"], n)
    theta_exit = theta0 + fs["exit_fraction"] * delta + rng.normal(0, 0.25, n)
    theta_follow = theta0 + delta

    base_day = first_reached + rng.integers(0, 22, n)
    cald = women["cald"].to_numpy() == 1
    p_base = np.where(cald, SURVEY["baseline"] * 0.9, SURVEY["baseline"])
    baseline = reached & (rng.random(n) < p_base) & (base_day <= export)
    gate_no = baseline & (rng.random(n) < SURVEY["gate_no"])
    consent_no = baseline & ~gate_no & (rng.random(n) < SURVEY["consent_no"])
    consented = baseline & ~gate_no & ~consent_no
    his_exit = women["his_exit"].to_numpy()
    anchor = np.where(np.isnan(his_exit), base_day + 150, np.maximum(his_exit, base_day + 42))
    exit_day = anchor + rng.integers(0, 29, n)
    follow_day = anchor + 91 + rng.integers(0, 29, n)
    slope = SURVEY["attrition_slope"] * (theta0 - fs["baseline_mean"])
    answered_exit = consented & (exit_day <= export) & (
        rng.random(n) < _expit(_logit(SURVEY["exit"]) + slope))
    p_follow = _expit(_logit(SURVEY["followup"]) + slope + np.where(answered_exit, 0.6, -0.6))
    answered_follow = consented & (follow_day <= export) & (rng.random(n) < p_follow)
    gate_exit = answered_exit & (rng.random(n) < SURVEY["gate_no"])
    gate_follow = answered_follow & (rng.random(n) < SURVEY["gate_no"])

    rows = []
    for wave, answered, when, latent, gate in (
        ("baseline", baseline, base_day, theta0, gate_no),
        ("exit", answered_exit, exit_day, theta_exit, gate_exit),
        ("followup", answered_follow, follow_day, theta_follow, gate_follow),
    ):
        idx = np.flatnonzero(answered)
        rows.append(pd.DataFrame({
            "woman": idx, "wave": wave, "day": when[idx], "felt_safety_latent": latent[idx],
            "gate_no": gate[idx], "consent_no": consent_no[idx] if wave == "baseline" else False,
        }))
    responses = pd.concat(rows, ignore_index=True)
    responses["theta0"] = theta0[responses["woman"].to_numpy()]
    responses["delta"] = delta[responses["woman"].to_numpy()]
    women["felt_safety_baseline_latent"] = theta0
    women["felt_safety_change_latent"] = delta
    women["exit_survey_due"] = consented & (exit_day <= export)
    women["followup_due"] = consented & (follow_day <= export)
    return responses


# --- identities --------------------------------------------------------------------------------

def simulate_people(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Her and his identifiers (one per woman), used wherever an identifier field asks."""
    her_given = ids.given_names(rng, n, women=True)
    her_family = ids.surnames(rng, n)
    his_given = ids.given_names(rng, n, women=False)
    same = rng.random(n) < 0.4
    his_family = np.where(same, her_family, ids.surnames(rng, n))
    street = ids.street_lines(rng, n)
    return {
        "her_given": her_given, "her_family": her_family,
        "her_name": her_given + " " + her_family,
        "his_given": his_given, "his_name": his_given + " " + his_family,
        "her_phone": ids.phones(rng, n), "survey_phone": ids.phones(rng, n),
        "her_email": ids.emails(rng, her_given, her_family),
        "her_street": street, "her_address": ids.addresses(rng, n, street),
    }


# --- answer frames ------------------------------------------------------------------------------

def _lookup(values: np.ndarray, mapping: dict) -> np.ndarray:
    """Map simulated values to codes (``None`` where unmapped), vectorised."""
    return pd.Series(values, dtype=object).map(mapping).astype(object).where(
        lambda x: x.notna(), None).to_numpy(dtype=object)


def _empty(instrument: Instrument, n: int) -> dict[str, np.ndarray]:
    return {c: np.full(n, None, dtype=object) for c in instrument.columns()}


def _free_text(rng, templates, rows: np.ndarray, share: float, people: dict[str, np.ndarray],
               n: int, column: str, out: dict) -> None:
    """Write free text into ``rows`` of ``column`` and note the identifier each carries.

    About ``share`` of the texts carry an identifier.
    """
    filled = texts.fill(rng, templates, len(rows), identifier_share=share,
                        people={k: v[rows] for k, v in people.items()})
    values = np.full(n, None, dtype=object)
    values[rows] = filled.text
    out[column] = values
    canary = np.full(n, None, dtype=object)
    kind = np.full(n, None, dtype=object)
    canary[rows] = filled.value
    kind[rows] = filled.kind
    out[CANARY + column] = canary
    out[CANARY_KIND + column] = kind


def record_answers(rng: np.random.Generator, inst: Instrument, services: pd.DataFrame,
                   women: pd.DataFrame, events: pd.DataFrame, case: pd.DataFrame,
                   people: dict[str, np.ndarray], *,
                   identifier_share: float = FREE_TEXT_IDENTIFIER_SHARE) -> pd.DataFrame:
    """The partner contact record's answer frame: one row per event, case fields repeated.

    ``identifier_share``: the share of case notes that carry an identifier.
    """
    spec = CONSTRUCTS["contact_record"]
    it, cd = spec["items"], spec["codes"]
    m = len(events)
    w = events["woman"].to_numpy()
    period = (day(PERIOD_START), day(EXPORT_DATE))
    out = _empty(inst, m)
    for item in inst.data_items():  # anything the simulation does not model
        if item.role is None and item.id not in it.values() and item.id not in spec["identifiers"]:
            out.update(generic_values(rng, inst, item, m, period=period))
    svc = women["service"].to_numpy()[w]
    out[inst.role_item(Role.CASE_KEY).id] = women["case_id"].to_numpy()[w]
    out[inst.role_item(Role.SERVICE).id] = services["service_id"].to_numpy()[svc]
    out[it["delivery_model"]] = np.asarray([cd["delivery_model"][d] for d in services["delivery_model"]],
                                           dtype=object)[svc]
    for item_id, who in spec["identifiers"].items():
        out[item_id] = people[who][w]
    # safe contact details: one per woman, repeated on her rows
    n = len(women)
    safe = texts.fill(rng, texts.SAFE_CONTACT, n, identifier_share=0.25, people={})
    out[it["safe_contact"]] = safe.text[w]
    out[CANARY + it["safe_contact"]] = safe.value[w]
    out[CANARY_KIND + it["safe_contact"]] = safe.kind[w]
    out[it["referral_date"]] = iso(women["referral"].to_numpy())[w]
    out[it["group_start"]] = iso(women["group_start"].to_numpy())[w]
    out[it["his_status"]] = _lookup(women["his_status"].to_numpy(dtype=object), cd["his_status"])[w]
    out[it["his_exit"]] = iso(women["his_exit"].to_numpy())[w]
    out[it["risk_tier"]] = np.asarray(cd["risk_tier"], dtype=object)[women["risk"].to_numpy()][w]
    out[it["age_group"]] = np.asarray(codes(inst, it["age_group"]), dtype=object)[women["age"].to_numpy()][w]
    cohort_code = {1: cd["yes"], 0: cd["no"]}
    for name in COHORT:
        item = inst.item(it[name])
        known = {**cohort_code, **{int(c): str(c) for c in item.missing_codes}}
        out[it[name]] = _lookup(women[name].to_numpy(), known)[w]
    out[it["case_close"]] = iso(case["case_close"].to_numpy())[w]
    out[inst.role_item(Role.EVENT_DATE).id] = iso(events["day"].to_numpy())
    out[it["event_type"]] = _lookup(events["event"].to_numpy(dtype=object), cd["event_type"])
    out[it["mode"]] = events["mode"].to_numpy(dtype=object)
    outcome = events["outcome"].to_numpy(dtype=object)
    out[it["outcome"]] = _lookup(outcome, cd["outcome"])
    out[it["minutes"]] = text(events["minutes"].to_numpy())
    reached = outcome == "reached"
    for name in cd["content"]:
        out[multi_column(it["content"], name)] = np.where(
            reached, np.where(events["content_" + name].to_numpy(), "1", "0"), None).astype(object)
    prefix = services["service_id"].str.replace("S", "PC", regex=False).to_numpy()[svc]
    letters = np.asarray(list("ABCDEFGHIJ"), dtype=object)
    out[it["worker"]] = prefix + letters[events["worker"].to_numpy()]
    note_rows = np.flatnonzero(rng.random(m) < NOTE_SHARE)
    names = {"own_name": people["her_name"][w], "his_name": people["his_name"][w],
             "her_given": people["her_given"][w], "his_given": people["his_given"][w]}
    _free_text(rng, texts.CASE_NOTES, note_rows, identifier_share, names, m, it["notes"], out)
    frame = pd.DataFrame(out, dtype=object)
    frame = apply_visibility(frame, inst, None)
    frame[META + "woman"] = w
    frame[META + "day"] = events["day"].to_numpy()
    return frame


def survey_answers(rng: np.random.Generator, inst: Instrument, services: pd.DataFrame,
                   women: pd.DataFrame, responses: pd.DataFrame, flags: pd.DataFrame,
                   people: dict[str, np.ndarray], *,
                   identifier_share: float = FREE_TEXT_IDENTIFIER_SHARE) -> pd.DataFrame:
    """The women's survey answer frame: one row per woman and wave answered.

    ``identifier_share``: the share of her comments that carry an identifier.
    """
    spec = CONSTRUCTS["womens_survey"]
    it, cd, sc = spec["items"], spec["codes"], spec["scales"]
    r = len(responses)
    w = responses["woman"].to_numpy()
    wave = responses["wave"].to_numpy(dtype=object)
    period = (day(PERIOD_START), day(EXPORT_DATE))
    out = _empty(inst, r)
    modelled = set(it.values()) | set(spec["identifiers"])
    for name in sc.values():
        modelled |= set(inst.scale(name).items)
    for item in inst.data_items():
        if item.role is None and item.id not in modelled:
            out.update(generic_values(rng, inst, item, r, period=period))
    yes, no = str(cd["yes"]), str(cd["no"])
    gate = inst.role_item(Role.SAFETY_GATE)
    consent = inst.role_item(Role.CONSENT)
    gate_no = responses["gate_no"].to_numpy(dtype=bool)
    consent_no = responses["consent_no"].to_numpy(dtype=bool)
    out[gate.id] = np.where(gate_no, no, yes).astype(object)
    out[consent.id] = np.where(consent_no, no, yes).astype(object)
    out[inst.role_item(Role.EVENT_DATE).id] = iso(responses["day"].to_numpy())
    out[inst.role_item(Role.CASE_KEY).id] = women["case_id"].to_numpy()[w]
    out[inst.role_item(Role.SERVICE).id] = women["service_id"].to_numpy()[w]

    # her optional identifiers (for the thank-you voucher)
    given = {"first_name": 0.55, "phone": 0.35, "email": 0.30, "street_address": 0.35}
    phone = np.where(rng.random(len(women)) < 0.7, people["her_phone"], people["survey_phone"])
    sources = {"her_given": people["her_given"], "her_phone": phone, "her_email": people["her_email"],
               "her_address": people["her_address"]}
    for item_id, who in spec["identifiers"].items():
        keep = rng.random(r) < given.get(item_id, 0.3)
        out[item_id] = np.where(keep, sources[who][w], None).astype(object)

    theta = responses["felt_safety_latent"].to_numpy()
    noise = FELT_SAFETY["item_noise_sd"]
    felt = inst.scale(sc["felt_safety"])
    for item_id in felt.items:
        out[item_id] = text(likert_from_latent(rng, theta, inst, inst.item(item_id), noise=noise,
                                               reverse=item_id in felt.reverse))
    sfa_latent = 3.0 + 0.6 * (theta - FELT_SAFETY["baseline_mean"]) + rng.normal(0, 0.5, r)
    sfa = inst.scale(sc["space_for_action"])
    for item_id in sfa.items:
        out[item_id] = text(likert_from_latent(rng, sfa_latent, inst, inst.item(item_id),
                                               reverse=item_id in sfa.reverse))
    reached_n = flags["reached_contacts"].to_numpy()[w]
    delivery = services["delivery_model"].to_numpy()[women["service"].to_numpy()[w]]
    exp_latent = 3.9 + 0.08 * np.minimum(reached_n, 6) - 0.2 * (delivery == "partner_agency") \
        + rng.normal(0, 0.6, r)
    experience = inst.scale(sc["experience"])
    for item_id in experience.items:
        out[item_id] = text(likert_from_latent(rng, exp_latent, inst, inst.item(item_id),
                                               reverse=item_id in experience.reverse))
    p_violence = _expit(-1.0 - 1.1 * (theta - FELT_SAFETY["baseline_mean"]))
    out[it["violence"]] = np.where(rng.random(r) < p_violence, yes, no).astype(object)
    ls = inst.item(it["life_satisfaction"])
    lo, hi = ls.constraint.min, ls.constraint.max
    out[it["life_satisfaction"]] = text(np.clip(np.rint(5.2 + 1.2 * (theta - 2.8) + rng.normal(0, 1.5, r)),
                                                lo, hi).astype(np.int64))
    kids = rng.choice(6, len(women), p=[0.30, 0.25, 0.25, 0.12, 0.05, 0.03])
    out[it["children"]] = text(kids[w])
    together, separated, on_off = cd["relationship"]
    p_together = np.where(wave == "baseline", 0.35, np.where(wave == "exit", 0.30, 0.25))
    u = rng.random(r)
    out[it["relationship"]] = np.where(u < p_together, str(together),
                                       np.where(u < p_together + 0.13, str(on_off), str(separated))).astype(object)
    out[it["age_group"]] = np.asarray([str(c) for c in codes(inst, it["age_group"])],
                                      dtype=object)[women["age"].to_numpy()[w]]
    help_item = it["help_received"]
    p_help = np.clip(0.2 + 0.08 * reached_n, 0.2, 0.85)
    any_help = np.zeros(r, dtype=bool)
    for choice in codes(inst, help_item):
        if choice == cd["help_none"]:
            continue
        chosen = rng.random(r) < p_help
        any_help |= chosen
        out[multi_column(help_item, choice)] = np.where(chosen, "1", "0").astype(object)
    out[multi_column(help_item, cd["help_none"])] = np.where(any_help, "0", "1").astype(object)
    out[it["told_limits"]] = np.where(rng.random(r) < 0.72, yes, no).astype(object)
    completed = women["his_status"].to_numpy()[w] == "completed"
    out[it["his_change"]] = text(likert_from_latent(rng, 2.6 + 0.7 * completed, inst,
                                                    inst.item(it["his_change"]), noise=0.9))
    out[it["misuse"]] = np.where(rng.random(r) < 0.13, yes, no).astype(object)
    comment_rows = np.flatnonzero(rng.random(r) < SURVEY["comment"])
    names = {"own_name": people["her_name"][w], "his_name": people["his_name"][w],
             "her_given": people["her_given"][w], "his_given": people["his_given"][w]}
    _free_text(rng, texts.WOMEN_COMMENTS, comment_rows, identifier_share, names, r,
               it["comments"], out)
    frame = pd.DataFrame(out, dtype=object)
    frame = apply_visibility(frame, inst, wave)
    frame[META + "woman"] = w
    frame[META + "wave"] = pd.Series(wave, index=frame.index, dtype=object)
    frame[META + "day"] = responses["day"].to_numpy()
    return frame


def staff_answers(rng: np.random.Generator, inst: Instrument, services: pd.DataFrame,
                  count_column: str, women_share: float, *,
                  identifier_share: float = FREE_TEXT_IDENTIFIER_SHARE) -> pd.DataFrame:
    """A worker or facilitator survey answer frame: one row per respondent.

    ``identifier_share``: the share of comments that carry an identifier.
    """
    spec = CONSTRUCTS[inst.id]
    it, cd = spec["items"], spec["codes"]
    per = services[count_column].to_numpy()
    svc = np.repeat(np.arange(len(services)), per)
    r = len(svc)
    period = (day(PERIOD_START), day(EXPORT_DATE))
    out = _empty(inst, r)
    for item in inst.data_items():
        if item.role is None and item.id not in it.values() and item.id not in spec["identifiers"]:
            out.update(generic_values(rng, inst, item, r, period=period))
    # unique names within the survey, so two people never look like one
    given = np.where(rng.random(r) < women_share, ids.given_names(rng, r, women=True),
                     ids.given_names(rng, r, women=False))
    family = ids.surnames(rng, r)
    names = given + " " + family
    while True:
        _, first = np.unique(names, return_index=True)
        dup = np.setdiff1d(np.arange(r), first)
        if not len(dup):
            break
        family[dup] = ids.surnames(rng, len(dup))
        names = given + " " + family
    domain = np.asarray([f"service{sid[1:]}.org.au" for sid in services["service_id"]], dtype=object)[svc]
    email = ids.emails(rng, given, family, domain=domain)
    who = {"name": names, "email": email}
    consent = inst.role_item(Role.CONSENT)
    consents = rng.random(r) < 0.95
    out[consent.id] = np.where(consents, str(cd["yes"]), str(cd["no"])).astype(object)
    out[inst.role_item(Role.SERVICE).id] = services["service_id"].to_numpy()[svc]
    share = {"name": 0.7, "email": 0.6}
    for item_id, kind in spec["identifiers"].items():
        keep = rng.random(r) < share[kind]
        out[item_id] = np.where(keep, who[kind], None).astype(object)
    delivery = services["delivery_model"].to_numpy()[svc]
    stops = services["stops_at_exit"].to_numpy()[svc]
    if "employer" in it:
        employer = np.asarray([cd["employer"][d] for d in delivery], dtype=object)
        out[it["employer"]] = text(employer.astype(np.int64))
    if "exit_practice" in it:
        continues, set_time, stop = cd["exit_practice"]
        u = rng.random(r)
        practice = np.where(stops, np.where(u < 0.8, stop, set_time),
                            np.where(u < 0.55, set_time, np.where(u < 0.9, continues, stop)))
        out[it["exit_practice"]] = text(practice.astype(np.int64))
    if "caseload" in it:
        open_cases = services["women"].to_numpy()[svc] * 0.35 / per[svc]
        out[it["caseload"]] = text(np.clip(rng.poisson(np.clip(open_cases, 8, 60)), 1, 250))
    if "funded_days" in it:
        out[it["funded_days"]] = pick(rng, ["1", "1.5", "2", "2.5", "3", "4", "5"],
                                      [0.1, 0.1, 0.25, 0.15, 0.2, 0.1, 0.1], r)
    comment_rows = np.flatnonzero(rng.random(r) < 0.45)
    templates = texts.WORKER_COMMENTS if inst.respondent == "worker" else texts.FACILITATOR_COMMENTS
    _free_text(rng, templates, comment_rows, identifier_share, {"own_name": names}, r,
               it["comments"], out)
    frame = pd.DataFrame(out, dtype=object)
    frame = apply_visibility(frame, inst, None)
    frame[META + "service"] = svc
    frame[META + "given"] = given
    frame[META + "family"] = family
    frame[META + "email"] = email
    return frame


def simulate(seed: int, n_services: int, n_women: int, instruments: dict[str, Instrument], *,
             free_text_identifiers: float | None = None) -> Simulation:
    """Simulate the whole evaluation (before messiness) from one seed.

    ``free_text_identifiers`` is the share of free-text answers (case notes, women's, workers'
    and facilitators' comments) that carry an identifier; ``None`` keeps the usual share
    (:data:`FREE_TEXT_IDENTIFIER_SHARE`). Leak tests raise it, to plant many identifiers in
    every instrument's free text without simulating a larger evaluation.
    """
    share = (FREE_TEXT_IDENTIFIER_SHARE if free_text_identifiers is None
             else float(free_text_identifiers))
    if not 0.0 <= share <= 1.0:
        raise ValueError("free_text_identifiers is a share from 0 to 1, "
                         f"got {free_text_identifiers!r}")
    check_constructs(instruments)
    streams = np.random.SeedSequence(seed).spawn(6)
    rng_services, rng_women, rng_events, rng_survey, rng_people, rng_answers = (
        np.random.default_rng(s) for s in streams)
    services = simulate_services(rng_services, n_services, n_women)
    women = simulate_women(rng_women, services)
    women.insert(0, "case_id", _case_numbers(rng_people, services))
    people = simulate_people(rng_people, len(women))
    events, case = simulate_events(rng_events, services, women)
    women["case_close"] = case["case_close"].to_numpy()
    flags = reach_flags(events, len(women))
    for column in flags.columns:
        women[column] = flags[column].to_numpy()
    responses = simulate_responses(rng_survey, services, women, flags, events)
    record = instruments["contact_record"]
    womens = instruments["womens_survey"]
    answers = {
        record.id: record_answers(rng_answers, record, services, women, events, case, people,
                                  identifier_share=share),
        womens.id: survey_answers(rng_answers, womens, services, women, responses, flags, people,
                                  identifier_share=share),
        "worker_survey": staff_answers(rng_answers, instruments["worker_survey"], services,
                                       "workers", 0.9, identifier_share=share),
        "facilitator_survey": staff_answers(rng_answers, instruments["facilitator_survey"], services,
                                            "facilitators", 0.5, identifier_share=share),
    }
    parameters = {
        "period": {"start": PERIOD_START, "referral_end": REFERRAL_END, "export_date": EXPORT_DATE},
        "small_service_share": SMALL_SERVICE_SHARE,
        "reach_probability_range": list(REACH_RANGE),
        "cohorts": {k: {"prevalence": v[0], "reach_multiplier": v[1], "attempt_success_multiplier": v[2]}
                    for k, v in COHORT.items()},
        "cohort_prefer_not_to_say": COHORT_PREFER_NOT, "cohort_not_known": COHORT_NOT_KNOWN,
        "age_group_shares": list(AGE_SHARES), "risk_tier_shares": list(RISK_SHARES),
        "program": PROGRAM, "attempt_success": ATTEMPT_SUCCESS, "max_attempts": MAX_ATTEMPTS,
        "unreached_split": UNREACHED_SPLIT, "late_decline": LATE_DECLINE,
        "follow_on_reached": FOLLOW_ON_REACHED, "disengage_mean_days": DISENGAGE_MEAN_DAYS,
        "note_share": NOTE_SHARE, "free_text_identifier_share": share,
        "survey": SURVEY, "felt_safety": FELT_SAFETY,
    }
    women["her_name"] = people["her_name"]
    women["his_name"] = people["his_name"]
    return Simulation(services=services, women=women, events=events, responses=responses,
                      answers=answers, parameters=parameters, instruments=instruments)


__all__ = ["CONSTRUCTS", "Simulation", "check_constructs", "reach_flags", "simulate"]

