"""Instruments: the model, loading and checks."""

from pceval.instrument.expressions import Expression, ExpressionError, parse_expression
from pceval.instrument.load import load_catalogue, load_instrument, load_instruments
from pceval.instrument.model import (
    Choice,
    DomainCatalogue,
    Instrument,
    Item,
    ItemType,
    MissingCode,
    MissingKind,
    Role,
    Scale,
    Sensitivity,
    multi_column,
    text_in,
)

__all__ = [
    "Choice", "DomainCatalogue", "Expression", "ExpressionError", "Instrument", "Item", "ItemType",
    "MissingCode", "MissingKind", "Role", "Scale", "Sensitivity", "load_catalogue",
    "load_instrument", "load_instruments", "multi_column", "parse_expression", "text_in",
]
