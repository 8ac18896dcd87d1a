"""Qualitative coding workflow and agreement.

Open-text answers are coded for themes: coding sheets out, codings back, themes counted. The
agreement statistics themselves are :func:`pceval.code.agreement.agreement`.

The workflow (``pceval code export`` / ``pceval code import``, or the functions below):

1. :func:`text_segments` takes every non-empty free-text answer from the scored, scrubbed data
   (free-text items are those the instruments mark ``sensitivity: free_text``);
2. :func:`assign_segments` gives each segment to a coder, a share of them to two;
3. :func:`export_sheets` writes one XLSX workbook per coder (instructions, the thematic
   codebook of ``instruments/themes.yml``, a 0/1 column per code) and the manifest;
4. :func:`import_sheets` reads them back, checking every cell, and writes the long codings,
   the agreement on double-coded segments (:func:`coding_agreement`), the consensus with its
   audit (:func:`consensus`; disagreements go to a consensus workbook for adjudication), the
   theme frequencies with disclosure control (:func:`theme_frequencies`) and, when switched
   on, the quote bank (:func:`quote_bank`).

:func:`write_coding_sheets` does step 3 inside a build.
"""

from pceval.code.assign import ASSIGNMENT_COLUMNS, assign_segments
from pceval.code.consensus import AUDIT_COLUMNS, CODING_COLUMNS, CONSENSUS_RULE, consensus
from pceval.code.frequencies import FREQUENCY_COLUMNS, theme_frequencies
from pceval.code.quotes import QUOTE_COLUMNS, quote_bank
from pceval.code.reliability import AGREEMENT_COLUMNS, coding_agreement
from pceval.code.segments import SEGMENT_COLUMNS, free_text_items, segment_id, text_segments
from pceval.code.sheets import read_coding_workbook, read_consensus_workbook, write_coding_workbook
from pceval.code.workflow import (
    MANIFEST_COLUMNS,
    CodingExport,
    CodingImport,
    coding_folder,
    export_sheets,
    import_sheets,
    project_codebook,
    write_coding_sheets,
)

__all__ = [
    "AGREEMENT_COLUMNS",
    "ASSIGNMENT_COLUMNS",
    "AUDIT_COLUMNS",
    "CODING_COLUMNS",
    "CONSENSUS_RULE",
    "FREQUENCY_COLUMNS",
    "MANIFEST_COLUMNS",
    "QUOTE_COLUMNS",
    "SEGMENT_COLUMNS",
    "CodingExport",
    "CodingImport",
    "assign_segments",
    "coding_agreement",
    "coding_folder",
    "consensus",
    "export_sheets",
    "free_text_items",
    "import_sheets",
    "project_codebook",
    "quote_bank",
    "read_coding_workbook",
    "read_consensus_workbook",
    "segment_id",
    "text_segments",
    "theme_frequencies",
    "write_coding_sheets",
    "write_coding_workbook",
]
