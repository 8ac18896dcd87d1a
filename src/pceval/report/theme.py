"""One look for every pceval figure: a clean plotnine theme and an accessible palette.

Colours
-------
Text is near-black ``#222222`` (contrast 15.9:1 against white) and axis labels dark grey
``#4D4D4D`` (8.4:1), both above the 4.5:1 WCAG 2.1 AA minimum for text. Grid lines are light
grey ``#E5E5E5``: they are guides, not information.

Data colours come from the Okabe–Ito palette (Okabe & Ito 2008, "Color Universal Design"),
distinguishable with the common colour-vision deficiencies. :data:`PALETTE` orders them by
contrast against white so the first colours a figure uses are the most legible; WCAG asks
3:1 of graphical objects, which the first four meet:

==============  =========  ==================
name            hex        contrast on white
==============  =========  ==================
blue            #0072B2    5.2:1
vermillion      #D55E00    3.9:1
bluish green    #009E73    3.4:1
reddish purple  #CC79A7    3.1:1
sky blue        #56B4E9    2.3:1
orange          #E69F00    2.3:1
yellow          #F0E442    1.3:1
==============  =========  ==================

Black (``#000000``, the eighth Okabe–Ito colour) is kept for reference marks such as the
overall estimate. Figures should not rely on colour alone: pair it with shape or position.

The contrast ratio is WCAG 2.1's ``(L1 + 0.05) / (L2 + 0.05)`` on relative luminance;
:func:`contrast_ratio` computes it and the tests check the numbers above.
"""

from __future__ import annotations

from plotnine import (
    element_blank,
    element_line,
    element_rect,
    element_text,
    scale_color_manual,
    scale_fill_manual,
    theme,
    theme_minimal,
)

__all__ = [
    "GRID_COLOUR",
    "MUTED_TEXT_COLOUR",
    "OKABE_ITO",
    "PALETTE",
    "REFERENCE_COLOUR",
    "TEXT_COLOUR",
    "contrast_ratio",
    "scale_colour_pceval",
    "scale_fill_pceval",
    "theme_pceval",
]

#: The eight Okabe–Ito colours by name.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Qualitative data colours, most legible on white first.
PALETTE: tuple[str, ...] = tuple(
    OKABE_ITO[name]
    for name in (
        "blue",
        "vermillion",
        "bluish_green",
        "reddish_purple",
        "sky_blue",
        "orange",
        "yellow",
    )
)

TEXT_COLOUR = "#222222"
MUTED_TEXT_COLOUR = "#4D4D4D"
GRID_COLOUR = "#E5E5E5"
REFERENCE_COLOUR = OKABE_ITO["black"]


def contrast_ratio(foreground: str, background: str = "#FFFFFF") -> float:
    """WCAG 2.1 contrast ratio of two ``#RRGGBB`` colours (1 to 21).

    Examples
    --------
    >>> round(contrast_ratio("#222222"), 1)
    15.9
    """
    lighter, darker = sorted(
        (_relative_luminance(foreground), _relative_luminance(background)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


def _relative_luminance(colour: str) -> float:
    hex_digits = colour.lstrip("#")
    channels = [int(hex_digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def theme_pceval(base_size: float = 11, base_family: str | None = None) -> theme:
    """The pceval figure theme: white background, light major grid, no ticks or borders.

    Parameters
    ----------
    base_size : float, default 11
        Base font size in points; titles and labels scale from it.
    base_family : str, optional
        Font family; plotnine's default when None.

    Returns
    -------
    plotnine.theme
        Add it to a plot: ``plot + theme_pceval()``.

    Examples
    --------
    >>> from plotnine import ggplot
    >>> plot = ggplot() + theme_pceval()
    """
    return theme_minimal(base_size=base_size, base_family=base_family) + theme(
        text=element_text(color=TEXT_COLOUR),
        axis_text=element_text(color=MUTED_TEXT_COLOUR, size=base_size * 0.9),
        axis_title=element_text(color=TEXT_COLOUR, size=base_size),
        plot_title=element_text(size=base_size * 1.25, weight="bold", ha="left"),
        plot_subtitle=element_text(color=MUTED_TEXT_COLOUR, size=base_size * 0.95, ha="left"),
        plot_caption=element_text(color=MUTED_TEXT_COLOUR, size=base_size * 0.8, ha="left"),
        plot_title_position="plot",
        plot_caption_position="plot",
        plot_background=element_rect(fill="white", color="white"),
        panel_background=element_rect(fill="white", color="white"),
        panel_grid_major=element_line(color=GRID_COLOUR, size=0.5),
        panel_grid_minor=element_blank(),
        axis_ticks=element_blank(),
        strip_text=element_text(color=TEXT_COLOUR, size=base_size, weight="bold", ha="left"),
        legend_position="bottom",
        legend_title=element_blank(),
        legend_key=element_blank(),
    )


def scale_colour_pceval(**kwargs) -> scale_color_manual:
    """Discrete colour scale using :data:`PALETTE`; keyword arguments go to plotnine."""
    return scale_color_manual(values=list(PALETTE), **kwargs)


def scale_fill_pceval(**kwargs) -> scale_fill_manual:
    """Discrete fill scale using :data:`PALETTE`; keyword arguments go to plotnine."""
    return scale_fill_manual(values=list(PALETTE), **kwargs)
