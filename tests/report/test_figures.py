"""Tests of the figure theme, the figures drawn from result tables, and their text alternatives."""

from __future__ import annotations

import doctest
import struct

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.text import Text
from plotnine import facet_wrap, ggplot

from pceval.errors import AnalysisError
from pceval.report import figures, theme
from pceval.report.figures import alt_text, plot_change, plot_proportions
from pceval.report.theme import OKABE_ITO, PALETTE, TEXT_COLOUR, contrast_ratio, theme_pceval
from pceval.results import result_frame

# Values only suppressed rows carry: none may reach a plot or its text.
SECRET = {0.123456, 0.0234567, 0.3456789, 7.654321, 6.54321, 8.7654321, 9.99}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def shares() -> pd.DataFrame:
    def row(group, estimate, low, high, n, **extra):
        breakdown = "overall" if group == "all" else "service"
        return {
            "question": "q01_reach",
            "indicator": "reached",
            "breakdown": breakdown,
            "group": group,
            "statistic": "proportion",
            "n": n,
            "numerator": round(estimate * n),
            "estimate": estimate,
            "ci_low": low,
            "ci_high": high,
            "method": "wilson",
            **extra,
        }

    return result_frame(
        [
            row("all", 0.72, 0.69, 0.75, 200),
            row("Service 1", 0.70, 0.60, 0.78, 80),
            row("Service 10", 0.85, 0.74, 0.92, 60),
            row("Service 2", 0.58, 0.45, 0.70, 56),
            row("Service 3", 0.123456, 0.0234567, 0.3456789, 4, suppressed=True,
                note="fewer than 10 women"),
        ]
    )


@pytest.fixture
def changes() -> pd.DataFrame:
    rows = []

    def add(group, pre, post, change, n, *, dz=0.5, p=0.01, suppressed=()):
        breakdown = "overall" if group == "all" else "service"
        values = {
            "mean_pre": (pre, pre - 0.3, pre + 0.3, None),
            "mean_post": (post, post - 0.3, post + 0.3, None),
            "mean_change": (change, change - 0.3, change + 0.3, p),
            "effect_size_dz": (dz, dz - 0.2, dz + 0.2, None),
        }
        for statistic, (estimate, low, high, p_value) in values.items():
            rows.append(
                {
                    "question": "q08_safety",
                    "indicator": "felt_safety",
                    "breakdown": breakdown,
                    "group": group,
                    "statistic": statistic,
                    "n": n,
                    "estimate": estimate,
                    "ci_low": low,
                    "ci_high": high,
                    "p_value": p_value,
                    "suppressed": statistic in suppressed,
                }
            )

    add("all", 2.10, 3.00, 0.90, 40, dz=0.85, p=0.0001)
    add("North", 2.3, 2.5, 0.20, 20)
    add("South", 1.8, 3.2, 1.40, 12)
    add("East", 6.54321, 7.654321, 9.99, 3, dz=8.7654321, suppressed=("mean_post",))
    frame = result_frame(rows)
    west = result_frame(
        [
            {"indicator": "felt_safety", "breakdown": "service", "group": "West",
             "statistic": s, "n": 1, "note": "fewer than 2 complete pairs: no estimate"}
            for s in ("mean_pre", "mean_post", "mean_change", "effect_size_dz")
        ]
    )
    return pd.concat([frame, west], ignore_index=True)


def data_given(plot: ggplot) -> list[pd.DataFrame]:
    frames = [plot.data] if isinstance(plot.data, pd.DataFrame) else []
    return frames + [layer.geom.data for layer in plot.layers if layer.geom.data is not None]


def numbers_in(frames: list[pd.DataFrame]) -> set[float]:
    found: set[float] = set()
    for frame in frames:
        for column in frame.columns:
            if pd.api.types.is_numeric_dtype(frame[column]):
                found |= {round(float(v), 7) for v in frame[column].dropna()}
    return found


def assert_png(path, width_px: int, height_px: int) -> None:
    content = path.read_bytes()
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", content[16:24]) == (width_px, height_px)
    assert len(content) > 5_000


def texts_of(figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(Text) if t.get_text()]


# ------------------------------------------------------------------------------------------
# Theme
# ------------------------------------------------------------------------------------------


def test_contrast_ratio_matches_wcag_reference_values():
    # WCAG 2.1: black on white is 21:1, #767676 is the lightest grey passing 4.5:1.
    assert contrast_ratio("#000000") == pytest.approx(21.0)
    assert contrast_ratio("#FFFFFF") == pytest.approx(1.0)
    assert contrast_ratio("#767676") == pytest.approx(4.54, abs=0.01)


def test_text_and_palette_colours_are_legible_on_white():
    assert contrast_ratio(TEXT_COLOUR) >= 4.5
    assert contrast_ratio(theme.MUTED_TEXT_COLOUR) >= 4.5
    assert set(PALETTE) | {OKABE_ITO["black"]} == set(OKABE_ITO.values())
    assert all(contrast_ratio(c) >= 3.0 for c in PALETTE[:4])
    ratios = [contrast_ratio(c) for c in PALETTE]
    assert ratios == sorted(ratios, reverse=True)
    # The contrast table in the module documentation states these.
    assert round(contrast_ratio(OKABE_ITO["blue"]), 1) == 5.2
    assert round(contrast_ratio(OKABE_ITO["vermillion"]), 1) == 3.9


def test_theme_has_white_background(tmp_path):
    figure = (plot_proportions(result_frame([
        {"indicator": "reached", "statistic": "proportion", "n": 10, "numerator": 5,
         "estimate": 0.5, "ci_low": 0.24, "ci_high": 0.76}
    ])) + theme_pceval()).draw()
    assert figure.get_facecolor()[:3] == (1.0, 1.0, 1.0)


# ------------------------------------------------------------------------------------------
# Proportions
# ------------------------------------------------------------------------------------------


def test_plot_proportions_saves_a_png(shares, tmp_path):
    plot = plot_proportions(shares, title="Women reached")
    assert isinstance(plot, ggplot)
    path = tmp_path / "reach.png"
    plot.save(path, width=6, height=4, dpi=72, verbose=False)
    assert_png(path, 6 * 72, 4 * 72)


def test_plot_proportions_never_carries_suppressed_values(shares):
    plot = plot_proportions(shares)
    given = data_given(plot)
    assert not numbers_in(given) & SECRET
    # Service 3 appears only in the label layer, which holds names and a position.
    for frame in given:
        if "Service 3" in set(frame.get("group", [])):
            assert set(frame.columns) <= {"indicator", "panel", "group", "label", "position"}
    marks = plot.layers[-1].geom.data
    assert marks[["group", "label"]].to_dict("records") == [
        {"group": "Service 3", "label": "n.p."}
    ]
    figure = plot.draw()
    built = [layer.data for layer in plot.layers if hasattr(layer, "data")]
    assert not numbers_in(built) & SECRET
    texts = texts_of(figure)
    assert "n.p." in texts
    assert "Service 3" in texts  # the suppressed group keeps its place on the axis
    assert "12%" not in " ".join(texts)


def test_plot_proportions_orders_groups_by_name_and_draws_the_overall_reference(shares):
    plot = plot_proportions(shares)
    x_scale = next(s for s in plot.scales if "x" in s.aesthetics)
    # Name order (natural: 2 before 10), reversed because the axis is flipped to read
    # top-down; never ordered by estimate.
    assert list(reversed(x_scale.limits)) == ["Service 1", "Service 2", "Service 3", "Service 10"]
    reference = plot.layers[0].geom.data
    assert reference["estimate"].tolist() == [0.72]
    points = plot.layers[2].geom.data
    assert sorted(points["group"]) == ["Service 1", "Service 10", "Service 2"]
    assert plot.labels.title == "Share reached by service"


def test_plot_proportions_facets_several_indicators(shares):
    second = shares.assign(indicator="safety_plan")
    plot = plot_proportions(pd.concat([shares, second], ignore_index=True))
    assert isinstance(plot.facet, facet_wrap)
    assert set(plot.layers[2].geom.data["panel"]) == {"reached", "safety plan"}
    # Facets follow the order asked for, not the alphabet.
    ordered = plot_proportions(
        pd.concat([shares, second], ignore_index=True), indicator=["safety_plan", "reached"]
    )
    assert list(ordered.layers[2].geom.data["panel"].cat.categories) == ["safety plan", "reached"]
    only = plot_proportions(pd.concat([shares, second]), indicator="safety_plan")
    assert not isinstance(only.facet, facet_wrap)


def test_plot_proportions_rejects_what_it_cannot_draw(shares):
    with pytest.raises(AnalysisError, match="'mean'") as error:
        plot_proportions(pd.concat([shares, result_frame([{"statistic": "mean"}])]))
    assert error.value.field == "statistic"
    with pytest.raises(AnalysisError) as error:
        plot_proportions(shares, indicator="referred")
    assert error.value.field == "indicator"
    by_model = shares.assign(breakdown=shares["breakdown"].replace("service", "model"))
    both = pd.concat([shares, by_model.loc[by_model["breakdown"] == "model"]])
    with pytest.raises(AnalysisError) as error:
        plot_proportions(both)
    assert error.value.field == "breakdown"
    assert len(plot_proportions(both, breakdown="model").layers[2].geom.data) == 3
    with pytest.raises(AnalysisError, match="not a result table"):
        plot_proportions(shares.assign(colour="red"))


def test_plot_proportions_without_breakdown_and_all_suppressed(tmp_path):
    overall = result_frame([{"indicator": "reached", "statistic": "proportion", "n": 50,
                             "numerator": 30, "estimate": 0.6, "ci_low": 0.46,
                             "ci_high": 0.72}])
    assert plot_proportions(overall).layers[0].geom.data["group"].tolist() == ["All"]
    hidden = result_frame([
        {"indicator": "reached", "statistic": "proportion", "estimate": 0.123456,
         "suppressed": True},
        {"indicator": "reached", "breakdown": "service", "group": "A",
         "statistic": "proportion", "estimate": 0.3456789, "suppressed": True},
    ])
    plot = plot_proportions(hidden)
    assert not numbers_in(data_given(plot)) & SECRET
    plot.save(tmp_path / "hidden.png", width=4, height=3, dpi=50, verbose=False)
    assert_png(tmp_path / "hidden.png", 200, 150)


def test_alt_text_for_proportions(shares):
    text = alt_text(shares, "proportions")
    assert text == (
        "Share reached by service, 4 services: overall 72% (95% CI 69–75%); "
        "service estimates range from 58% to 85%; 1 service not published (n.p.)."
    )
    assert "12%" not in text


# ------------------------------------------------------------------------------------------
# Change
# ------------------------------------------------------------------------------------------


def test_plot_change_saves_a_png(changes, tmp_path):
    plot = plot_change(changes, wave_labels=("Baseline", "Follow-up"))
    path = tmp_path / "change.png"
    plot.save(path, width=6, height=4, dpi=72, verbose=False)
    assert_png(path, 6 * 72, 4 * 72)


def test_plot_change_draws_published_groups_and_marks_the_others(changes):
    plot = plot_change(changes, wave_labels=("Baseline", "Follow-up"))
    points = plot.layers[1].geom.data
    assert sorted(set(points["group"])) == ["All", "North", "South"]
    assert set(points["wave"].astype(str)) == {"Baseline", "Follow-up"}
    overall = points.loc[points["group"] == "All"]
    assert dict(zip(overall["wave"].astype(str), overall["estimate"], strict=True)) == {
        "Baseline": 2.10,
        "Follow-up": 3.00,
    }
    marks = plot.layers[-1].geom.data.set_index("group")["label"].to_dict()
    # East: its post mean is suppressed, so the whole group goes (its pre mean too).
    assert marks == {"East": "n.p.", "West": "no data"}
    assert not numbers_in(data_given(plot)) & SECRET
    x_scale = next(s for s in plot.scales if "x" in s.aesthetics)
    assert list(reversed(x_scale.limits)) == ["All", "East", "North", "South", "West"]
    figure = plot.draw()
    built = [layer.data for layer in plot.layers if hasattr(layer, "data")]
    assert not numbers_in(built) & SECRET
    assert {"n.p.", "no data", "Baseline", "Follow-up"} <= set(texts_of(figure))


def test_plot_change_rejects_unknown_statistics_and_bad_labels(changes, shares):
    with pytest.raises(AnalysisError, match="'proportion'"):
        plot_change(pd.concat([changes, shares]))
    with pytest.raises(AnalysisError, match="wave_labels"):
        plot_change(changes, wave_labels=("Pre", "Pre"))
    only_change = changes.loc[changes["statistic"] == "mean_change"]
    with pytest.raises(AnalysisError, match="mean_pre"):
        plot_change(only_change)


def test_plot_change_with_everything_suppressed(tmp_path):
    hidden = result_frame([
        {"indicator": "felt_safety", "statistic": statistic, "n": 3, "estimate": 7.654321,
         "ci_low": 6.54321, "ci_high": 8.7654321, "suppressed": True}
        for statistic in ("mean_pre", "mean_post", "mean_change", "effect_size_dz")
    ])
    plot = plot_change(hidden)
    assert not numbers_in(data_given(plot)) & SECRET
    plot.save(tmp_path / "hidden.png", width=4, height=3, dpi=50, verbose=False)
    assert_png(tmp_path / "hidden.png", 200, 150)
    text = alt_text(hidden, "change")
    assert text == "Mean felt safety from pre to post: overall not published (n.p.)."


def test_alt_text_for_change(changes):
    text = alt_text(changes, "change", wave_labels=("baseline", "follow-up"))
    assert text == (
        "Mean felt safety from baseline to follow-up, overall (40 women with both waves): "
        "2.10 to 3.00, change +0.90 (95% CI +0.60 to +1.20, p < 0.001), d_z 0.85. "
        "4 services; changes range from +0.20 to +1.40; 1 service not published (n.p.)."
    )
    assert "9.99" not in text
    with pytest.raises(AnalysisError, match="kind"):
        alt_text(changes, "bars")


# ------------------------------------------------------------------------------------------
# Documentation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [figures, theme])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
