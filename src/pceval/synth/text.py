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


# --- themes: what each template says, in the codes of instruments/themes.yml ------------------
# Keyed by the template's fixed text (before + after), so the truth lives beside the sentence.
# Templates that say nothing codable (a bare contact detail, a sign-off) have no themes.
THEMES: dict[str, tuple[str, ...]] = {
    # case notes
    "Safety plan reviewed; she plans to stay with her sister if things escalate.": ("safety_planning",),
    "Left a safe message as agreed (appointment reminder only).": ("contact_timing",),
    "She says he is attending group but still checks her phone most nights.": ("his_behaviour",),
    "Discussed his absence from group last week; she was not surprised.": ("program_information",),
    "Referred to the local specialist family violence service for counselling.": ("referral_practical",),
    "Interpreter booked for the next call.": ("cultural_safety",),
    "Told her he has been exited from the program. Safety plan updated.": ("program_information",
                                                                           "safety_planning"),
    "She asked for calls only between 9 and 2 on weekdays.": ("contact_timing",),
    "Explained what the program can and cannot do; attending does not mean he will change.": (
        "program_information",),
    "Risk review after breach of intervention order; escalated to team leader.": ("safety_planning",
                                                                                 "his_behaviour"),
    "Children's school informed of safety plan with her consent.": ("children", "safety_planning"),
    "No concerns raised this call. Will check in again in two weeks.": (),
    "She is thinking about separating and wants information on housing.": ("referral_practical",),
    "Call cut short, he came home. Did not call back as agreed.": ("contact_timing",),
    "Shared her concerns with the facilitators for his risk assessment.": ("information_sharing",),
    "She gave a new safe number: . Old number no longer safe.": ("contact_timing",),
    "Ex-partner  was seen outside her workplace on Tuesday.": ("his_behaviour",),
    "She has moved to ; new address not to be shared with the program.": (),
    "DOB  confirmed for the housing referral.": ("referral_practical",),
    "New email for appointment letters: ": (),
    " asked that we only call on weekdays.": ("contact_timing",),
    "Spoke with  about the court date next month.": ("referral_practical",),
    " told her the facilitator said she is the problem. Discussed.": ("program_misuse",),
    # women's comments
    "The worker really listened and I felt believed for the first time.": ("validation",),
    "It helped to know what the program could and could not do.": ("program_information",),
    "I wish they had kept calling after he stopped going.": ("support_ends_at_exit",),
    "Sometimes the calls came when he was home, which was hard.": ("contact_timing",),
    "He used what they said in group against me, saying even the facilitator thinks I'm the "
    "problem.": ("program_misuse",),
    "Having someone check in made me feel less alone.": ("confidence_space",),
    "Being told when he missed sessions helped me plan.": ("program_information", "oversight_security"),
    "Nobody called me back after the first time.": ("contact_timing",),
    "I didn't know this support existed until they rang me.": ("program_information",),
    "Thank you. The safety plan made a real difference for me and the kids.": ("safety_planning",
                                                                               "children"),
    "I would have liked someone who spoke my language.": ("cultural_safety",),
    "It was good but the calls were too short.": ("more_contact",),
    "You can call me on  any weekday morning.": ("contact_timing",),
    "His name is  in case you need it for your records.": (),
    "I moved to  so please update my address.": (),
    "Please email me at  rather than calling.": ("contact_timing",),
    "My name is  and I want to say thank you.": (),
    " still blames me but at least now I know it is not my fault.": ("understanding_abuse",
                                                                     "his_behaviour"),
    # worker comments
    "More funded hours would let us keep contact going after men leave the program.": (
        "resourcing_workforce", "support_ends_at_exit"),
    "Caseloads are too high to do proper risk reviews.": ("resourcing_workforce",),
    "We need better links with the facilitators; information only goes one way.": (
        "information_sharing",),
    "Partner contact stops when he drops out, which is exactly when risk goes up.": (
        "support_ends_at_exit",),
    "Training on working with women with disability would help.": ("resourcing_workforce",
                                                                  "cultural_safety"),
    "Supervision is good but we never get time to read the practice standards.": (
        "resourcing_workforce",),
    "Many calls go unanswered; we need more ways to reach women safely.": ("contact_timing",),
    "Happy to discuss, call me on .": (),
    "Email me at  for the summary.": (),
    "Thanks, ": (),
    # facilitator comments
    "What partners tell us is the most useful check on what the men say in group.": (
        "information_sharing",),
    "Partner contact is the first thing cut when funding is tight.": ("resourcing_workforce",),
    "We rarely hear back from the partner contact worker in time for group.": ("information_sharing",),
    "Some men try to use group material against their partners; we need to catch it earlier.": (
        "program_misuse",),
    "Information sharing with child protection has improved this year.": ("information_sharing",
                                                                         "children"),
    "Records are kept in two systems, so nothing is complete.": ("records_data_quality",),
    "Call me on  if you want more detail.": (),
    "Regards, ": (),
}

THEMED_TEMPLATES = CASE_NOTES + WOMEN_COMMENTS + WORKER_COMMENTS + FACILITATOR_COMMENTS
"""The templates of answers that are coded for themes (safe-contact details never are)."""


def template_key(template: Template) -> str:
    """The key of a template in :data:`THEMES`: its fixed text, the slot left out."""
    return template[0] + template[2]


def _template_pattern(template: Template):
    import re

    placeholder = r"\[[A-Z]+\]"

    def fixed(text: str) -> str:
        # each word may have been replaced by a placeholder when scrubbing took it for a name
        out = []
        for token in re.split(r"(\w+(?:'\w+)?)", text):
            if not token:
                continue
            if re.fullmatch(r"\w+(?:'\w+)?", token):
                out.append(f"(?:{re.escape(token)}|{placeholder})")
            else:
                out.append(re.escape(token))
        return "".join(out)

    middle = r".+?" if template[1] is not None else ""
    return re.compile(r"\s*" + fixed(template[0]) + middle + fixed(template[2]) + r"\s*")


def themes_of_text(text: str) -> tuple[str, ...] | None:
    """The themes of a synthetic answer, found from the template that wrote it.

    Works on scrubbed text too: an identifier (or any word scrubbing took for a name) may stand
    replaced by a placeholder such as ``[NAME]``.

    Returns
    -------
    tuple of str or None
        The template's themes (possibly empty), or None when no template matches.

    Examples
    --------
    >>> themes_of_text("Thank you. The safety plan made a real difference for me and the kids.")
    ('safety_planning', 'children')
    >>> themes_of_text("[NAME] still blames me but at least now I know it is not my fault.")
    ('understanding_abuse', 'his_behaviour')
    >>> themes_of_text("Something else entirely.") is None
    True
    """
    for template, pattern in _patterns():
        if pattern.fullmatch(text):
            return THEMES[template_key(template)]
    return None


_PATTERN_CACHE: list = []


def _patterns():
    if not _PATTERN_CACHE:
        # slotted templates last: their wildcard could swallow a plain sentence's words
        ordered = sorted(THEMED_TEMPLATES, key=lambda t: t[1] is not None)
        _PATTERN_CACHE.extend((t, _template_pattern(t)) for t in ordered)
    return _PATTERN_CACHE
