"""Scales, domains, SCORE ratings and change, scored from the instruments' declarations."""

from pceval.score.change import CHANGE_COLUMNS, score_change
from pceval.score.dex import dex_rating, dex_records, score_dex
from pceval.score.domains import domain_columns, pomp, scale_range, score_domains
from pceval.score.scales import item_bounds, reverse_key, score_band, score_scale, score_scales

__all__ = ["CHANGE_COLUMNS", "dex_rating", "dex_records", "domain_columns", "item_bounds", "pomp",
           "reverse_key", "scale_range", "score_band", "score_change", "score_dex", "score_domains",
           "score_scale", "score_scales"]
