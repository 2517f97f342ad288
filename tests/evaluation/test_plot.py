"""The accuracy-against-speed plot: log words/s axis with plain ticks, a style
per kind of pipeline, error bars over runs, labels inside and apart."""

import itertools
import re

import pytest

pytest.importorskip("matplotlib")

from matplotlib.container import ErrorbarContainer  # noqa: E402

from spacy_skd.evaluation.plot import (  # noqa: E402
    KINDS,
    PlotPoint,
    accuracy_speed_figure,
    mean_sd,
    plain_number,
    save_figure,
    speed_ticks,
)

PLAIN = re.compile(r"^\d+(\.\d+)?[kM]?$")


def crowded_points():
    """Several kinds, two of them with several runs, some close together."""
    return [
        PlotPoint("teacher (minilm)", [1411], [0.859], "teacher"),
        PlotPoint("teacher (mpnet)", [237], [0.871], "teacher"),
        PlotPoint("stock pipeline", [9800], [0.80], "stock"),
        PlotPoint("gold-only student (cnn)", [6561, 6200, 6900], [0.793, 0.795, 0.789], "gold"),
        PlotPoint(
            "distilled student (cnn, structural KD)", [7693, 7400], [0.810, 0.806], "distilled"
        ),
        PlotPoint("distilled student (cnn, width 64)", [12000, 11500], [0.79, 0.795], "distilled"),
        PlotPoint("distilled student (bilstm)", [4100], [0.815], "distilled"),
    ]


def test_plain_numbers_and_ticks():
    assert [plain_number(v) for v in (500, 1000, 2500, 20000, 1e6)] == [
        "500",
        "1k",
        "2.5k",
        "20k",
        "1M",
    ]
    assert speed_ticks(900, 25000) == [1000, 2000, 5000, 10000, 20000]
    # too few 1-2-5 ticks in a narrow range: a denser series
    assert speed_ticks(1500, 8000) == [2000, 3000, 5000, 7000]
    assert mean_sd([1.0]) == (1.0, None)
    assert mean_sd([1.0, 3.0]) == (2.0, pytest.approx(2**0.5))


def test_the_speed_axis_is_log_with_plain_tick_labels(tmp_path):
    figure = accuracy_speed_figure(crowded_points(), score_name="LAS", title="EWT\nsome CPU")
    [axes] = figure.axes
    figure.canvas.draw()
    assert axes.get_xscale() == "log"
    labels = [tick.get_text() for tick in axes.get_xticklabels()]
    low, high = axes.get_xlim()
    assert labels and all(PLAIN.match(label) for label in labels), labels
    assert [tick for tick in axes.get_xticks() if low <= tick <= high] == speed_ticks(low, high)
    assert axes.xaxis.get_minor_ticks() == []
    assert axes.get_title() == "EWT\nsome CPU"
    save_figure(figure, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_kinds_have_their_own_style_and_runs_get_error_bars():
    points = crowded_points()
    figure = accuracy_speed_figure(points, score_name="LAS")
    [axes] = figure.axes
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == [KINDS[kind][0] for kind in ("teacher", "stock", "gold", "distilled")]
    containers = [c for c in axes.containers if isinstance(c, ErrorbarContainer)]
    assert len(containers) == len(points)
    for point, container in zip(points, containers):
        several = len(point.scores) > 1
        assert container.has_xerr == several and container.has_yerr == several
        line = container.lines[0]
        assert (line.get_marker(), line.get_color()) == KINDS[point.kind][1:]
    with pytest.raises(ValueError, match="unknown kind"):
        accuracy_speed_figure([PlotPoint("x", [1.0], [0.5], "student")], score_name="LAS")


def test_labels_stay_inside_the_frame_and_apart():
    figure = accuracy_speed_figure(crowded_points(), score_name="LAS")
    [axes] = figure.axes
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    frame = axes.get_window_extent(renderer)
    boxes = [text.get_window_extent(renderer) for text in axes.texts]
    assert sorted(text.get_text() for text in axes.texts) == sorted(
        point.label for point in crowded_points()
    )
    for box in boxes:
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, (box, frame)
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1, (box, frame)
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)


def test_a_single_point_gets_a_readable_range():
    figure = accuracy_speed_figure([PlotPoint("only", [5000], [0.8])], score_name="LAS")
    [axes] = figure.axes
    low, high = axes.get_xlim()
    assert high / low >= 4 and len(speed_ticks(low, high)) >= 3
    assert axes.get_legend() is None  # no kind and no error bars: nothing to explain
