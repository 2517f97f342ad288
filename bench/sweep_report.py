"""The reports of bench/sweep.py, made from its per-variant JSON files alone:
`table.md` (every run's scores and speeds), `plot.png` and `plot-upos.png` (EWT
test LAS and UPOS against words/s of each student gold-only and distilled, the
stock pipeline and the teacher), and, where a variant was distilled on several
prefixes of the unlabelled text, `curve.md` and `curve.png` (EWT test and GUM
test LAS and UPOS against the prefix's words, beside the gold-only twin), and,
for runs with JSON files at several seeds (seed 0's in the folder, others' in
its `seed<N>/`), `seeds.md` (their mean ± standard deviation)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import srsly
import typer
from table import SCORES, mean_sd

from spacy_skd.evaluation.plot import KINDS, PlotPoint, accuracy_speed_figure, save_figure
from spacy_skd.evaluation.report import Run, read_run

TESTS = ("ewt-test", "gum-test")
# (score key, title) of the plots and the learning curve
CURVE_SCORES = (("dep_las", "LAS"), ("pos_acc", "UPOS"))
PLOT_FILES = {"dep_las": "plot.png", "pos_acc": "plot-upos.png"}
CURVE_FILES = ("curve.md", "curve.png")
SEEDS_FILE = "seeds.md"
# another seed's runs and JSON files are in `<SEED_PREFIX><seed>/`
SEED_PREFIX = "seed"
# (test, score key, title) of the seeds table
SEED_SCORES = (
    ("ewt-test", "pos_acc", "EWT UPOS"),
    ("ewt-test", "dep_las", "EWT LAS"),
    ("gum-test", "pos_acc", "GUM UPOS"),
    ("gum-test", "dep_las", "GUM LAS"),
)
# the curves' margin left and right of the points, in spans of the (symlog) axis
CURVE_PAD = 0.06
STOCK_LABEL = "spaCy stock CNN"


def variant_name(result: dict) -> str:
    """The variant a result file is a run of, without its `-u<N>` suffix."""
    hidden = result["hidden_loss"]
    return result["student"] + (f"+hidden-{hidden}" if hidden else "")


def read_results(metrics_dir: Path, order: Sequence[str]) -> List[dict]:
    """The per-variant JSON files in `metrics_dir`, by student in the order of
    `order`, each student before its +hidden variants, then by `unlabelled_words`
    (numbers up, `all` last)."""

    def key(result: dict):
        words = result["unlabelled_words"]
        size = (words == "all", int(words) if words.isdigit() else 0)
        return (order.index(result["student"]), result["hidden_loss"] or "", size)

    return sorted((srsly.read_json(path) for path in Path(metrics_dir).glob("*.json")), key=key)


def percent(value: Optional[float]) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def stock_labels(results: Sequence[dict]) -> List[str]:
    """The label of each result's stock run: one per training of the stock
    pipeline (told apart by its scores), the first `STOCK_LABEL`, a later one,
    trained again in its place, `STOCK_LABEL, retrained` (numbered from the
    third on)."""
    trainings: Dict[tuple, str] = {}
    labels = []
    for result in results:
        scores = tuple(sorted(result["runs"]["stock"]["ewt-test"].items()))
        if scores not in trainings:
            count = len(trainings)
            suffix = "" if count == 0 else ", retrained" + (f" {count}" if count > 1 else "")
            trainings[scores] = STOCK_LABEL + suffix
        labels.append(trainings[scores])
    return labels


def table(results: Sequence[dict]) -> str:
    """A markdown table of the results: each training of the stock pipeline's
    scores once, before the first variant timed against it, and each variant's
    gold-only and distilled runs."""
    header = [f"EWT {title}" for _, title in SCORES] + [f"GUM {title}" for _, title in SCORES[:4]]
    header += ["words/s", "stock words/s, same turns", "time per word, x stock"]
    lines = ["| variant | run | " + " | ".join(header) + " |", "|---" * (len(header) + 2) + "|"]
    shown = set()
    for result, stock in zip(results, stock_labels(results)):
        runs = result["runs"]
        names = ["gold", "distilled"] if stock in shown else ["stock", "gold", "distilled"]
        shown.add(stock)
        for name in names:
            run = runs[name]
            cells = [percent(run["ewt-test"][key]) for key, _ in SCORES]
            cells += [percent(run["gum-test"][key]) for key, _ in SCORES[:4]]
            cells += [
                f"{run['words_per_second']:,.0f}",
                f"{runs['stock']['words_per_second']:,.0f}",
                f"{run['time_per_word_vs_stock']:.2f}",
            ]
            label = stock if name == "stock" else result["variant"]
            lines.append(f"| {label} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def read_teachers(results: Sequence[dict], metrics_dir: Path) -> Dict[str, Run]:
    """The project's scores and timing of each teacher the results name, by run
    name (`training/teacher-<name>/model-best` -> `teacher-<name>.ewt-test.json`
    and `.speed.json` in `metrics_dir`); a teacher without them is left out, with
    a warning."""
    teachers = {}
    for name in dict.fromkeys(Path(result["teacher"]).parent.name for result in results):
        try:
            teachers[name] = read_run(metrics_dir, name, optional=("gum-test",))
        except ValueError as error:
            typer.echo(f"warning: the plot leaves out the teacher: {error}", err=True)
    return teachers


def plot_points(results: Sequence[dict], teachers: Dict[str, Run], key: str) -> List[PlotPoint]:
    """A point per pipeline with an EWT test score `key`: the stock pipeline and
    each student's gold-only run once (their words/s the median of their timings,
    one beside each distilled run), each distilled run, each teacher."""
    speeds: Dict[tuple, List[float]] = {}
    scores: Dict[tuple, Optional[float]] = {}
    for result, stock in zip(results, stock_labels(results)):
        labels = {"stock": stock, "gold": result["student"], "distilled": result["variant"]}
        for kind, label in labels.items():
            run = result["runs"][kind]
            speeds.setdefault((label, kind), []).append(run["words_per_second"])
            scores[label, kind] = run["ewt-test"][key]
    points = [
        PlotPoint(label, [statistics.median(values)], [scores[label, kind]], kind)
        for (label, kind), values in speeds.items()
    ]
    points += [
        PlotPoint(name, [run["speed"]["cpu_words_per_second"]], [run["ewt-test"][key]], "teacher")
        for name, run in teachers.items()
    ]
    return [point for point in points if point.scores[0] is not None]


def timing_note(results: Sequence[dict], teachers: Dict[str, Run]) -> str:
    """How the plotted words/s were measured: the students and stock in turns,
    the teacher apart."""
    timings = [result["timing"] for result in results if "timing" in result]
    lines = ["students and stock: timed in turns (bench/speed_ratio.py"]
    lines[0] += f", {_threads(timings)})" if timings else ")"
    if teachers:
        speeds = [run["speed"] for run in teachers.values()]
        lines.append(f"teacher: a separate timing (spacy-skd benchmark, {_threads(speeds)})")
    return "\n".join(lines)


def _threads(timings: Sequence[dict]) -> str:
    """The torch thread counts of timings: "2 torch threads", "1/2 torch threads"."""
    counts = "/".join(sorted({str(timing["threads"]) for timing in timings}))
    return f"{counts} torch thread{'' if counts == '1' else 's'}"


def write_plots(results: Sequence[dict], teachers: Dict[str, Run], metrics_dir: Path) -> None:
    """EWT test LAS and UPOS against CPU words/s, in PLOT_FILES."""
    note = timing_note(results, teachers)
    for key, title in CURVE_SCORES:
        points = plot_points(results, teachers, key)
        if not points:
            continue
        figure = accuracy_speed_figure(
            points,
            score_name=f"EWT test {title}",
            title=f"UD English-EWT test: {title} against CPU words/s\n{note}",
        )
        save_figure(figure, metrics_dir / PLOT_FILES[key])


def transfer_words(result: dict) -> int:
    """The words of the unlabelled sample a result's student was distilled on."""
    if "transfer_words" not in result:
        raise ValueError(
            f"{result['variant']}.json does not record its transfer set's words: rerun its "
            "sweep command (its steps are done, so it only rewrites the file)"
        )
    return result["transfer_words"]


def curves(results: Sequence[dict]) -> Dict[str, List[dict]]:
    """The results of each variant distilled with several `unlabelled_words`, in
    the order of `results`."""
    by_variant: Dict[str, List[dict]] = {}
    for result in results:
        by_variant.setdefault(variant_name(result), []).append(result)
    return {
        name: runs
        for name, runs in by_variant.items()
        if len({run["unlabelled_words"] for run in runs}) > 1
    }


def curve_table(runs: Sequence[dict]) -> str:
    """A markdown table of one variant's curve: its gold-only twin, then a row per
    transfer set."""
    header = ["run", "--unlabelled-words", "transfer words"]
    header += [f"{corpus} {title}" for corpus in ("EWT", "GUM") for _, title in CURVE_SCORES]
    rows = [("gold-only", "—", "—", runs[0]["runs"]["gold"])]
    rows += [
        ("distilled", run["unlabelled_words"], f"{transfer_words(run):,}", run["runs"]["distilled"])
        for run in runs
    ]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name, words, count, scores in rows:
        cells = [percent(scores[test][key]) for test in TESTS for key, _ in CURVE_SCORES]
        lines.append(f"| {name} | {words} | {count} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curve_page(variant_curves: Dict[str, List[dict]]) -> str:
    lines = [
        "# Learning curves: students distilled on more and more unlabelled text",
        "",
        "Scores in % (`spacy evaluate`) on UD English-EWT test and UD English-GUM test "
        "(out of domain). Each distilled run learns from the teacher on EWT train and on "
        "the first lines of the unlabelled text up to `--unlabelled-words` (0: EWT train "
        "alone); transfer words: the sample's words (whitespace-separated). The gold-only "
        "run is the same student trained on EWT train alone, with the same steps and seed.",
    ]
    for name, runs in variant_curves.items():
        lines += ["", f"## {name}", "", curve_table(runs)]
    lines += ["", f"![LAS and UPOS against transfer words]({CURVE_FILES[1]})"]
    return "\n".join(lines) + "\n"


def short_count(value: float) -> str:
    """A word count as a tick label: 0, 800, 150k, 1.5M."""
    if value >= 1e6:
        return f"{value / 1e6:.2g}M"
    if value >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


def curve_figure(variant_curves: Dict[str, List[dict]]):
    """A row of panels (LAS, UPOS) per variant: EWT test and GUM test scores of
    the distilled runs against transfer words (symmetric log axis, 0 included),
    the gold-only twin's as horizontal lines; the legend under the panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullLocator

    height = 3.4 * len(variant_curves) + 1.0
    figure, grid = plt.subplots(
        len(variant_curves), len(CURVE_SCORES), figsize=(10, height), squeeze=False
    )
    tests = {"ewt-test": ("EWT test", "-"), "gum-test": ("GUM test", "--")}
    for row, (name, runs) in zip(grid, variant_curves.items()):
        words = [transfer_words(run) for run in runs]
        for axes, (key, title) in zip(row, CURVE_SCORES):
            for test, (_, line) in tests.items():
                scores = [run["runs"]["distilled"][test][key] for run in runs]
                axes.plot(
                    words,
                    [_in_percent(s) for s in scores],
                    line,
                    marker="^",
                    color=KINDS["distilled"][2],
                )
                gold = runs[0]["runs"]["gold"][test][key]
                axes.axhline(_in_percent(gold), linestyle=line, color=KINDS["gold"][2], linewidth=1)
            positive = [count for count in words if count > 0]
            axes.set_xscale("symlog", linthresh=min(positive) if positive else 1)
            scale = axes.xaxis.get_transform()
            low, high = scale.transform([min(words), max(words)])
            pad = CURVE_PAD * (high - low)
            axes.set_xlim(*scale.inverted().transform([low - pad, high + pad]))
            ticks = sorted(set(words))
            axes.set_xticks(ticks, [short_count(count) for count in ticks], rotation=30)
            axes.xaxis.set_minor_locator(NullLocator())
            axes.set_xlabel("transfer words (unlabelled sample)")
            axes.set_ylabel(f"{title} (%)")
            axes.set_title(f"{name}: {title}", fontsize=10)
            axes.grid(True, alpha=0.3)
    handles = [
        Line2D(
            [],
            [],
            linestyle=line,
            marker=marker,
            color=KINDS[kind][2],
            label=f"{corpus}, {KINDS[kind][0]}",
        )
        for kind, marker in (("distilled", "^"), ("gold", ""))
        for corpus, line in tests.values()
    ]
    legend_inches = 0.35
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    figure.suptitle("Learning curves on UD English-EWT test and UD English-GUM test", fontsize=11)
    figure.tight_layout(rect=(0, legend_inches / height, 1, 1))
    return figure


def _in_percent(value: Optional[float]) -> float:
    return math.nan if value is None else 100 * value


def seed_folder(seed: int) -> str:
    """The subfolder of a seed's runs and JSON files: "" for seed 0, `seed<N>`."""
    return "" if seed == 0 else f"{SEED_PREFIX}{seed}"


def seed_results(metrics_dir: Path) -> Dict[str, List[dict]]:
    """Every run name's results over its seeds: seed 0's JSON file in
    `metrics_dir`, another seed's in its `seed<N>/` subfolder; only run names
    with files at more than one seed."""
    paths = sorted(Path(metrics_dir).glob("*.json")) + sorted(
        Path(metrics_dir).glob(f"{SEED_PREFIX}*/*.json")
    )
    by_name: Dict[str, List[dict]] = {}
    for path in paths:
        result = srsly.read_json(path)
        by_name.setdefault(result["variant"], []).append(result)
    return {name: runs for name, runs in by_name.items() if len(runs) > 1}


def seeds_table(by_name: Dict[str, List[dict]]) -> str:
    """Mean ± standard deviation over the seeds of each run name's gold-only and
    distilled runs, and the median over the seeds of their time per word against
    the stock pipeline timed in the same turns."""
    header = [title for _, _, title in SEED_SCORES] + ["time per word, x stock (median)"]
    lines = ["| variant | run | seeds | " + " | ".join(header) + " |"]
    lines.append("|---" * (len(header) + 3) + "|")
    for name, results in by_name.items():
        seeds = ", ".join(str(result["seed"]) for result in sorted(results, key=_seed))
        for kind in ("gold", "distilled"):
            runs = [result["runs"][kind] for result in results]
            cells = [
                mean_sd([100 * run[test][key] for run in runs if run[test].get(key) is not None])
                for test, key, _ in SEED_SCORES
            ]
            ratio = statistics.median(run["time_per_word_vs_stock"] for run in runs)
            lines.append(
                f"| {name} | {kind} | {seeds} | " + " | ".join(cells) + f" | {ratio:.2f} |"
            )
    return "\n".join(lines) + "\n"


def _seed(result: dict) -> int:
    return result["seed"]


def write_seeds(metrics_dir: Path) -> None:
    """`seeds.md` of the run names with several seeds (removed when none has)."""
    by_name = seed_results(metrics_dir)
    if not by_name:
        (metrics_dir / SEEDS_FILE).unlink(missing_ok=True)
        return
    (metrics_dir / SEEDS_FILE).write_text(seeds_table(by_name), encoding="utf8")


def write_reports(metrics_dir: Path, order: Sequence[str], teacher_metrics: Path) -> str:
    """Write the table, the plots and (where a variant has several transfer sets)
    the curves of the JSON files in `metrics_dir`, removing curves no longer
    there; returns the table ("" and nothing written when there is no file)."""
    results = read_results(metrics_dir, order)
    if not results:
        return ""
    text = table(results)
    (metrics_dir / "table.md").write_text(text, encoding="utf8")
    write_seeds(metrics_dir)
    write_plots(results, read_teachers(results, teacher_metrics), metrics_dir)
    variant_curves = curves(results)
    if not variant_curves:
        for file in CURVE_FILES:
            (metrics_dir / file).unlink(missing_ok=True)
        return text
    (metrics_dir / CURVE_FILES[0]).write_text(curve_page(variant_curves), encoding="utf8")
    save_figure(curve_figure(variant_curves), metrics_dir / CURVE_FILES[1])
    return text
