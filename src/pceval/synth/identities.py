"""Synthetic identifiers: names, phone numbers, emails, street addresses, dates of birth.

Every identifier the generator writes is invented here, vectorised (one call makes a million),
and drawn only from the generator's random stream, so the same seed gives the same people.

They look real on purpose: de-identification and free-text scrubbing are tested against them
(see :mod:`pceval.synth.canaries`). Care is taken that they are not anyone's real details:

- landline numbers are in the ranges the Australian Communications and Media Authority sets
  aside for fiction (``0X 5550 xxxx`` and ``0X 7010 xxxx``); mobile numbers are in the
  ``0491 57x xxx`` block where ACMA's fictional mobile numbers sit;
- email addresses combine an invented name with random digits;
- street addresses pair invented house numbers with common street names.

Names are at least five letters and none is an everyday English word, so a test that looks
for a name in a published file cannot be fooled by a word such as "May" or "Hope".
"""

from __future__ import annotations

import numpy as np

WOMEN_GIVEN = (
    "Amanda", "Amelia", "Angela", "Belinda", "Bianca", "Bronwyn", "Caitlin", "Carmela",
    "Chloe", "Danielle", "Deborah", "Eleni", "Emily", "Fatima", "Fiona", "Francesca",
    "Gabrielle", "Hannah", "Harpreet", "Isabella", "Jacinta", "Jasmine", "Jessica", "Joanne",
    "Kirsty", "Kylie", "Lakshmi", "Leanne", "Maryam", "Megan", "Melissa", "Michelle", "Monique",
    "Nadia", "Narelle", "Natalie", "Natasha", "Nicole", "Phuong", "Priya", "Rachael", "Rebecca",
    "Renee", "Rhiannon", "Samantha", "Samira", "Sandra", "Sharon", "Simone", "Sophie",
    "Stephanie", "Tahlia", "Tamara", "Tanya", "Tegan", "Vanessa", "Yasmin", "Zainab", "Alinta",
    "Kirra", "Tahnee", "Jedda", "Mariam", "Huong", "Simran", "Katerina", "Lorraine", "Kathleen",
    "Rochelle", "Shelley",
)
MEN_GIVEN = (
    "Aaron", "Adrian", "Andrew", "Anthony", "Benjamin", "Brendan", "Bruce", "Cameron", "Christos",
    "Craig", "Damien", "Daniel", "Darren", "David", "Dimitri", "Douglas", "Gregory", "Hamish",
    "Hassan", "Ibrahim", "Jarrod", "Jason", "Jeremy", "Jonathan", "Joshua", "Justin", "Kevin",
    "Khaled", "Lachlan", "Matthew", "Michael", "Mohammed", "Nathan", "Nicholas", "Oliver",
    "Patrick", "Rajesh", "Robert", "Salvatore", "Samuel", "Sandeep", "Shane", "Simon", "Stavros",
    "Stephen", "Steven", "Thomas", "Timothy", "Trent", "Vikram", "Wayne", "Giuseppe", "Brayden",
    "Jackson", "Connor", "Mustafa", "Tevita", "Sione", "Giorgos", "Jarrah",
)
SURNAMES = (
    "Abernethy", "Ahmadi", "Alvarez", "Ashworth", "Barkley", "Bennetts", "Blackwood", "Bonaccorso",
    "Brennan", "Castellano", "Chatterjee", "Costanzo", "Dimitriou", "Donnelly", "Drummond",
    "Ellison", "Fairbairn", "Fitzgerald", "Galloway", "Georgiou", "Gillespie", "Haddad",
    "Hartigan", "Hennessy", "Hollingsworth", "Iskander", "Jablonski", "Kalantzis", "Kavanagh",
    "Kowalski", "Lachance", "Lombardi", "McAlister", "McKenzie", "Mahoney", "Makris", "Nakamura",
    "Nguyen", "Obeid", "Okafor", "O'Sullivan", "Papadopoulos", "Pemberton", "Petrovic",
    "Quintero", "Rahimi", "Ratcliffe", "Rosenthal", "Saunders", "Schofield", "Sheridan",
    "Sorensen", "Stavrou", "Tarrant", "Thornbury", "Truong", "Vasquez", "Villanueva", "Wakefield",
    "Whitcombe", "Yilmaz", "Zappala", "Mahmoud", "Phillips", "Singh", "Sharma", "Le Roux",
    "Van der Berg", "Dhillon", "Fonoti", "Tuilagi", "Mansour",
)
STREET_NAMES = (
    "Banksia", "Wattle", "Acacia", "Jacaranda", "Kookaburra", "Waratah", "Grevillea", "Boronia",
    "Ironbark", "Bottlebrush", "Currawong", "Lillypilly", "Myrtle", "Casuarina", "Tallowwood",
    "Bunya", "Kurrajong", "Melaleuca", "Paperbark", "Coolabah", "Wirraway", "Wyndham",
    "Carrington", "Ellesmere", "Glenhuntly", "Hawthorne", "Inverness", "Kensington", "Lonsdale",
    "Macquarie", "Northcote", "Pendlebury", "Queensberry", "Rosedale", "Somerset", "Tennyson",
)
STREET_TYPES = ("Street", "Road", "Crescent", "Avenue", "Court", "Place", "Drive", "Close", "Parade",
                "Way", "Grove", "Terrace")
SUBURBS = (  # suburb, state, postcode
    ("Dubbo", "NSW", "2830"), ("Penrith", "NSW", "2750"), ("Campbelltown", "NSW", "2560"),
    ("Wagga Wagga", "NSW", "2650"), ("Tamworth", "NSW", "2340"), ("Blacktown", "NSW", "2148"),
    ("Frankston", "VIC", "3199"), ("Sunshine", "VIC", "3020"), ("Shepparton", "VIC", "3630"),
    ("Dandenong", "VIC", "3175"), ("Ballarat", "VIC", "3350"), ("Bendigo", "VIC", "3550"),
    ("Logan Central", "QLD", "4114"), ("Toowoomba", "QLD", "4350"), ("Townsville", "QLD", "4810"),
    ("Caboolture", "QLD", "4510"), ("Elizabeth", "SA", "5112"), ("Mount Gambier", "SA", "5290"),
    ("Armadale", "WA", "6112"), ("Rockingham", "WA", "6168"), ("Launceston", "TAS", "7250"),
    ("Glenorchy", "TAS", "7010"), ("Palmerston", "NT", "0830"), ("Belconnen", "ACT", "2617"),
)
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "bigpond.com", "yahoo.com.au", "icloud.com",
                 "hotmail.com", "optusnet.com.au")
LANDLINE_AREAS = ("02", "03", "07", "08")
LANDLINE_BLOCKS = ("5550", "7010")


def _pick(rng: np.random.Generator, options: tuple[str, ...], n: int) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.integers(0, len(options), n)]


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal text of non-negative integers."""
    return np.char.zfill(values.astype(np.int64).astype(str), width).astype(object)


def given_names(rng: np.random.Generator, n: int, *, women: bool) -> np.ndarray:
    return _pick(rng, WOMEN_GIVEN if women else MEN_GIVEN, n)


def surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    return _pick(rng, SURNAMES, n)


def mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mobile numbers written as Australians write them: ``0491 572 983``."""
    middle = rng.integers(570, 580, n)
    last = rng.integers(0, 1000, n)
    return "0491 " + _digits(middle, 3) + " " + _digits(last, 3)


def landlines(rng: np.random.Generator, n: int) -> np.ndarray:
    """Landline numbers, half written ``(02) 5550 1234`` and half ``02 7010 1234``."""
    area = _pick(rng, LANDLINE_AREAS, n)
    block = _pick(rng, LANDLINE_BLOCKS, n)
    last = _digits(rng.integers(0, 10000, n), 4)
    bracketed = rng.random(n) < 0.5
    prefix = np.where(bracketed, "(" + area + ") ", area + " ")
    return prefix + block + " " + last


def phones(rng: np.random.Generator, n: int, *, mobile_share: float = 0.85) -> np.ndarray:
    """Phone numbers, mostly mobiles (as women's safe numbers mostly are)."""
    return np.where(rng.random(n) < mobile_share, mobiles(rng, n), landlines(rng, n))


def _email_part(text: np.ndarray) -> np.ndarray:
    out = np.char.lower(text.astype(str))
    for char in (" ", "'"):
        out = np.char.replace(out, char, "")
    return out.astype(object)


def emails(rng: np.random.Generator, given: np.ndarray, family: np.ndarray,
           domain: np.ndarray | None = None) -> np.ndarray:
    """Personal emails such as ``priya.kowalski84@gmail.com`` (or at a given domain)."""
    n = len(given)
    g, f = _email_part(given), _email_part(family)
    style = rng.integers(0, 3, n)
    digits = _digits(rng.integers(1, 100, n), 2)
    local = np.where(style == 0, g + "." + f, np.where(style == 1, g + f + digits, g[0:n] + "_" + f))
    if domain is None:
        return local + "@" + _pick(rng, EMAIL_DOMAINS, n)
    return g + "." + f + "@" + domain


def street_lines(rng: np.random.Generator, n: int) -> np.ndarray:
    """The street part of an address: ``14 Banksia Crescent`` or ``Unit 3/27 Wattle Street``."""
    number = rng.integers(1, 180, n).astype(str).astype(object)
    street = _pick(rng, STREET_NAMES, n) + " " + _pick(rng, STREET_TYPES, n)
    unit = rng.random(n) < 0.2
    unit_no = rng.integers(1, 12, n).astype(str).astype(object)
    return np.where(unit, "Unit " + unit_no + "/" + number + " " + street, number + " " + street)


def addresses(rng: np.random.Generator, n: int, street: np.ndarray | None = None) -> np.ndarray:
    """Postal addresses: ``14 Banksia Crescent, Dubbo NSW 2830``."""
    street = street_lines(rng, n) if street is None else street
    idx = rng.integers(0, len(SUBURBS), n)
    town = np.asarray([f"{s} {st} {pc}" for s, st, pc in SUBURBS], dtype=object)[idx]
    return street + ", " + town


def birth_dates(rng: np.random.Generator, n: int) -> np.ndarray:
    """Dates of birth written ``14/07/1988`` (women aged about 20 to 60)."""
    days = rng.integers(np.datetime64("1965-01-01").astype(np.int64),
                        np.datetime64("2005-12-31").astype(np.int64), n)
    iso = np.datetime_as_string(days.astype("datetime64[D]"), unit="D").astype(object)
    return np.asarray([f"{d[8:10]}/{d[5:7]}/{d[0:4]}" for d in iso], dtype=object)


def ip_addresses(rng: np.random.Generator, n: int) -> np.ndarray:
    """IPv4 addresses in ranges Australian internet providers use."""
    first = np.asarray(("203", "101", "110", "120", "124", "144", "180", "49"), dtype=object)
    a = first[rng.integers(0, len(first), n)]
    rest = [rng.integers(0, 256, n).astype(str).astype(object) for _ in range(3)]
    return a + "." + rest[0] + "." + rest[1] + "." + rest[2]


def coordinates(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude as Qualtrics writes them (geolocated from the IP address)."""
    centres = np.array([(-33.8591, 151.2002), (-37.8159, 144.9669), (-27.4710, 153.0234),
                        (-34.9285, 138.6007), (-31.9523, 115.8613), (-42.8794, 147.3294),
                        (-35.2820, 149.1287), (-12.4611, 130.8418), (-32.2569, 148.6011)])
    idx = rng.integers(0, len(centres), n)
    jitter = rng.normal(0.0, 0.15, (n, 2))
    # Qualtrics stores the location as single-precision numbers and prints them in full
    lat = (centres[idx, 0] + jitter[:, 0]).astype(np.float32).astype(np.float64)
    lon = (centres[idx, 1] + jitter[:, 1]).astype(np.float32).astype(np.float64)
    fmt = np.vectorize(lambda v: f"{v:.13f}".rstrip("0").rstrip("."), otypes=[object])
    return fmt(lat), fmt(lon)
