"""Where the default instruments, evaluation plan and reports live.

In a wheel they are packaged under ``pceval/_defaults``; in a source checkout (editable
install, tests) they are the repository's top-level folders, which stay the one source of truth.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

FOLDERS = ("instruments", "analysis", "reports")


@cache
def defaults_root() -> Path:
    """Folder holding ``instruments/``, ``analysis/`` and ``reports/`` of this installation.

    Examples
    --------
    >>> (defaults_root() / "instruments").is_dir()
    True
    """
    packaged = Path(__file__).resolve().parent / "_defaults"
    if (packaged / "instruments").is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "instruments").is_dir() and (checkout / "src" / "pceval").is_dir():
        return checkout
    raise FileNotFoundError(  # pragma: no cover - only a broken installation gets here
        "pceval's default instruments were not found; reinstall pceval"
    )


def default_path(folder: str) -> Path:
    """Path of one default folder (``instruments``, ``analysis`` or ``reports``)."""
    if folder not in FOLDERS:
        raise ValueError(f"unknown folder {folder!r}; expected one of {FOLDERS}")
    return defaults_root() / folder
