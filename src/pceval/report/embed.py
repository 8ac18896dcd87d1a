"""Put a figure into a report as markdown, with its computed alt text.

Quarto takes ``fig-alt`` only as a literal cell option, but a figure's alt text must describe
its data, which differ from run to run. A cell with ``output: asis`` that prints
:func:`figure_markdown` gives a cross-referenceable figure (``{#fig-...}``) with a caption and
data-driven alt text, and renders the same under ``quarto render`` and pceval's own renderer.
"""

from __future__ import annotations

import base64
import io

from plotnine import ggplot


def _attribute(text: str) -> str:
    return " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"')


def figure_markdown(plot: ggplot, *, label: str, caption: str, alt: str, width: float = 7.5,
                    height: float = 4.5, dpi: int = 144) -> str:
    """Markdown for a plot embedded as a PNG data URI, with label, caption and alt text.

    Parameters
    ----------
    plot : plotnine.ggplot
        The figure (drawn from suppressed results only).
    label : str
        Cross-reference id, starting with ``fig-``.
    caption, alt : str
        Visible caption and alternative text for screen readers.

    Examples
    --------
    >>> from plotnine import aes, geom_point
    >>> import pandas as pd
    >>> md = figure_markdown(ggplot(pd.DataFrame({"x": [1], "y": [2]}), aes("x", "y")) + geom_point(),
    ...                      label="fig-x", caption="A point.", alt="One point at (1, 2).")
    >>> md.startswith("![A point.](data:image/png;base64,") and md.endswith('{#fig-x fig-alt="One point at (1, 2)."}')
    True
    """
    if not label.startswith("fig-"):
        raise ValueError(f"figure labels start with 'fig-', got {label!r}")
    buffer = io.BytesIO()
    plot.save(buffer, format="png", width=width, height=height, dpi=dpi, verbose=False)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    caption = " ".join(caption.split()).replace("[", "(").replace("]", ")")
    return f"![{caption}](data:image/png;base64,{data}){{#{label} fig-alt=\"{_attribute(alt)}\"}}"
