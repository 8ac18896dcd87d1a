"""Free-text scrubbing: take names, phone numbers, emails, addresses, full dates and web
addresses out of what women and workers wrote, before the text leaves the staging area.

What is found is replaced by a placeholder (``[NAME]``, ``[PHONE]`` ...); the scrubber reports
where each placeholder sits and how many of each kind it put in, never what it took out.

Detection, in this order (a later pass never sees what an earlier one replaced):

1. patterns: emails (also ``jane (at) mail (dot) com``), web addresses, street addresses with
   an optional unit, suburb, state and postcode, PO boxes, full dates (``12/03/1985``,
   ``3.4.85``, ``1985-03-12``, ``3 March 1985``, ``March 3, 1985``), Australian phone numbers
   in their usual writings, and any other run of 8 or more digits;
2. names after a cue: ``my name is X``, ``his/her name is X``, ``called X``, ``named X``,
   ``known as X``, ``I'm X``, ``Mr/Mrs/Ms/Miss/Dr X`` (X capitalised; the title is kept);
3. the identifier values of the same record (``known``) and every word of three or more
   letters of a known name, case-insensitively on word boundaries;
4. every name held in the evaluation's identifier fields (``known_global``), the same way;
5. capitalised words in the built-in list of common given names (``data/given_names.txt``).

Words that are both names and everyday English (``data/name_words.txt``: May, Will, Grace,
Hope, Mark, Rose ...) are never taken on their own say-so: the built-in list leaves them out,
and a known name that is one such word (or is shorter than three letters) is matched only
where it is written with a capital letter. A cue ("called Hope") always takes them.

Published support lines are service numbers, not identifiers, and are kept
(:data:`SERVICE_NUMBERS`: 1800RESPECT 1800 737 732, Lifeline 13 11 14 and other national lines).

Scrubbing is idempotent: scrubbing scrubbed text changes nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import NamedTuple

import pandas as pd

PLACEHOLDERS: dict[str, str] = {
    "name": "[NAME]",
    "phone": "[PHONE]",
    "email": "[EMAIL]",
    "address": "[ADDRESS]",
    "date": "[DATE]",
    "url": "[URL]",
    "number": "[NUMBER]",
}
"""Kind of identifier -> the placeholder that replaces it."""

KINDS: tuple[str, ...] = tuple(PLACEHOLDERS)

SERVICE_NUMBERS: dict[str, str] = {
    "1800737732": "1800RESPECT",
    "131114": "Lifeline",
    "1800551800": "Kids Helpline",
    "1300789978": "MensLine Australia",
    "1300766491": "Men's Referral Service (No to Violence)",
    "1800015188": "Safe Steps",
    "139276": "13YARN",
}
"""Published support lines (digits only) that are kept in scrubbed text."""

SERVICE_WEBSITES: frozenset[str] = frozenset({
    "1800respect.org.au", "lifeline.org.au", "kidshelpline.com.au", "mensline.org.au",
    "ntv.org.au", "safesteps.org.au", "13yarn.org.au",
})
"""Support services' home pages (host only), kept in scrubbed text; any path is removed."""

# --- markers -------------------------------------------------------------------------------
# While a text is scrubbed, each replacement is a two-character marker from the Unicode private
# use area (not a word character, not a digit, not a space), so later passes cannot match into
# it; placeholders already in the input are protected with a second lead character so they are
# neither matched nor counted again. Stray private-use characters in the input become U+FFFD.
_NEW, _OLD = "\ue000", "\ue001"
_KIND_CHAR = {kind: chr(0xE010 + i) for i, kind in enumerate(KINDS)}
_CHAR_KIND = {char: kind for kind, char in _KIND_CHAR.items()}
_MARKERS = {kind: _NEW + char for kind, char in _KIND_CHAR.items()}
_PRIVATE = re.compile("[\ue000-\ue0ff]")
_EXISTING = re.compile(r"\[(" + "|".join(p[1:-1] for p in PLACEHOLDERS.values()) + r")\]")
_PLACEHOLDER_KIND = {p[1:-1]: kind for kind, p in PLACEHOLDERS.items()}
_ANY_MARKER = re.compile("([\ue000\ue001])([\ue010-\ue0ff])")

# --- patterns ------------------------------------------------------------------------------
_EMAIL = re.compile(
    r"[\w.!#$%&'*+/=?^`{|}~-]+"
    r"(?:@|\s?[(\[]\s?at\s?[)\]]\s?)"
    r"[\w-]+(?:(?:\.|\s?[(\[]\s?dot\s?[)\]]\s?)[\w-]+)*",
    re.IGNORECASE,
)
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_.]*[A-Za-z0-9_]")
_URL = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"'\ue000\ue001]*[^\s<>\"'.,;:!?)\]\ue000\ue001]"
    r"|\b[a-z0-9][\w-]*(?:\.[\w-]+)*\.(?:com|net|org|gov|edu|info|io|me|ly|au|nz|uk)\b"
    r"(?:/[^\s<>\"'\ue000\ue001]*[^\s<>\"'.,;:!?)\]\ue000\ue001])?",
    re.IGNORECASE,
)

# street types matched in any case ("45 banksia crescent", "12 smith st")
_STREET_TYPES = (
    "Street|St|Road|Rd|Avenue|Ave|Crescent|Cres|Parade|Pde|Terrace|Tce|Boulevard|Boulevarde|"
    "Blvd|Highway|Hwy|Circuit|Cct|Esplanade|Parkway|Pkwy|Freeway|Fwy"
)
# street types that are everyday words or short abbreviations: matched only capitalised or in
# capitals ("45 Banksia Way", "12 SMITH CT"), so "2 kids way too loud" is left alone
_STREET_WORDS = (
    "Court Ct Drive Dr Drv Place Pl Lane Ln Way Close Cl Grove Gr Gve Square Sq Cr Av Terr Bvd "
    "Esp Rise Track Trail Walk Mews Row Loop Chase Glade Green Vista View Heights Hts Ridge "
    "Link Mall Promenade Outlook Alley Arcade Bend Brace Causeway Concourse Cove Crest Gardens "
    "Gdns Gate Glen Hill Junction Lookout Meander Nook Pass Path Point Quay Retreat Strand "
    "Wynd Circle"
).split()
_STREET_TYPES_CAPITALISED = "|".join(
    sorted({w for word in _STREET_WORDS for w in (word, word.upper())}, key=lambda w: (-len(w), w))
)
_STATES = (
    "VIC|Vic|NSW|QLD|Qld|SA|WA|TAS|Tas|NT|ACT|Victoria|New South Wales|Queensland|"
    "South Australia|Western Australia|Tasmania|Northern Territory|Australian Capital Territory"
)
# words that cannot be part of a street name: "3 times down the road", "2 kids at school Rd"
_NOT_STREET_WORD = (
    r"(?!(?i:the|a|an|my|his|her|our|their|your|its|this|that|these|those|to|on|in|at|of|and|"
    r"or|for|with|from|by|up|down|over|under|about|after|before|every|each|per|than|times|"
    r"hours?|hrs|minutes?|mins|days?|weeks?|months?|years?|yrs|kids|children|people|women|men|"
    r"is|was|were|are|be|been|had|has|have|it|he|she|they|we|i|you|me|him|them|us)\b)"
)
_CAP_WORD = r"[A-Z][A-Za-z'’-]+"
_ADDRESS_TAIL = (
    r"(?:,?\s+(?:" + _CAP_WORD + r",?\s+){0,3}(?:" + _STATES + r")\b\.?(?:,?\s+\d{4}(?!\d))?"
    r"|,?\s+(?:" + _CAP_WORD + r",?\s+){0,3}\d{4}(?!\d)"
    r"|,[ \t]*" + _CAP_WORD + r"(?:[ \t]+" + _CAP_WORD + r"){0,2})?"
)
_UNNAMED_STREET_TYPES = (
    "Street|St|Road|Rd|Avenue|Ave|Crescent|Cres|Parade|Pde|Terrace|Tce|Boulevard|Blvd|Highway|"
    "Hwy|Circuit|Cct|Grove"
)
# numbered: "Unit 3/12 Smith St, Footscray VIC 3011", "45 banksia crescent", "12A-14 King Rd"
_ADDRESS = re.compile(
    r"(?<![\w/.])"
    r"(?:(?i:unit|u|flat|apt|apartment|suite|shop|lot|level)\.?\s*\d{1,5}[A-Za-z]?\s*[,/]?\s*)?"
    r"\d{1,5}[A-Za-z]?(?:\s?[/-]\s?\d{1,5}[A-Za-z]?)?,?\s+"
    r"(?:" + _NOT_STREET_WORD + r"[A-Za-z][\w'’.-]*\s+){1,3}?"
    r"(?:(?i:" + _STREET_TYPES + r")|" + _STREET_TYPES_CAPITALISED + r")\b\.?"
    + _ADDRESS_TAIL
)
# PO boxes and locked bags
_PO_BOX = re.compile(
    r"(?<!\w)(?i:p\.?\s?o\.?\s?box|gpo\s+box|locked\s+bag)\s*\d{1,6}(?!\d)" + _ADDRESS_TAIL
)
# a named street without a number: "on Banksia Crescent" (street types rarely anything else)
_STREET = re.compile(
    r"(?<!\w)(?!(?:The|A|An|On|In|At|My|His|Her|Our|Their|This|That|Of|And|Main|High)\b)"
    r"(?:[A-Z][a-z'’]+\s+){1,2}(?:" + _UNNAMED_STREET_TYPES + r")\b\.?" + _ADDRESS_TAIL
)
_STREET_KEYS = frozenset(_UNNAMED_STREET_TYPES.lower().split("|"))
_PO_KEYS = frozenset({"box", "bag"})

_MONTHS = (
    r"January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
)
_DATE = re.compile(
    r"(?<![\d/.-])\d{1,2}([/.-])\d{1,2}\1(?:\d{4}|\d{2})(?!\d|[/-]\d|\.\d)"  # 12/03/1985, 3.4.85
    r"|(?<![\d/.-])\d{4}([/.-])\d{1,2}\2\d{1,2}(?!\d|[/-]\d|\.\d)"  # 1985-03-12
    r"|(?<!\w)\d{1,2}(?i:st|nd|rd|th)?\s+(?i:of\s+)?(?i:" + _MONTHS + r")\b\.?,?\s+"
    r"(?:\d{4}|'?\d{2})(?!\d)"  # 3 March 1985, 3rd of mar '85
    r"|(?<!\w)(?i:" + _MONTHS + r")\.?\s+\d{1,2}(?i:st|nd|rd|th)?,?\s+\d{4}(?!\d)"  # March 3, 1985
)

_SEP = r"[ .\-\u00a0]?"
_PHONE = re.compile(
    r"(?<![\d+$])(?:"
    r"(?:\+|00)\s?61" + _SEP + r"(?:\(0\)\s?)?[2-478](?:" + _SEP + r"\d){8}"  # +61 4xx xxx xxx
    r"|\(0[2-478]\)\s?\d(?:" + _SEP + r"\d){7}"  # (02) 9xxx xxxx
    r"|0[2-478](?:" + _SEP + r"\d){8}"  # 04xx xxx xxx, 02 9xxx xxxx
    r"|1[38]00(?:" + _SEP + r"\d){6}"  # 1300 / 1800 numbers
    r"|13(?:" + _SEP + r"\d){4}"  # 13 xx xx
    r")(?!\d)"
)
_LONG_NUMBER = re.compile(r"(?<![\d+])\+?\(?\d(?:[ .\-()\u00a0]{0,2}\d){7,}(?!\d)")

_CUE = re.compile(
    r"(?:(?<!\w)(?P<cue>(?i:(?:my|his|her|their)\s+name\s+is|(?:my|his|her)\s+name['’]s|named|"
    r"called|known\s+as|call\s+me|i['’]m))\s+"
    r"|(?<!\w)(?:Mr|Mrs|Ms|Miss|Mx|Dr|Mister)\.?\s+)"
    r"(?P<name>[A-Z][\w'’-]*(?:[ \t]+[A-Z][\w'’-]*){0,2})"
)
# after these cues a capitalised word may be something else ("called Police", "I'm Aboriginal")
_WEAK_CUES = frozenset({"called", "i'm", "i’m"})
# capitalised words that follow a cue without being a name ("called Police", "I'm Aboriginal")
_CUE_STOP = frozenset(
    """
    a an and are as at but by can did do for from had has have he her here him his how i if in
    is it its just me my no not now of on or our she so still that the their them then there
    they this to too us very was we were what when where who why will with you your yes also
    really again back only even ok okay
    monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday
    january february march april may june july august september october november december
    police cops court magistrates family federal circuit centrelink lifeline helpline kids
    services service safe steps program programme group facilitator worker caseworker case
    manager dhs dffh doctor gp hospital school child protection triple zero ambulance
    emergency legal aid lawyer solicitor mum mom dad mother father nan nana grandma grandpa
    pop brother sister son daughter baby partner husband wife boyfriend girlfriend ex
    aboriginal torres strait islander indigenous australian muslim christian catholic
    english arabic vietnamese chinese indian greek italian scared afraid fine good ok sure
    sorry pregnant sick unwell tired homeless
    """.split()
)
# a name is at most this many words ("Mary Anne de la Cruz" is five)
_MAX_NAME_WORDS = 5
# words of an identifier value that are never searched for on their own: the value may be a
# contact-safety note ("mornings only", "call after work") rather than a name
_NEVER_A_NAME_TOKEN = frozenset(
    """a an and the he she they it its his her him them their this that not but or so then
    only call calls calling text texts sms email phone ring message messages leave after before
    when until from between during never always ever any anytime time times morning mornings
    afternoon afternoons evening evenings night nights day days weekday weekdays weekend
    weekends work home house school safe unsafe okay ok yes no don't dont do is are can cannot
    with without at on in by for of to me my mine her's""".split()
)
# after any cue: words that cannot start or continue a name
_NEVER_A_NAME = frozenset(
    """a an and the he she they it its his her him them their this that not but or so then
    mr mrs ms miss mx dr mister""".split()
)
_NOT_A_NAME = _CUE_STOP | _NEVER_A_NAME
# Cheap checks before the costly passes: a text is tokenised once (lower case, split at every
# non-word character) and a pass runs only if a token it needs is there. A pass's key is the
# first such token of anything it can match, so the check never skips a match.
_TOKEN = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")
_NON_DIGIT = re.compile(r"\D")
_CUE_KEYS = frozenset({"name", "named", "called", "known", "call", "m", "mr", "mrs", "ms",
                       "miss", "mx", "dr", "mister"})
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SPLIT_NAME = re.compile(r"[\s\-‐]+")
_STRIP_TOKEN = "\"'’‘.,;:()[]{}!?"
_FOLD = str.maketrans({"’": "'", "‘": "'", "\u00a0": " ", "\t": " ", "\n": " ", "\r": " ",
                       "\f": " ", "\v": " "})


@cache
def _word_list(name: str) -> tuple[str, ...]:
    path = resources.files("pceval.privacy").joinpath("data").joinpath(name)
    text = path.read_text(encoding="utf-8")
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def given_names() -> tuple[str, ...]:
    """The built-in common given names (``data/given_names.txt``)."""
    return _word_list("given_names.txt")


def name_words() -> frozenset[str]:
    """Lower-case names that are also everyday words (``data/name_words.txt``)."""
    return frozenset(_word_list("name_words.txt"))


# --- term lists ----------------------------------------------------------------------------

class _Term(NamedTuple):
    text: str  # folded, lower case
    kind: str
    capitalised_only: bool
    bounded: bool  # word boundaries apply (not for scripts written without spaces)


_LETTER = re.compile(r"[^\W\d_]")


def _quirky_characters() -> re.Pattern[str]:
    """Characters whose regex case-insensitive matching is not the same as ``str.lower``.

    Python's ``re`` ties some letters to others beyond their lower case (dotless i and i, long
    s and s, Greek final sigma and sigma ...), and ``"İ".lower()`` is two characters. Words
    with such letters are matched against every known name, not only those sharing a word.
    """
    try:
        from re._casefix import _EXTRA_CASES  # Python 3.11+
    except ImportError:  # pragma: no cover - an older layout: treat all non-ASCII as quirky
        return re.compile(r"[^\x00-\x7f]")
    tied = {chr(c) for c, others in _EXTRA_CASES.items() for c in (c, *others) if c > 0x7F}
    chars = sorted(ch for ch in map(chr, range(0x80, 0x10000))
                   if ch in tied or len(ch.lower()) != 1 or ch.lower() in tied)
    return re.compile("[" + "".join(re.escape(ch) for ch in chars) + "]")


_QUIRKY = _quirky_characters()


class _GlobalSubset(NamedTuple):
    """The known names whose first word is among the words of a batch of texts, as one regex.

    ``keys`` are those words. A text whose name words are all in ``keys`` (and that has no
    quirky letter, see :func:`_quirky_characters`) gets the same matches from ``pattern`` as
    from the regex of every known name: a bounded name can only match where its first word
    stands as a word of the text.
    """

    pattern: re.Pattern[str] | None
    keys: frozenset[str]


@cache
def _given_regex(given: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + _trie_regex(given) + r")(?!\w)")


def _classify(value: str) -> str:
    if "@" in value:
        return "email"
    if not _DIGIT.search(value):
        return "name"
    if _DATE.fullmatch(value):
        return "date"
    if not _LETTER.search(value) and len(_DIGIT.findall(value)) >= 6:
        return "phone"
    return "address"


def _is_cased(text: str) -> bool:
    return text.lower() != text.upper()


@lru_cache(maxsize=1 << 16)
def _terms_for(value: str, words: frozenset[str]) -> tuple[_Term, ...]:
    """Search terms for one identifier value: the whole value and, for names, its words."""
    text = " ".join(value.translate(_FOLD).split())
    if len(text) < 2 and not _CJK.search(text):
        return ()
    kind = _classify(text)
    out = []

    def add(term: str, term_kind: str) -> None:
        single = " " not in term
        lower = term.lower()
        cap_only = single and _is_cased(term) and (len(term) < 3 or lower in words)
        out.append(_Term(lower, term_kind, cap_only, not _CJK.search(term)))

    add(text, kind)
    # a long value without digits is an instruction ("texts only, never after dark"), not a
    # name: it is removed as a whole, and its everyday words stay in everyone's text
    if kind == "name" and len(text.split()) <= _MAX_NAME_WORDS:
        whole_words = [w for w in text.split() if w.strip(_STRIP_TOKEN).lower() not in _NEVER_A_NAME_TOKEN]
        parts = [part for word in whole_words for part in _SPLIT_NAME.split(word)]
        for token in dict.fromkeys(whole_words + parts):  # "Mary-Anne", then "Mary" and "Anne"
            token = token.strip(_STRIP_TOKEN)
            if token != text and (len(token) >= 3 or (_CJK.search(token) and len(token) >= 2)):
                add(token, "name")
    return tuple(out)


def _term_pattern(term: str) -> str:
    """Regex for a folded term: any whitespace between words, either apostrophe."""
    parts = []
    for ch in term:
        if ch == " ":
            parts.append(r"\s+")
        elif ch == "'":
            parts.append("['’‘]")
        else:
            parts.append(re.escape(ch))
    return "".join(parts)


def _trie_regex(terms: Iterable[str]) -> str:
    """One alternation for many literal terms, factored by common prefixes.

    Python's ``re`` tries the branches of a flat alternation one after another at every
    position, which is slow with thousands of names; a prefix tree makes each position cost
    about the length of the longest name. Longer terms win: each optional tail is greedy.
    """
    trie: dict = {}
    for term in terms:
        node = trie
        for ch in term:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        ends = "" in node
        branches = [_term_pattern(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        if len(branches) == 1 and not ends:
            return branches[0]
        return "(?:" + "|".join(branches) + ")" + ("?" if ends else "")

    return build(trie)


def _names_regex(terms: Iterable[_Term]) -> re.Pattern[str] | None:
    """Compile known terms into one case-insensitive regex (capitalisation is checked after)."""
    pieces = []
    for bounded in (True, False):
        chosen = sorted({t.text for t in terms if t.bounded == bounded})
        if chosen:
            body = "(?i:" + _trie_regex(chosen) + ")"
            pieces.append(r"(?<!\w)" + body + r"(?!\w)" if bounded else body)
    return re.compile("|".join(pieces)) if pieces else None


def _term_sub(match: re.Match[str], terms: dict[str, _Term]) -> str:
    """Marker for a matched known term, unless it must be capitalised and is not."""
    text = match.group(0)
    term = terms.get(_fold_key(text))
    if term is None:
        return _MARKERS["name"]
    if term.capitalised_only and not text[0].isupper():
        return text
    return _MARKERS[term.kind]


# --- result --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ScrubResult:
    """Scrubbed text and where its new placeholders are.

    Attributes
    ----------
    text : str
        The text with identifiers replaced by placeholders.
    replacements : tuple of (kind, start, end)
        One entry per placeholder put in, in text order: its kind (a key of
        :data:`PLACEHOLDERS`) and its span in ``text`` (not in the original).
    """

    text: str
    replacements: tuple[tuple[str, int, int], ...]

    def counts(self) -> dict[str, int]:
        """Number of replacements of each kind, in the order of :data:`KINDS`."""
        found = Counter(kind for kind, _, _ in self.replacements)
        return {kind: found[kind] for kind in KINDS if found[kind]}


def _sub_kind(pattern: re.Pattern[str], text: str, kind: str) -> str:
    return pattern.sub(_MARKERS[kind], text)


def _url_sub(match: re.Match[str]) -> str:
    text = match.group(0)
    host = re.sub(r"^(?:[a-z]+://)?(?:www\.)?", "", text.lower()).split("/")[0]
    if host in SERVICE_WEBSITES and text.lower().rstrip("/").endswith(host):
        return text
    return _MARKERS["url"]


def _phone_sub(match: re.Match[str], keep: frozenset[str], kind: str) -> str:
    digits = _NON_DIGIT.sub("", match.group(0))
    if digits in keep:
        return match.group(0)
    return _MARKERS[kind]


# --- the scrubber --------------------------------------------------------------------------

@dataclass(frozen=True)
class Scrubber:
    """A free-text scrubber prepared once for an evaluation.

    Parameters
    ----------
    known_global : sequence of str
        Every name held in the evaluation's identifier fields; each is removed from every text
        (with its words of three or more letters). Compiled once into one regex.
    keep_numbers : mapping or set of str
        Phone numbers (digits only) that are kept: :data:`SERVICE_NUMBERS` by default.
    use_given_names : bool
        Also remove capitalised words in the built-in list of common given names.

    Notes
    -----
    The ``repr`` shows how many names the scrubber holds, never the names.

    Examples
    --------
    >>> s = Scrubber(known_global=("Ana Vukovic",))
    >>> s.scrub("Ana's ex rang me on 0412 345 678, call 1800 737 732 if unsafe").text
    "[NAME]'s ex rang me on [PHONE], call 1800 737 732 if unsafe"
    >>> s
    Scrubber(known_global=<1 name>, keep_numbers=7, use_given_names=True)
    """

    known_global: Sequence[str] = field(default=(), repr=False)
    keep_numbers: Iterable[str] = field(default=tuple(SERVICE_NUMBERS), repr=False)
    use_given_names: bool = True
    _global_compiled: list = field(init=False, repr=False, compare=False)
    _global_terms: dict[str, _Term] = field(init=False, repr=False, compare=False)
    _global_keys: frozenset[str] = field(init=False, repr=False, compare=False)
    _global_unbounded: bool = field(init=False, repr=False, compare=False)
    _global_always: bool = field(init=False, repr=False, compare=False)
    _given_keys: frozenset[str] = field(init=False, repr=False, compare=False)
    _given: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _keep: frozenset[str] = field(init=False, repr=False, compare=False)
    _words: frozenset[str] = field(init=False, repr=False, compare=False)
    _global_by_key: dict[str, list[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.known_global, str):
            raise TypeError("known_global must be a sequence of names, not one string")
        names = tuple(sorted({v for v in self.known_global if isinstance(v, str)}))
        object.__setattr__(self, "known_global", names)
        words = name_words()
        terms: dict[str, _Term] = {}
        for value in names:
            for term in _terms_for.__wrapped__(value, words):
                # a term's rules follow from its text alone; a name wins over other kinds
                if term.text not in terms or term.kind == "name":
                    terms[term.text] = term
        object.__setattr__(self, "_words", words)
        # compiled on first use: with hundreds of thousands of names the regex takes seconds to
        # build, and a column of texts usually needs only the few terms its words can start
        object.__setattr__(self, "_global_compiled", [])
        keys = {_first_token(t.text) for t in terms.values() if t.bounded}
        object.__setattr__(self, "_global_keys", frozenset(k for k in keys if k))
        object.__setattr__(self, "_global_unbounded", any(not t.bounded for t in terms.values()))
        object.__setattr__(self, "_global_always", "" in keys)
        object.__setattr__(self, "_global_terms", {t.text: t for t in terms.values()})
        by_key: dict[str, list[str]] = {}
        for t in terms.values():
            by_key.setdefault(_first_token(t.text) if t.bounded else "", []).append(t.text)
        object.__setattr__(self, "_global_by_key", by_key)
        keep = frozenset(_NON_DIGIT.sub("", str(n)) for n in self.keep_numbers)
        object.__setattr__(self, "keep_numbers", tuple(sorted(keep)))
        object.__setattr__(self, "_keep", keep)
        given = [n for n in given_names() if n.lower() not in words]
        pattern = None
        if self.use_given_names and given:
            pattern = _given_regex(tuple(sorted(set(given))))
        object.__setattr__(self, "_given", pattern)
        object.__setattr__(self, "_given_keys", frozenset(_first_token(n.lower()) for n in given))

    def __repr__(self) -> str:
        count = len(self.known_global)
        return (f"Scrubber(known_global=<{count} name{'' if count == 1 else 's'}>, "
                f"keep_numbers={len(self._keep)}, use_given_names={self.use_given_names})")

    # one text ------------------------------------------------------------------------------
    @property
    def _global(self) -> re.Pattern[str] | None:
        """The regex of every known name (compiled once, on first use)."""
        if not self._global_compiled:
            self._global_compiled.append(_names_regex(self._global_terms.values()))
        return self._global_compiled[0]

    def _global_subset(self, texts: Iterable[str]) -> _GlobalSubset:
        """The known names that ``texts`` can hold, as one regex (see :class:`_GlobalSubset`)."""
        keys: set[str] = set()
        for text in texts:
            keys.update(_TOKEN.findall(text.translate(_FOLD).lower()))
        keys &= self._global_keys
        chosen = {t for k in (*sorted(keys), "") for t in self._global_by_key.get(k, ())}
        # a name spelled with a letter that regex case-folding ties to another (dotless i, long
        # s, Greek) can match a word other than its own: always in
        chosen.update(t for t in self._global_terms if _QUIRKY.search(t))
        # most of the names anyway: the full regex, compiled once for every column
        if 2 * len(chosen) >= len(self._global_terms):
            return _GlobalSubset(self._global, frozenset(keys))
        pattern = _names_regex(self._global_terms[t] for t in sorted(chosen))
        return _GlobalSubset(pattern, frozenset(keys))

    def scrub(self, text: str, known: Iterable[str] = (), *,
              subset: _GlobalSubset | None = None) -> ScrubResult:
        """Scrub one text.

        Parameters
        ----------
        text : str
            Free text as written.
        known : iterable of str
            Identifier values of the same record (names, phone, email, address): each value,
            and each word of three or more letters of a name, is removed case-insensitively.

        subset : optional
            Internal: the known names a batch of texts can hold (:meth:`scrub_series`).

        Returns
        -------
        ScrubResult
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        if isinstance(known, str):
            known = (known,)
        work = _start(text)
        terms = [t for value in known if isinstance(value, str)
                 for t in _terms_for(value, self._words)]
        # A replacement can open a match for an earlier pass ("00000000WWW.0": once the digits
        # are gone, "WWW.0" starts a web address), so the passes repeat until nothing changes:
        # that makes scrubbing idempotent. Each round that changes anything replaces text with
        # markers, so this ends; almost every text needs one round, or two.
        for _ in range(8):
            before = work
            work = self._round(work, terms, subset)
            if work == before:
                break
        return _finish(work)

    def _round(self, work: str, terms: list[_Term], subset: _GlobalSubset | None = None) -> str:
        tokens = set(_TOKEN.findall(work.translate(_FOLD).lower()))
        work = self._patterns(work, tokens)
        if not _CUE_KEYS.isdisjoint(tokens):
            work = _CUE.sub(self._cue_sub, work)
        if terms:
            work = self._known(work, terms)
        if self._global_terms and (
            self._global_always
            or not self._global_keys.isdisjoint(tokens)
            or (self._global_unbounded and _CJK.search(work))
        ):
            # the batch's smaller regex finds the same names as the full one when every name
            # word of this text is one it was built for (a replacement can leave a new word)
            use = subset.pattern if subset is not None and (
                tokens & self._global_keys) <= subset.keys else self._global
            if use is not None:
                work = use.sub(self._global_sub, work)
        if self._given is not None and not self._given_keys.isdisjoint(tokens):
            work = _sub_kind(self._given, work, "name")
        if "@" in work:
            work = _sub_kind(_HANDLE, work, "name")
        return work

    def _patterns(self, work: str, tokens: set[str]) -> str:
        if "@" in work or (("(" in work or "[" in work) and "at" in tokens):
            work = _sub_kind(_EMAIL, work, "email")
        if "." in work or "/" in work:
            work = _URL.sub(_url_sub, work)
        has_digit = _DIGIT.search(work) is not None
        if has_digit:
            work = _sub_kind(_ADDRESS, work, "address")
            if not _PO_KEYS.isdisjoint(tokens):
                work = _sub_kind(_PO_BOX, work, "address")
        if not _STREET_KEYS.isdisjoint(tokens):
            work = _sub_kind(_STREET, work, "address")
        if has_digit:
            work = _sub_kind(_DATE, work, "date")
            keep = self._keep
            work = _PHONE.sub(lambda m: _phone_sub(m, keep, "phone"), work)
            work = _LONG_NUMBER.sub(lambda m: _phone_sub(m, keep, "number"), work)
        return work

    @staticmethod
    def _cue_sub(match: re.Match[str]) -> str:
        whole, name = match.group(0), match.group("name")
        cue = match.group("cue")
        first_stop = (_NOT_A_NAME if cue is not None and cue.lower() in _WEAK_CUES
                      else _NEVER_A_NAME)
        tokens = name.split()
        kept = 0
        for token in tokens:
            if token.strip(_STRIP_TOKEN).lower() in (first_stop if kept == 0 else _NOT_A_NAME):
                break
            kept += 1
        if kept == 0:
            return whole
        # keep the cue, and any words after the name that are not part of it
        end = 0
        for token in tokens[:kept]:
            end = name.index(token, end) + len(token)
        start = match.start("name") - match.start()
        return whole[:start] + _MARKERS["name"] + whole[start + end:]

    def _known(self, work: str, terms: list[_Term]) -> str:
        folded = work.translate(_FOLD)
        lowered = folded.lower()
        if len(lowered) != len(work):  # a character whose lower case is longer: use a regex
            by_text = {t.text: t for t in terms}
            pattern = _names_regex(terms)
            return pattern.sub(lambda m: _term_sub(m, by_text), work) if pattern else work
        spans = []
        for term in terms:
            start = lowered.find(term.text)
            while start != -1:
                end = start + len(term.text)
                if (
                    (not term.bounded or _boundary(lowered, start, end))
                    and (not term.capitalised_only or work[start].isupper())
                ):
                    spans.append((start, -end, term.kind))
                start = lowered.find(term.text, start + 1)
        if not spans:
            return work
        spans.sort()
        out, position = [], 0
        for start, neg_end, kind in spans:
            if start < position:
                continue
            out.append(work[position:start])
            out.append(_MARKERS[kind])
            position = -neg_end
        out.append(work[position:])
        return "".join(out)

    def _global_sub(self, match: re.Match[str]) -> str:
        return _term_sub(match, self._global_terms)

    # many texts ----------------------------------------------------------------------------
    def scrub_series(
        self,
        texts: pd.Series,
        *,
        known_per_row: pd.Series | pd.DataFrame | None = None,
    ) -> tuple[pd.Series, pd.DataFrame]:
        """Scrub a column of free text.

        Parameters
        ----------
        texts : Series
            Free text; missing values stay missing.
        known_per_row : Series or DataFrame, optional
            Each row's identifier values, on the same index as ``texts``: a Series whose
            elements are strings or sequences of strings, or a DataFrame of identifier columns.

        Returns
        -------
        scrubbed : Series
            ``string`` dtype, same index and name as ``texts``.
        found : DataFrame
            Tidy counts, one row per text and kind found: ``row`` (the index label of
            ``texts``), ``kind``, ``count``. Never the removed text.

        Examples
        --------
        >>> s = Scrubber()
        >>> out, found = s.scrub_series(pd.Series(["ring Sarah on 0412345678", None]))
        >>> out.tolist()
        ['ring [NAME] on [PHONE]', <NA>]
        >>> found.to_dict("records")
        [{'row': 0, 'kind': 'name', 'count': 1}, {'row': 0, 'kind': 'phone', 'count': 1}]
        """
        if not isinstance(texts, pd.Series):
            raise TypeError("texts must be a pandas Series")
        known = _known_lists(known_per_row, texts.index)
        codes, uniques = pd.factorize(texts, use_na_sentinel=True)
        values = [str(value) for value in uniques]
        # each distinct text is scrubbed once; a row's own identifiers change the result only
        # where one of their terms is in the text, and only those rows are scrubbed on their own
        subset = self._global_subset(values) if self._global_terms else None
        subsets = [None if _QUIRKY.search(v) else subset for v in values]
        done = [self.scrub(v, subset=subsets[i]) for i, v in enumerate(values)]
        results: list[ScrubResult | None] = [done[c] if c >= 0 else None for c in codes]
        if known is not None:
            lowered: dict[int, str | None] = {}
            pieces: dict[str, tuple[str, ...] | None] = {}
            own: dict[tuple[int, tuple[str, ...]], ScrubResult] = {}
            for position, (code, row_known) in enumerate(zip(codes.tolist(), known, strict=True)):
                if code < 0 or not row_known:
                    continue
                if code not in lowered:
                    work = _start(values[code])
                    low = work.translate(_FOLD).lower()
                    lowered[code] = low if len(low) == len(work) else None
                low = lowered[code]
                # identifiers none of whose terms are in the text change nothing: leave them out,
                # so rows that share a text and the identifiers in it are scrubbed once
                present = row_known if low is None else tuple(
                    value for value in row_known if not _absent(value, low, pieces))
                if not present:
                    continue
                if (code, present) not in own:
                    own[code, present] = self.scrub(values[code], present, subset=subsets[code])
                results[position] = own[code, present]
        scrubbed = pd.Series([r.text if r is not None else pd.NA for r in results],
                             index=texts.index, name=texts.name, dtype="string")
        rows, kinds, counts = [], [], []
        order = {kind: i for i, kind in enumerate(KINDS)}
        for label, result in zip(texts.index, results, strict=True):
            if result is None or not result.replacements:
                continue
            for kind, count in sorted(result.counts().items(), key=lambda kv: order[kv[0]]):
                rows.append(label)
                kinds.append(kind)
                counts.append(count)
        found = pd.DataFrame({
            "row": pd.Series(rows, dtype=texts.index.dtype),
            "kind": pd.Series(kinds, dtype="string"),
            "count": pd.Series(counts, dtype="int64"),
        })
        return scrubbed, found


_NOT_A_RUN = re.compile(r"[^\w\s\-‐]{2,}")


def _absent(value: str, lowered: str, cache: dict[str, tuple[str, ...] | None]) -> bool:
    """Whether no search term of the identifier ``value`` can be in ``lowered`` (a folded,
    lower-case text of the same length as the text), without building the terms.

    A value that is not a name has one term, itself. Every term of a name (:func:`_terms_for`)
    is cut at spaces, hyphens, quotes or punctuation, so one that holds a word character holds
    a whole run of them: if no run of word characters of the name is in the text, no term is.
    Values whose terms may hold no word character, or whose lower case changes length, are
    never called absent.
    """
    if value not in cache:
        text = " ".join(value.translate(_FOLD).split())
        low = text.lower()
        if len(low) != len(text) or _PRIVATE.search(low):
            cache[value] = None
        elif "@" in text or _DIGIT.search(text):
            cache[value] = (low,)
        else:
            runs = tuple(dict.fromkeys(_TOKEN.findall(low)))
            cache[value] = runs if runs and not _NOT_A_RUN.search(low) else None
    runs = cache[value]
    return runs is not None and not any(run in lowered for run in runs)


def _start(text: str) -> str:
    """The text as scrubbing starts on it: stray markers out, placeholders protected."""
    work = _PRIVATE.sub("\ufffd", text)
    if "[" in work:
        work = _EXISTING.sub(lambda m: _OLD + _KIND_CHAR[_PLACEHOLDER_KIND[m.group(1)]], work)
    return work


def _first_token(text: str) -> str:
    """First word token of a lower-case term; empty if the term starts with a non-word."""
    match = _TOKEN.match(text)
    return match.group(0) if match else ""


def _fold_key(text: str) -> str:
    return " ".join(text.translate(_FOLD).split()).lower()


def _boundary(lowered: str, start: int, end: int) -> bool:
    before = lowered[start - 1] if start > 0 else " "
    after = lowered[end] if end < len(lowered) else " "
    return not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_")


def _finish(work: str) -> ScrubResult:
    """Turn markers into placeholders and record the spans of the new ones."""
    if _NEW not in work and _OLD not in work:
        return ScrubResult(work, ())
    out: list[str] = []
    spans: list[tuple[str, int, int]] = []
    position = length = 0
    for match in _ANY_MARKER.finditer(work):
        piece = work[position:match.start()]
        out.append(piece)
        length += len(piece)
        kind = _CHAR_KIND[match.group(2)]
        placeholder = PLACEHOLDERS[kind]
        out.append(placeholder)
        if match.group(1) == _NEW:
            spans.append((kind, length, length + len(placeholder)))
        length += len(placeholder)
        position = match.end()
    out.append(work[position:])
    return ScrubResult("".join(out), tuple(spans))


def _known_lists(known: pd.Series | pd.DataFrame | None, index: pd.Index) -> list[tuple] | None:
    if known is None:
        return None
    if not known.index.equals(index):
        raise ValueError("known_per_row must have the same index as texts")
    if isinstance(known, pd.DataFrame):
        rows = known.itertuples(index=False)
        return [tuple(v for v in row if isinstance(v, str)) for row in rows]
    out = []
    for value in known.tolist():
        if isinstance(value, str):
            out.append((value,))
        elif isinstance(value, Iterable):
            out.append(tuple(v for v in value if isinstance(v, str)))
        else:
            out.append(())
    return out


@cache
def _default_scrubber() -> Scrubber:
    return Scrubber()


def scrub_text(text: str, *, known: Iterable[str] = ()) -> ScrubResult:
    """Scrub one text with the built-in patterns and given names.

    Parameters
    ----------
    text : str
        Free text as written.
    known : iterable of str
        The same record's identifier values (names, phone, email, address).

    Returns
    -------
    ScrubResult
        The scrubbed text and the kind and span of each placeholder put in.

    Examples
    --------
    >>> r = scrub_text("I'm Leanne, 3/12 Smith St Footscray VIC 3011, born 3 March 1985",
    ...                known=["Leanne Tran"])
    >>> r.text
    "I'm [NAME], [ADDRESS], born [DATE]"
    >>> r.counts()
    {'name': 1, 'address': 1, 'date': 1}
    """
    return _default_scrubber().scrub(text, known)


def scrub_series(
    texts: pd.Series,
    *,
    known_per_row: pd.Series | pd.DataFrame | None = None,
    known_global: Iterable[str] = (),
) -> tuple[pd.Series, pd.DataFrame]:
    """Scrub a column of free text (builds a :class:`Scrubber`; reuse one for many columns).

    See :meth:`Scrubber.scrub_series` for parameters and the two frames returned.

    Examples
    --------
    >>> out, found = scrub_series(pd.Series(["Tran said no"], index=[7]), known_global=["Mai Tran"])
    >>> out[7], found.to_dict("records")
    ('[NAME] said no', [{'row': 7, 'kind': 'name', 'count': 1}])
    """
    scrubber = Scrubber(known_global=tuple(known_global))
    return scrubber.scrub_series(texts, known_per_row=known_per_row)
