"""Privacy: keyed pseudonyms, free-text scrubbing and disclosure control.

- :mod:`~pceval.privacy.pseudonym`: the evaluation's secret key and HMAC pseudonyms that link
  a woman's records without naming her;
- :mod:`~pceval.privacy.scrub`: names, phone numbers, emails, addresses, full dates and web
  addresses taken out of free text;
- :mod:`~pceval.privacy.disclosure`: small cells suppressed in result tables, with the cells
  that would reveal them, and small services pooled before analysis.
"""

from pceval.privacy.disclosure import (
    disclosure_violations,
    pool_small_groups,
    suppress_results,
)
from pceval.privacy.pseudonym import (
    load_key,
    new_key,
    pseudonymise,
    write_key_file,
)
from pceval.privacy.scrub import (
    PLACEHOLDERS,
    SERVICE_NUMBERS,
    Scrubber,
    ScrubResult,
    scrub_series,
    scrub_text,
)

__all__ = [
    "PLACEHOLDERS",
    "SERVICE_NUMBERS",
    "ScrubResult",
    "Scrubber",
    "disclosure_violations",
    "load_key",
    "new_key",
    "pool_small_groups",
    "pseudonymise",
    "scrub_series",
    "scrub_text",
    "suppress_results",
    "write_key_file",
]
