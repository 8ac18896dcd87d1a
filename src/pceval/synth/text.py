"""Free text as people write it: case notes, women's comments, workers' and facilitators' comments.

Each kind of text has plain sentences and sentences that carry an identifier, the way real
free text does ("call me on 0491 572 983", "his name is Daniel Kowalski", "I moved to 14
Banksia Crescent"). A template is ``(before, slot, after)``: ``slot`` names the identifier put
between the two parts, or is ``None`` for a plain sentence. Slots:

``phone``, ``email``, ``street``, ``dob``
    a new identifier of that kind, made for the sentence;
``own_name``, ``his_name``, ``her_given``, ``his_given``
    a name that appears in an identifier field of the same case (her own or his), as happens
    in real data: people name the people they know.

:func:`fill` builds the texts for many rows at once and returns which identifier went where,
so :mod:`pceval.synth.canaries` can list it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Template = tuple[str, str | None, str]

CASE_NOTES: tuple[Template, ...] = (
    ("Safety plan reviewed; she plans to stay with her sister if things escalate.", None, ""),
    ("Left a safe message as agreed (appointment reminder only).", None, ""),
    ("She says he is attending group but still checks her phone most nights.", None, ""),
    ("Discussed his absence from group last week; she was not surprised.", None, ""),
    ("Referred to the local specialist family violence service for counselling.", None, ""),
    ("Interpreter booked for the next call.", None, ""),
    ("Told her he has been exited from the program. Safety plan updated.", None, ""),
    ("She asked for calls only between 9 and 2 on weekdays.", None, ""),
    ("Explained what the program can and cannot do; attending does not mean he will change.", None, ""),
    ("Risk review after breach of intervention order; escalated to team leader.", None, ""),
    ("Children's school informed of safety plan with her consent.", None, ""),
    ("No concerns raised this call. Will check in again in two weeks.", None, ""),
    ("She is thinking about separating and wants information on housing.", None, ""),
    ("Call cut short, he came home. Did not call back as agreed.", None, ""),
    ("Shared her concerns with the facilitators for his risk assessment.", None, ""),
    ("She gave a new safe number: ", "phone", ". Old number no longer safe."),
    ("Ex-partner ", "his_name", " was seen outside her workplace on Tuesday."),
    ("She has moved to ", "street", "; new address not to be shared with the program."),
    ("DOB ", "dob", " confirmed for the housing referral."),
    ("New email for appointment letters: ", "email", ""),
    ("", "her_given", " asked that we only call on weekdays."),
    ("Spoke with ", "own_name", " about the court date next month."),
    ("", "his_given", " told her the facilitator said she is the problem. Discussed."),
)

WOMEN_COMMENTS: tuple[Template, ...] = (
    ("The worker really listened and I felt believed for the first time.", None, ""),
    ("It helped to know what the program could and could not do.", None, ""),
    ("I wish they had kept calling after he stopped going.", None, ""),
    ("Sometimes the calls came when he was home, which was hard.", None, ""),
    ("He used what they said in group against me, saying even the facilitator thinks I'm the "
     "problem.", None, ""),
    ("Having someone check in made me feel less alone.", None, ""),
    ("Being told when he missed sessions helped me plan.", None, ""),
    ("Nobody called me back after the first time.", None, ""),
    ("I didn't know this support existed until they rang me.", None, ""),
    ("Thank you. The safety plan made a real difference for me and the kids.", None, ""),
    ("I would have liked someone who spoke my language.", None, ""),
    ("It was good but the calls were too short.", None, ""),
    ("You can call me on ", "phone", " any weekday morning."),
    ("His name is ", "his_name", " in case you need it for your records."),
    ("I moved to ", "street", " so please update my address."),
    ("Please email me at ", "email", " rather than calling."),
    ("My name is ", "own_name", " and I want to say thank you."),
    ("", "his_given", " still blames me but at least now I know it is not my fault."),
)

WORKER_COMMENTS: tuple[Template, ...] = (
    ("More funded hours would let us keep contact going after men leave the program.", None, ""),
    ("Caseloads are too high to do proper risk reviews.", None, ""),
    ("We need better links with the facilitators; information only goes one way.", None, ""),
    ("Partner contact stops when he drops out, which is exactly when risk goes up.", None, ""),
    ("Training on working with women with disability would help.", None, ""),
    ("Supervision is good but we never get time to read the practice standards.", None, ""),
    ("Many calls go unanswered; we need more ways to reach women safely.", None, ""),
    ("Happy to discuss, call me on ", "phone", "."),
    ("Email me at ", "email", " for the summary."),
    ("Thanks, ", "own_name", ""),
)

FACILITATOR_COMMENTS: tuple[Template, ...] = (
    ("What partners tell us is the most useful check on what the men say in group.", None, ""),
    ("Partner contact is the first thing cut when funding is tight.", None, ""),
    ("We rarely hear back from the partner contact worker in time for group.", None, ""),
    ("Some men try to use group material against their partners; we need to catch it earlier.",
     None, ""),
    ("Information sharing with child protection has improved this year.", None, ""),
    ("Records are kept in two systems, so nothing is complete.", None, ""),
    ("Call me on ", "phone", " if you want more detail."),
    ("Regards, ", "own_name", ""),
)

SAFE_CONTACT: tuple[Template, ...] = (
    ("Text first; calls only weekdays 9am to 2pm.", None, ""),
    ("Only call when she has texted to say it is safe.", None, ""),
    ("Mornings after school drop-off. Never leave a voicemail.", None, ""),
    ("Call her work number ", "phone", " between 10 and 3."),
    ("Email only: ", "email", ""),
    ("Via her sister's phone ", "phone", "; say it is about the school."),
    ("He works night shift: afternoons are safest.", None, ""),
    ("Do not text. Call on Tuesdays or Thursdays around noon.", None, ""),
)


@dataclass(frozen=True)
class Filled:
    """Texts for many rows and the identifier each one carries (``None`` where none)."""

    text: np.ndarray
    value: np.ndarray
    kind: np.ndarray


SLOT_KIND = {"phone": "phone", "email": "email", "street": "address", "dob": "dob",
             "own_name": "name", "his_name": "name", "her_given": "name", "his_given": "name"}


def fill(rng: np.random.Generator, templates: tuple[Template, ...], n: int, *,
         identifier_share: float, people: dict[str, np.ndarray]) -> Filled:
    """Write ``n`` texts; about ``identifier_share`` of them carry an identifier.

    ``people`` gives, for each row, the values the name slots may use (``own_name``,
    ``his_name``, ``her_given``, ``his_given``), and may give ``phone``, ``email``, ``street``
    and ``dob`` to reuse; slots without a value fall back to a plain sentence.
    """
    from pceval.synth import identities as ids

    plain = [i for i, t in enumerate(templates) if t[1] is None]
    slotted = [i for i, t in enumerate(templates) if t[1] is not None]
    with_id = rng.random(n) < identifier_share
    choice = np.where(with_id, np.asarray(slotted)[rng.integers(0, len(slotted), n)],
                      np.asarray(plain)[rng.integers(0, len(plain), n)])
    makers = {
        "phone": lambda k: ids.phones(rng, k),
        "email": lambda k: ids.emails(rng, ids.given_names(rng, k, women=True), ids.surnames(rng, k)),
        "street": lambda k: ids.street_lines(rng, k),
        "dob": lambda k: ids.birth_dates(rng, k),
    }
    before = np.asarray([t[0] for t in templates], dtype=object)[choice]
    after = np.asarray([t[2] for t in templates], dtype=object)[choice]
    slot = np.asarray([t[1] or "" for t in templates], dtype=object)[choice]
    value = np.full(n, None, dtype=object)
    for name in sorted(SLOT_KIND):
        rows = np.flatnonzero(slot == name)
        if not len(rows):
            continue
        if name in people:
            value[rows] = people[name][rows]
        elif name in makers:
            value[rows] = makers[name](len(rows))
    missing = (slot != "") & np.asarray([v is None or v != v or v == "" for v in value], dtype=bool)
    if missing.any():  # no name to use for this row: a plain sentence instead
        fallback = np.asarray(plain)[rng.integers(0, len(plain), int(missing.sum()))]
        before[missing] = np.asarray([templates[i][0] for i in fallback], dtype=object)
        after[missing] = ""
        value[missing] = None
    has = np.asarray([v is not None for v in value], dtype=bool)
    middle = np.where(has, value, "").astype(object)
    text = before + middle + after
    kind = np.asarray([SLOT_KIND.get(s) if h else None for s, h in zip(slot, has)], dtype=object)
    return Filled(text=text.astype(object), value=value, kind=kind)
