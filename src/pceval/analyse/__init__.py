"""The evaluation stream's analyses: statistical building blocks and the plan runner."""

from pceval.analyse.methods import paired_change, proportions, wilson_interval
from pceval.analyse.plan import Plan, Question, load_plan
from pceval.analyse.run import DisclosureRules, run_plan, run_question

__all__ = [
    "DisclosureRules", "Plan", "Question", "load_plan", "paired_change", "proportions",
    "run_plan", "run_question", "wilson_interval",
]
