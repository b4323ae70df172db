"""Figures that overlay: distinct series styles, merged legends, one background per axes,
stability regions in their own colours with labels apart (Agg backend)."""

from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pytest

import gradflow as gf
from gradflow import schedules as S

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.colors import to_hex, to_rgb

#: The yellow of Okabe–Ito: too light on white for a line (contrast ratio 1.3 : 1).
YELLOW = "#f0e442"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _look(line) -> tuple:
    """Colour, dash pattern and marker of a drawn line.  ``get_linestyle`` reports every
    custom dash pattern as ``"--"``; the pattern itself is the private
    ``_unscaled_dash_pattern`` (what the renderer draws)."""
    offset, dashes = line._unscaled_dash_pattern
    return (to_hex(line.get_color()), (offset, tuple(dashes or ())), str(line.get_marker()))


def _luminance(colour: str) -> float:
    """WCAG relative luminance (sRGB linearised, Rec. 709 weights)."""
    rgb = np.array(to_rgb(colour))
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(lin @ [0.2126, 0.7152, 0.0722])


def _filled_contours(ax) -> list:
    from matplotlib.contour import ContourSet

    return [c for c in ax.collections if isinstance(c, ContourSet) and c.filled]


def _line_contours(ax) -> list:
    from matplotlib.contour import ContourSet

    return [c for c in ax.collections if isinstance(c, ContourSet) and not c.filled]


def _legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


# -- series styles -----------------------------------------------------------------------


@pytest.mark.parametrize("styled", [False, True])
def test_twelve_loss_curves_are_twelve_distinct_looks(styled):
    # Before: matplotlib's 10 colours (or the style's 8) repeated, all lines solid.
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    hs = np.linspace(0.02, 0.19, 12)
    traj = gf.solve(p, np.ones((12, 2)), stepsize=hs, steps=20)
    labels = [f"h = {h:.3g}" for h in hs]
    if styled:
        with gf.plot.style():
            ax = gf.plot.loss_curves(traj, labels=labels)
    else:
        ax = gf.plot.loss_curves(traj, labels=labels)
    looks = [_look(line) for line in ax.get_lines()]
    assert len(looks) == 12 and len(set(looks)) == 12
    assert len(_legend_texts(ax)) == 12
    # Neighbours differ in colour and in dash (the dash alone tells them apart in grey).
    for a, b in itertools.pairwise(looks):
        assert a[0] != b[0] and a[1] != b[1]
    assert YELLOW not in {look[0] for look in looks}


def test_series_styles_stay_distinct_far_beyond_the_palette():
    lines = [gf.plot.series_style(i) for i in range(240)]
    keys = {(s["color"], str(s["linestyle"]), s["marker"]) for s in lines}
    assert len(keys) == 240
    markers = [gf.plot.series_style(i, kind="marker") for i in range(210)]
    keys = {(s["color"], str(s["linestyle"]), s["marker"]) for s in markers}
    assert len(keys) == 210
    # "marker" series are solid (dashes mean fits and thresholds) while pairs last.
    assert {str(s["linestyle"]) for s in markers[:42]} == {"-"}
    # The first five line series all have different dashes: legible in greyscale.
    assert len({str(gf.plot.series_style(i)["linestyle"]) for i in range(5)}) == 5


def test_series_colours_are_okabe_ito_and_readable_on_white():
    colours = {gf.plot.series_style(i)["color"].lower() for i in range(60)}
    assert colours <= {c.lower() for c in gf.plot.OKABE_ITO}
    # WCAG contrast ratio against white of at least 2 : 1 (yellow has 1.3 : 1).
    assert all(1.05 / (_luminance(c) + 0.05) >= 2.0 for c in colours)
    assert 1.05 / (_luminance(YELLOW) + 0.05) < 1.5


def test_series_style_checks_its_arguments():
    with pytest.raises(TypeError, match="index"):
        gf.plot.series_style(1.0)
    with pytest.raises(ValueError, match="index"):
        gf.plot.series_style(-1)
    with pytest.raises(ValueError, match="kind"):
        gf.plot.series_style(0, kind="dots")


def test_style_cycle_gives_plain_plots_the_same_looks():
    with gf.plot.style():
        _fig, ax = plt.subplots()
        lines = [ax.plot([0, 1], [0, i])[0] for i in range(30)]
    assert len({_look(line) for line in lines}) == 30


def test_schedules_constant_and_cyclic_no_longer_share_a_look():
    # Before: the ninth line of the 8-colour cycle was blue again, solid like the first.
    items = [S.constant(0.1)] + [S.cosine(0.1 / k, 50) for k in range(1, 8)]
    items.append(S.cyclic(0.01, 0.1, 10))
    with gf.plot.style():
        ax = gf.plot.schedules(items, k=50)
    looks = [_look(line) for line in ax.get_lines()]
    assert len(set(looks)) == 9
    assert looks[0] != looks[8]


def test_overlaid_calls_continue_the_series_of_the_axes():
    p = gf.problems.quadratic([1.0, 10.0], seed=0)
    _fig, (left, right) = plt.subplots(1, 2)
    gf.plot.schedules([S.constant(0.1), S.cosine(0.1, 50)], k=50, ax=left)
    for h in (0.1, 0.05):
        gf.plot.loss_curves(gf.solve(p, np.ones(2), stepsize=h, steps=30), right, [f"h={h}"])
    # Two panels drawn in the same order match series for series.
    assert [_look(a) for a in left.get_lines()] == [_look(b) for b in right.get_lines()]
    assert _look(right.get_lines()[0]) != _look(right.get_lines()[1])
    right.cla()  # cleared axes start again
    gf.plot.loss_curves(gf.solve(p, np.ones(2), stepsize=0.1, steps=5), right)
    assert _look(right.get_lines()[0]) == _look(left.get_lines()[0])


# -- legends -----------------------------------------------------------------------------


def test_legend_merges_equal_entries_and_keeps_distinct_series():
    values = np.array([[10.0, 12.0], [15.0, 19.0], [19.9, 9.9]])
    _fig, ax = plt.subplots()
    gf.plot.sharpness(values, [0.1, 0.2], ax, steps=[0, 5, 10])
    gf.plot.sharpness(values + 1.0, [0.1, 0.2], ax, steps=[0, 5, 10], labels=["c", "d"])
    texts = _legend_texts(ax)
    assert texts.count("$2/h$") == 1
    assert texts == ["$h = 0.1$", "$h = 0.2$", "c", "d", "$2/h$"]
    # Each threshold level is drawn once per axes.
    lines = ax.get_lines()
    dashed = [x.get_ydata()[0] for x in lines if x.get_linestyle() == "--" and len(x.get_ydata())]
    assert sorted(dashed) == pytest.approx([10.0, 20.0])
    # The upper limit holds the first call's lines too.
    assert ax.get_ylim()[1] >= 20.0
    # Two series with one label but different looks keep an entry each.
    _fig, ax2 = plt.subplots()
    gf.plot.loss_curves(np.ones((5, 1)), ax2, ["run"])
    gf.plot.loss_curves(2 * np.ones((5, 1)), ax2, ["run"])
    assert _legend_texts(ax2) == ["run", "run"]


# -- trajectories --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_methods():
    p = gf.problems.rosenbrock()
    runs = [
        ("GD", gf.methods.Euler(), 1e-3, [-1.5, 2.0]),
        ("heavy ball", gf.methods.HeavyBall(0.9), 1e-4, [-1.5, 2.0]),
        ("Nesterov", gf.methods.Nesterov(0.9), 1e-4, [-1.5, 2.0]),
    ]
    return p, [
        (name, gf.solve(p, x0, method=m, stepsize=h, steps=1500, save_every=25))
        for name, m, h, x0 in runs
    ]


def _series_lines(ax) -> list:
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_overlaid_trajectories_share_one_background(three_methods, tmp_path):
    # Before: three colour bars, three contour sets (a 554 KB PDF), one colour for all
    # three methods and "minimiser" three times in the legend.
    p, runs = three_methods
    fig, ax = plt.subplots()
    for name, traj in runs:
        gf.plot.trajectories(p, traj, ax, labels=[name], resolution=80)
    assert _legend_texts(ax) == ["GD", "heavy ball", "Nesterov", "minimiser"]
    assert len(_filled_contours(ax)) == 1 and len(_line_contours(ax)) == 1
    assert len(fig.axes) == 2  # the axes and one colour bar
    paths = [line for line in _series_lines(ax) if line.get_label() != "minimiser"]
    assert len({_look(line) for line in paths}) == 3
    assert len({line.get_color() for line in paths}) == 3
    # The PDF of the overlay is about as large as that of one call, not three times.
    fig.savefig(tmp_path / "three.pdf")
    fig1, ax1 = plt.subplots()
    gf.plot.trajectories(p, runs[0][1], ax1, labels=["GD"], resolution=80)
    fig1.savefig(tmp_path / "one.pdf")
    three, one = ((tmp_path / f).stat().st_size for f in ("three.pdf", "one.pdf"))
    assert three < 1.3 * one


def test_overlay_that_needs_a_larger_window_redraws_the_background_once(three_methods):
    p, runs = three_methods
    far = gf.solve(p, [1.8, -0.8], stepsize=1e-4, steps=500, save_every=25)
    fig, ax = plt.subplots()
    gf.plot.trajectories(p, runs[0][1], ax, labels=["GD"], resolution=60)
    x0, y0 = ax.get_xlim(), ax.get_ylim()
    gf.plot.trajectories(p, far, ax, labels=["far"], resolution=60)
    x1, y1 = ax.get_xlim(), ax.get_ylim()
    assert x1[0] <= x0[0] and x1[1] > x0[1] and y1[0] < y0[0]
    points = np.concatenate([np.asarray(runs[0][1].theta), np.asarray(far.theta)])
    assert x1[0] <= points[:, 0].min() and points[:, 0].max() <= x1[1]
    assert y1[0] <= points[:, 1].min() and points[:, 1].max() <= y1[1]
    (filled,) = _filled_contours(ax)
    assert len(_line_contours(ax)) == 1 and len(fig.axes) == 2
    vertices = np.concatenate([path.vertices for path in filled.get_paths() if len(path)])
    np.testing.assert_allclose(vertices.min(axis=0), [x1[0], y1[0]], atol=1e-9)
    np.testing.assert_allclose(vertices.max(axis=0), [x1[1], y1[1]], atol=1e-9)
    assert _legend_texts(ax) == ["GD", "far", "minimiser"]
    # A cleared axes gets a background of its own again.
    ax.cla()
    gf.plot.trajectories(p, far, ax, resolution=30, colorbar=False)
    assert len(_filled_contours(ax)) == 1


def test_paths_read_over_the_contours(three_methods):
    # Saturated paths over pale contours, each on a white outline that lies under all
    # the paths (overlapping paths stay visible).
    p, runs = three_methods
    _fig, ax = plt.subplots()
    for name, traj in runs:
        gf.plot.trajectories(p, traj, ax, labels=[name], resolution=30)
    (filled,) = _filled_contours(ax)
    assert filled.get_alpha() is not None and filled.get_alpha() <= 0.5
    lines = ax.get_lines()
    halos = [line for line in lines if line.get_color() == "white" and line.get_linewidth() > 2]
    paths = [line for line in lines if line.get_label() in {"GD", "heavy ball", "Nesterov"}]
    assert len(halos) == 3 and len(paths) == 3
    assert max(h.get_zorder() for h in halos) < min(q.get_zorder() for q in paths)


# -- stability regions -----------------------------------------------------------------------


def _label_boxes(ax):
    """The text boxes of the labels (an annotation's own extent includes its leader)."""
    from matplotlib.text import Text

    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    return [Text.get_window_extent(t, renderer) for t in ax.texts]


def _region_colours(ax) -> list[str]:
    return [to_hex(c.get_facecolor()[0], keep_alpha=False) for c in _filled_contours(ax)]


@pytest.mark.parametrize(
    "methods",
    [
        # Equal limits: before, both labels sat on the same spot.
        [gf.methods.Euler(), gf.methods.RungeKutta(gf.methods.HEUN)],
        [gf.methods.Euler(), gf.methods.HeavyBall(0.5)],
        [
            gf.methods.Euler(),
            gf.methods.RungeKutta(gf.methods.RK4),
            gf.methods.HeavyBall(0.5),
            gf.methods.RungeKutta(gf.methods.MIDPOINT),
        ],
    ],
    ids=["equal-limits", "euler-heavy-ball", "four"],
)
@pytest.mark.parametrize("overlaid", [True, False], ids=["calls", "list"])
def test_stability_regions_have_own_colours_and_labels_apart(methods, overlaid):
    with gf.plot.style(width=3.3):  # a narrow column: labels closer than on screen
        fig, ax = plt.subplots()
        if overlaid:
            for m in methods:
                gf.plot.stability_region(m, ax, resolution=41)
        else:
            gf.plot.stability_region(methods, ax, resolution=41)
        colours = _region_colours(ax)
        assert len(colours) == len(methods) and len(set(colours)) == len(methods)
        boundaries = [to_hex(c.get_edgecolor()[0]) for c in _line_contours(ax)]
        assert boundaries == colours
        boxes = _label_boxes(ax)
    assert len(boxes) == len(methods)
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    # Each label has its method's colour.
    limits = [gf.stability.real_stability_limit(m) for m in methods]
    order = np.argsort(limits, kind="stable")
    assert [to_hex(ax.texts[k].get_color()) for k in range(len(methods))] == [
        colours[j] for j in order
    ]
    plt.close(fig)


def test_stability_symbols_and_a_growing_window():
    _fig, ax = plt.subplots()
    gf.plot.stability_region(gf.methods.Euler(), ax, resolution=41)
    assert ax.get_xlim() == (-4.0, 1.0)
    # ℓ = 2(1 + 0.9) = 3.8: the window must grow to 1.15 ℓ, and Euler is drawn again.
    gf.plot.stability_region(gf.methods.HeavyBall(0.9), ax, resolution=41)
    assert ax.get_xlim()[0] == pytest.approx(-1.15 * 3.8)
    assert len(_filled_contours(ax)) == 2 and len(_line_contours(ax)) == 2
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["$-\\ell = -2$", "$-\\ell = -3.8$"]
    legend = _legend_texts(ax)
    assert legend == ["Euler ($\\ell = 2$)", "HeavyBall, $\\beta = 0.9$ ($\\ell = 3.8$)"]
    assert not any("\\beta" in t for t in texts)  # β is the momentum, never the limit
    # The longer interval lies under the shorter one.
    bars = [line for line in ax.get_lines() if line.get_linewidth() == 3]
    by_length = sorted(bars, key=lambda line: -abs(line.get_xdata()[0]))
    assert by_length[0].get_zorder() < by_length[1].get_zorder()
