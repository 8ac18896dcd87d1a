"""One exception hierarchy for everything pceval reports to a user.

Every error carries a stable ``code`` and, where known, the location of the problem (file, row,
field). ``str(error)`` is the one-line message the CLI prints: location first, then what is
wrong, then the fix.
"""

from __future__ import annotations

from pathlib import Path


def visible(text: str) -> str:
    r"""``text`` with line breaks and other invisible or control characters written as escapes.

    A header or file name taken from a hostile file may hold them; escaped, the message stays
    one line and shows what is really there.

    Examples
    --------
    >>> print(visible("Start Date\nEnd\ufeffDate é"))
    Start Date\nEnd\ufeffDate é
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else
                   ch.encode("unicode_escape").decode("ascii") for ch in text)


class PcevalError(Exception):
    """Base class of pceval's errors.

    Parameters
    ----------
    message : str
        What is wrong, in words a user can act on.
    file, row, field : optional
        Where the problem is. ``row`` is 1-based as a user counts rows in the file.
    fix : str, optional
        What the user can do about it.

    Examples
    --------
    >>> str(PcevalError("not a number", file="raw/a.csv", row=3, field="age", fix="use digits"))
    'raw/a.csv, row 3, field age: not a number (fix: use digits)'
    """

    code = "PCE000"

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.row = row
        self.field = field
        self.fix = fix
        super().__init__(self.__str__())

    @property
    def location(self) -> str:
        parts = []
        if self.file:
            parts.append(visible(self.file))
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field:
            parts.append(f"field {visible(str(self.field))}")
        return ", ".join(parts)

    def __str__(self) -> str:
        text = visible(" ".join(self.message.split()))
        if self.location:
            text = f"{self.location}: {text}"
        if self.fix:
            text = f"{text} (fix: {visible(' '.join(self.fix.split()))})"
        return text


class ConfigError(PcevalError):
    """The evaluation project's ``pceval.yml`` or its layout is wrong."""

    code = "PCE100"


class InstrumentError(PcevalError):
    """An instrument, catalogue or codebook file is malformed."""

    code = "PCE200"


class DataError(PcevalError):
    """A raw export cannot be read or attributed."""

    code = "PCE300"


class PrivacyError(PcevalError):
    """A privacy guarantee would be broken (missing key, identifier in an output)."""

    code = "PCE400"


class AnalysisError(PcevalError):
    """The evaluation plan cannot be run as written."""

    code = "PCE500"


class ReportError(PcevalError):
    """A report cannot be rendered."""

    code = "PCE600"
