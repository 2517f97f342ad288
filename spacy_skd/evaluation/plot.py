"""The accuracy-against-speed plot: one point per pipeline (the mean over its runs,
with error bars of one standard deviation where it has several), words/s on a log
axis with plain tick labels, a marker and colour per kind of pipeline, and labels
placed inside the frame, clear of each other and of the points."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

# kind -> (legend entry, marker, colour)
KINDS: Dict[str, Tuple[str, str, str]] = {
    "teacher": ("teacher", "*", "tab:red"),
    "stock": ("stock spaCy pipeline", "s", "tab:gray"),
    "gold": ("gold-only student", "o", "tab:blue"),
    "distilled": ("distilled student", "^", "tab:green"),
}
NO_KIND = ("pipeline", "D", "tab:purple")
# a label's offsets from its point, in points, tried in turn: close ones first
LABEL_OFFSETS = (
    (7, 5), (7, -5), (-7, 5), (-7, -5), (0, 9), (0, -9),
    (7, 14), (7, -14), (-7, 14), (-7, -14), (0, 18), (0, -18), (12, 0), (-12, 0),
)  # fmt: skip
# offsets at least this far (in points) get a line to their point
LEADER_FROM = 12
LABEL_SIZE = 8
# the space (in points) a label keeps from other labels, markers and error bars
LABEL_GAP = 1.5
# margins left and right of the points, in spans of the data, tried in turn until
# every label fits inside the frame and clear of the rest (else the best is kept)
SPEED_PADS = (0.2, 0.4, 0.7, 1.2)
# margin above and below the points, in spans of the data
SCORE_PAD = 0.15
# the words/s axis spans at least this factor, so that it has several ticks
MIN_SPEED_SPAN = 4.0

Box = Tuple[float, float, float, float]  # x0, y0, x1, y1 in display pixels


@dataclass
class PlotPoint:
    """One pipeline: its label, kind (a key of KINDS, or None) and, per run
    (seed), its words/s and its score (in [0, 1])."""

    label: str
    words_per_second: Sequence[float]
    scores: Sequence[float]
    kind: Optional[str] = None

    @property
    def style(self) -> Tuple[str, str, str]:
        """(legend entry, marker, colour) of the point's kind."""
        return KINDS.get(self.kind or "", NO_KIND)

    @property
    def speed(self) -> Tuple[float, Optional[float]]:
        return mean_sd(self.words_per_second)

    @property
    def speed_range(self) -> Tuple[float, float]:
        """Mean words/s minus and plus one sd, kept above zero on the log axis."""
        mean, sd = self.speed
        return mean - min(sd or 0.0, 0.9 * mean), mean + (sd or 0.0)

    @property
    def score(self) -> Tuple[float, Optional[float]]:
        """Mean and sd of the score, in %."""
        return mean_sd([100 * score for score in self.scores])


def mean_sd(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    """Mean and sample standard deviation of `values`; None for one value."""
    if len(values) < 2:
        return statistics.fmean(values), None
    return statistics.fmean(values), statistics.stdev(values)


def plain_number(value: float) -> str:
    """A tick label without exponents: 500, 1k, 2.5k, 20k, 1M."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def speed_ticks(low: float, high: float) -> List[float]:
    """Tick values between `low` and `high` (> 0): the 1-2-5 series, or a denser
    one where that gives fewer than four ticks."""
    exponents = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    ticks: List[float] = []
    for steps in ((1, 2, 5), (1, 2, 3, 5, 7), range(1, 10)):
        ticks = [s * 10.0**e for e in exponents for s in steps if low <= s * 10.0**e <= high]
        if len(ticks) >= 4:
            break
    return ticks


def accuracy_speed_figure(
    points: Sequence[PlotPoint],
    *,
    score_name: str,
    speed_name: str = "words per second (CPU, nlp.pipe)",
    title: str = "",
):
    """A matplotlib Figure of each point's score (in %) against its words/s on a
    log axis; needs matplotlib (the `plot` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, NullLocator
    except ImportError:
        raise ValueError("plotting needs matplotlib: pip install 'spacy-skd[plot]'") from None
    if not points:
        raise ValueError("no pipeline to plot")
    unknown = sorted({p.kind for p in points if p.kind is not None and p.kind not in KINDS})
    if unknown:
        raise ValueError(f"unknown kind(s) {unknown}: use one of {', '.join(KINDS)}")
    figure, axes = plt.subplots(figsize=(8, 5.5))
    for point in points:
        (x, x_sd), (y, y_sd) = point.speed, point.score
        low, high = point.speed_range
        _, marker, colour = point.style
        axes.errorbar(
            [x],
            [y],
            xerr=None if x_sd is None else [[x - low], [high - x]],
            yerr=None if y_sd is None else [y_sd],
            marker=marker,
            markersize=11 if marker == "*" else 8,
            color=colour,
            capsize=3,
            linestyle="none",
        )
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: plain_number(value)))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.set_xlabel(speed_name)
    axes.set_ylabel(f"{score_name} (%)")
    axes.grid(True, alpha=0.3)
    if title:
        axes.set_title(title, fontsize=10)
    _legend(axes, points)
    costs = {}
    for pad in SPEED_PADS:
        _set_limits(axes, points, pad)
        figure.tight_layout()
        costs[pad] = _place_labels(figure, axes, points)
        if costs[pad] == 0:
            return figure
    _set_limits(axes, points, min(costs, key=costs.get))
    figure.tight_layout()
    _place_labels(figure, axes, points)
    return figure


def save_figure(figure, path: Path) -> None:
    """Write `figure` as a PNG and release it."""
    import matplotlib.pyplot as plt

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150)
    plt.close(figure)


def _legend(axes, points: Sequence[PlotPoint]) -> None:
    """One entry per kind present, under the axes; none where no point has a
    kind or error bars."""
    from matplotlib.lines import Line2D

    several = any(len(point.scores) > 1 for point in points)
    if not several and all(point.kind is None for point in points):
        return
    styles = list(dict.fromkeys(point.style for point in points))
    handles = [
        Line2D([], [], marker=marker, color=colour, linestyle="none", label=name)
        for name, marker, colour in styles
    ]
    axes.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=len(handles),
        fontsize=LABEL_SIZE,
        frameon=False,
        title="error bars: ±1 sd over runs (seeds)" if several else None,
        title_fontsize=LABEL_SIZE,
    )


def _set_limits(axes, points: Sequence[PlotPoint], pad: float) -> None:
    """Axis limits around the points and their error bars, widened on each side
    by `pad` times the data's span in log space for words/s (to at least
    MIN_SPEED_SPAN), by SCORE_PAD times it for the scores; and the words/s ticks."""
    from matplotlib.ticker import FixedLocator

    ys = [(y - (sd or 0), y + (sd or 0)) for y, sd in (p.score for p in points)]
    log_low = math.log10(min(p.speed_range[0] for p in points))
    log_high = math.log10(max(p.speed_range[1] for p in points))
    span = log_high - log_low
    log_pad = max(pad * span, (math.log10(MIN_SPEED_SPAN) - span) / 2)
    low, high = 10 ** (log_low - log_pad), 10 ** (log_high + log_pad)
    axes.set_xlim(low, high)
    axes.xaxis.set_major_locator(FixedLocator(speed_ticks(low, high)))
    y_low, y_high = min(low for low, _ in ys), max(high for _, high in ys)
    y_pad = max(SCORE_PAD * (y_high - y_low), 0.5)
    axes.set_ylim(y_low - y_pad, y_high + y_pad)


def _place_labels(figure, axes, points: Sequence[PlotPoint]) -> float:
    """Label each point (top to bottom) at the first of LABEL_OFFSETS that keeps
    its text inside the axes, clear of the labels already placed and of every
    marker and error bar; where none is clear, at the one that overlaps least.
    Removes the labels of an earlier call; returns the labels' total overlap
    (display pixels), ten times for text outside the axes."""
    for text in list(axes.texts):
        text.remove()
    renderer = figure.canvas.get_renderer()
    extent = axes.get_window_extent(renderer)
    frame = (extent.x0, extent.y0, extent.x1, extent.y1)
    obstacles = [_point_boxes(figure, axes, point) for point in points]
    placed: List[Box] = []
    total = 0.0
    gap = LABEL_GAP * figure.dpi / 72
    for index in sorted(range(len(points)), key=lambda i: -points[i].score[0]):
        point = points[index]
        bars = obstacles[index][1:]
        others = [box for i, boxes in enumerate(obstacles) if i != index for box in boxes]
        best, best_cost, best_box = None, math.inf, frame
        for dx, dy in LABEL_OFFSETS:
            label = axes.annotate(
                point.label,
                (point.speed[0], point.score[0]),
                textcoords="offset points",
                xytext=(dx, dy),
                ha="left" if dx > 0 else "right" if dx < 0 else "center",
                va="bottom" if dy > 0 else "top" if dy < 0 else "center",
                fontsize=LABEL_SIZE,
                color=point.style[2],
                arrowprops=_leader(dx, dy, point.style[2]),
            )
            text = label.get_window_extent(renderer)
            box = (text.x0 - gap, text.y0 - gap, text.x1 + gap, text.y1 + gap)
            outside = _area(box) - _overlap(box, frame)
            cost = 10 * outside + sum(_overlap(box, other) for other in placed + bars + others)
            if cost < best_cost:
                if best is not None:
                    best.remove()
                best, best_cost, best_box = label, cost, box
            else:
                label.remove()
            if cost == 0:
                break
        best.set_in_layout(False)
        placed.append(best_box)
        total += best_cost
    return total


def _leader(dx: float, dy: float, colour: str) -> Optional[dict]:
    """A thin line from a far label to its point; None for a close one."""
    if max(abs(dx), abs(dy)) < LEADER_FROM:
        return None
    return {"arrowstyle": "-", "color": colour, "linewidth": 0.6, "shrinkA": 1, "shrinkB": 5}


def _point_boxes(figure, axes, point: PlotPoint) -> List[Box]:
    """Display boxes of a point's marker, then of its error bars (if any)."""
    (x, x_sd), (y, y_sd) = point.speed, point.score
    centre_x, centre_y = axes.transData.transform((x, y))
    radius = 5 * figure.dpi / 72
    boxes = [(centre_x - radius, centre_y - radius, centre_x + radius, centre_y + radius)]
    if x_sd is not None:
        left, right = (axes.transData.transform((v, y))[0] for v in point.speed_range)
        boxes.append((left, centre_y - 2, right, centre_y + 2))
    if y_sd is not None:
        bottom, top = (axes.transData.transform((x, v))[1] for v in (y - y_sd, y + y_sd))
        boxes.append((centre_x - 2, bottom, centre_x + 2, top))
    return boxes


def _area(box: Box) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def _overlap(a: Box, b: Box) -> float:
    """Area shared by two boxes."""
    return _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
