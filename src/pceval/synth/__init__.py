"""Synthetic evaluations with known ground truth.

:func:`generate_evaluation` writes a ready evaluation project: ``pceval.yml``, a pseudonym key,
the four raw exports in their platforms' formats (REDCap, KoboToolbox, Qualtrics) with the
faults real exports have, and ``truth/`` (the generating parameters, the values realised on the
simulated data, every fault injected, and every identifier placed).

Modules: :mod:`~pceval.synth.population` (the simulated evaluation and its story),
:mod:`~pceval.synth.messiness` (faults), :mod:`~pceval.synth.exports` (platform formats),
:mod:`~pceval.synth.canaries` (identifiers placed), :mod:`~pceval.synth.identities` and
:mod:`~pceval.synth.text` (invented people and free text).
"""

from pceval.synth.generate import SynthSummary, generate_evaluation, ground_truth, synthetic_key
from pceval.synth.population import CONSTRUCTS, Simulation, simulate

__all__ = ["CONSTRUCTS", "Simulation", "SynthSummary", "generate_evaluation", "ground_truth",
           "simulate", "synthetic_key"]
