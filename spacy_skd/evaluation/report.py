"""The spaCy project's report: teachers, students and stock pipelines side by
side, from the files the project's `evaluate` and `benchmark` steps wrote
(`NAME.ewt-test.json` and `NAME.gum-test.json` from `spacy evaluate --output`,
`NAME.speed.json` from `spacy-skd benchmark`), as a markdown page with the date,
machine and commit, and an accuracy-vs-speed plot. A row may average several
runs (one per seed): its cells are then mean ± sd and its point has error bars."""

from __future__ import annotations

import datetime
import glob
import json
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import spacy

from .plot import KINDS, PlotPoint, accuracy_speed_figure, mean_sd, save_figure
from .speed import cpu_name

# (file suffix, score key, column title)
COLUMNS: Tuple[Tuple[str, str, str], ...] = (
    ("ewt-test", "pos_acc", "EWT UPOS"),
    ("ewt-test", "tag_acc", "EWT XPOS"),
    ("ewt-test", "dep_uas", "EWT UAS"),
    ("ewt-test", "dep_las", "EWT LAS"),
    ("ewt-test", "ents_f", "EWT NER F"),
    ("gum-test", "pos_acc", "GUM UPOS"),
    ("gum-test", "dep_uas", "GUM UAS"),
    ("gum-test", "dep_las", "GUM LAS"),
)
SUFFIXES = ("ewt-test", "gum-test", "speed")
ROW_SYNTAX = "LABEL=NAME[,NAME...][@KIND]"

Run = Dict[str, Dict]  # file suffix -> the file's JSON


@dataclass
class Row:
    """One row of the table and one point of the plot: its label, the names of
    its runs (glob patterns allowed) and the kind of pipeline (a key of KINDS)."""

    label: str
    names: List[str]
    kind: Optional[str] = None


def parse_rows(specs: Sequence[str]) -> List[Row]:
    """Rows from `LABEL=NAME[,NAME...][@KIND]` arguments, in order; arguments with
    the same LABEL make one row (their names joined, their kinds the same)."""
    rows: Dict[str, Row] = {}
    for spec in specs:
        label, sep, rest = spec.rpartition("=")
        names_part, at, kind = rest.partition("@")
        names = [name.strip() for name in names_part.split(",") if name.strip()]
        if not sep or not label or not names or (at and not kind):
            raise ValueError(f"expected {ROW_SYNTAX}, got {spec!r}")
        if at and kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} in {spec!r}: use one of {', '.join(KINDS)}")
        row = rows.setdefault(label, Row(label, [], kind or None))
        if at and row.kind not in (None, kind):
            raise ValueError(f"{label!r} is given the kinds {row.kind!r} and {kind!r}")
        row.kind = row.kind or kind or None
        row.names += [name for name in names if name not in row.names]
    return list(rows.values())


def run_names(metrics_dir: Path, pattern: str) -> List[str]:
    """The run names a NAME stands for: itself, or for a glob pattern the names
    of the matching `NAME.speed.json` files (at least one), sorted."""
    if not glob.has_magic(pattern):
        return [pattern]
    suffix = ".speed.json"
    names = sorted(path.name[: -len(suffix)] for path in Path(metrics_dir).glob(pattern + suffix))
    if not names:
        raise ValueError(f"no run in {metrics_dir} matches {pattern!r} ({pattern}{suffix})")
    return names


def read_run(metrics_dir: Path, name: str, optional: Sequence[str] = ()) -> Run:
    """The evaluation and speed files of run `name`, by suffix; a missing file is
    an error, unless its suffix is in `optional` (then it is left out)."""
    found = {}
    for suffix in SUFFIXES:
        path = Path(metrics_dir) / f"{name}.{suffix}.json"
        if not path.exists() and suffix in optional:
            continue
        if not path.exists():
            raise ValueError(f"{path} is missing: run the project's evaluate and benchmark steps")
        found[suffix] = json.loads(path.read_text(encoding="utf8"))
    return found


def read_row(metrics_dir: Path, row: Row) -> List[Run]:
    """The files of each of the row's runs (patterns expanded, each run once)."""
    names = [name for pattern in row.names for name in run_names(metrics_dir, pattern)]
    return [read_run(metrics_dir, name) for name in dict.fromkeys(names)]


def _commit(metrics_dir: Path) -> str:
    """HEAD's short hash, marked when tracked files other than those under
    `metrics_dir` (the run's own outputs, which it rewrites) differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
        return done.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        top = Path(git("rev-parse", "--show-toplevel")).resolve()
        metrics = Path(metrics_dir).resolve()
        mine = [f":(exclude){metrics}"] if metrics.is_relative_to(top) else []
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ":/", *mine)
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" (with uncommitted changes)" if dirty else "")


def machine() -> str:
    """A line naming this machine: CPU, core count, Python, spaCy and torch."""
    import torch

    return (
        f"{cpu_name()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"spaCy {spacy.__version__}, torch {torch.__version__}"
    )


def score_cell(values: Sequence[Optional[float]], scale: float = 100.0, digits: int = 2) -> str:
    """The mean of the values given (times `scale`), ± their sd where there are
    several; a dash where there are none."""
    given = [scale * value for value in values if value is not None]
    if not given:
        return "—"
    mean, sd = mean_sd(given)
    return f"{mean:,.{digits}f}" + ("" if sd is None else f" ± {sd:,.{digits}f}")


def report_table(rows: Sequence[Tuple[str, List[Run]]]) -> str:
    """Markdown table: one row per (label, runs), scores in %; with a column of
    run counts where a row has several runs."""
    gpu = any(run["speed"].get("gpu_words_per_second") for _, runs in rows for run in runs)
    several = any(len(runs) > 1 for _, runs in rows)
    titles = (
        (["n"] if several else [])
        + [title for _, _, title in COLUMNS]
        + ["CPU words/s"]
        + (["GPU words/s"] if gpu else [])
        + ["MB"]
    )
    lines = ["| pipeline | " + " | ".join(titles) + " |", "|---" * (len(titles) + 1) + "|"]
    for label, runs in rows:
        cells = [str(len(runs))] if several else []
        cells += [score_cell([run[suffix].get(key) for run in runs]) for suffix, key, _ in COLUMNS]
        speeds = [run["speed"] for run in runs]
        cells.append(score_cell([speed["cpu_words_per_second"] for speed in speeds], 1, 0))
        if gpu:
            cells.append(score_cell([speed.get("gpu_words_per_second") for speed in speeds], 1, 0))
        cells.append(f"{mean_sd([speed['size_mb'] for speed in speeds])[0]:.1f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def timed_on(speeds: Sequence[Dict]) -> str:
    """The CPUs and torch thread counts that speed files were timed with."""
    cpus = sorted({speed.get("cpu") or "CPU not recorded" for speed in speeds})
    threads = ", ".join(map(str, sorted({speed["threads"] for speed in speeds})))
    return f"{'; '.join(cpus)}, {threads} torch thread{'' if threads == '1' else 's'}"


def write_report(
    output: Path,
    metrics_dir: Path,
    rows: Sequence[Row],
    *,
    plot: Optional[Path] = None,
    notes: Sequence[str] = (),
) -> str:
    """Write the report of `rows` to `output`, and the plot (EWT test LAS
    against CPU words/s) to `plot`; returns the markdown."""
    loaded = [(row, read_row(metrics_dir, row)) for row in rows]
    timing = timed_on([run["speed"] for _, runs in loaded for run in runs])
    several = any(len(runs) > 1 for _, runs in loaded)
    lines = [
        "# spacy-skd: teachers, students and stock pipelines",
        "",
        f"Date: {datetime.date.today().isoformat()}. Machine: {machine()}. "
        f"Commit: {_commit(metrics_dir)}.",
        "",
        report_table([(row.label, runs) for row, runs in loaded]),
        "",
        "Scores in % (`spacy evaluate`) on UD English-EWT test (UNER for NER) and UD "
        "English-GUM test (out of domain, no NER). Words/s: median of timed `nlp.pipe` "
        f"passes over EWT test's texts on the CPU ({timing}; `spacy-skd benchmark`). "
        "MB: the pipeline's size on disk."
        + (
            " n: the row's runs (one per seed); its cells are the mean ± the sample "
            "standard deviation over them."
            if several
            else ""
        ),
    ]
    lines += [""] + list(notes) if notes else []
    if plot is not None:
        points = [
            PlotPoint(
                row.label,
                [run["speed"]["cpu_words_per_second"] for run in runs],
                [run["ewt-test"]["dep_las"] for run in runs],
                row.kind,
            )
            for row, runs in loaded
            if all(run["ewt-test"].get("dep_las") is not None for run in runs)
        ]
        if not points:
            raise ValueError("no row has an EWT test LAS in each of its runs to plot")
        title = f"UD English-EWT test: LAS against CPU words/s\n{timing}"
        figure = accuracy_speed_figure(points, score_name="EWT test LAS", title=title)
        save_figure(figure, plot)
        lines += ["", f"![EWT test LAS against CPU words/s]({Path(plot).name})"]
    text = "\n".join(lines) + "\n"
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(text, encoding="utf8")
    return text
