"""The learning curve's two figures: accuracy against training-set size, and the
pretrained-minus-scratch gap against size."""

from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from cifar_compare.report.plots import LITERAL_TEXT, save_figure

WIDTH, HEIGHT = 6.4, 4.0


def size_axis(ax, sizes):
    """Log x axis with exactly the sizes run as ticks, written in full."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(sorted(sizes)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{s:,}" for s in sorted(sizes)])
    ax.set_xlabel("training images per class (log scale)")
    ax.grid(alpha=0.3)


def learning_curve_figure(points):
    """One line per model: mean accuracy (%) with its 95 % interval as error bars."""
    fig = Figure(figsize=(WIDTH, HEIGHT))
    ax = fig.subplots()
    for model in dict.fromkeys(p.model for p in points):
        mine = sorted((p for p in points if p.model == model), key=lambda p: p.size)
        means = [100 * p.interval.estimate for p in mine]
        below = [m - 100 * p.interval.low for m, p in zip(means, mine, strict=True)]
        above = [100 * p.interval.high - m for m, p in zip(means, mine, strict=True)]
        ax.errorbar(
            [p.size for p in mine], means, yerr=[below, above], marker="o", ms=4, capsize=3,
            linestyle="--" if mine[0].pretrained else "-", label=model,
        )  # fmt: skip
    size_axis(ax, {p.size for p in points})
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy against training-set size (95 % intervals)")
    ax.legend(fontsize="small")
    return fig


def gap_figure(gaps, points=1.0):
    """One line per pretrained/scratch pair: the gap in points with its interval band,
    a dashed line at `points` and a line at zero."""
    fig = Figure(figsize=(WIDTH, HEIGHT))
    ax = fig.subplots()
    for pair in dict.fromkeys((g.pretrained, g.scratch) for g in gaps):
        mine = sorted((g for g in gaps if (g.pretrained, g.scratch) == pair), key=lambda g: g.size)
        sizes = [g.size for g in mine]
        (line,) = ax.plot(sizes, [100 * g.estimate for g in mine], marker="o", ms=4,
                          label=f"{pair[0]} − {pair[1]}")  # fmt: skip
        ax.fill_between(sizes, [100 * g.low for g in mine], [100 * g.high for g in mine],
                        alpha=0.2, lw=0, color=line.get_color())  # fmt: skip
    ax.axhline(points, color="grey", linestyle="--", lw=1, label=f"{points:g} point")
    ax.axhline(0, color="black", lw=0.8)
    if gaps:
        size_axis(ax, {g.size for g in gaps})
    ax.set_ylabel("pretrained minus scratch (points)")
    ax.set_title("What pretraining adds, by training-set size (95 % intervals)")
    ax.legend(fontsize="small")
    return fig


def write_figures(points, gaps, outputs):
    """Both figures as PNG and SVG: outputs.curve_png/_svg and outputs.gap_png/_svg."""
    import matplotlib

    with matplotlib.rc_context(LITERAL_TEXT):
        save_figure(learning_curve_figure(points), outputs.curve_png, outputs.curve_svg)
        save_figure(gap_figure(gaps), outputs.gap_png, outputs.gap_svg)
