"""Scales and domains, scored from the instruments' declarations."""

from pceval.score.scales import item_bounds, reverse_key, score_scale, score_scales

__all__ = ["item_bounds", "reverse_key", "score_scale", "score_scales"]
