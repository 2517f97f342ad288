"""The spaCy project's report: teacher, gold-only student and distilled student
side by side, from the files the project's `evaluate` and `benchmark` steps
wrote (`NAME.ewt-test.json` and `NAME.gum-test.json` from `spacy evaluate
--output`, `NAME.speed.json` from `spacy-skd benchmark`), as a markdown page
with the date, machine and commit, and an accuracy-vs-speed plot."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import spacy

from .compare import PipelineReport, plot_reports

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


def read_run(metrics_dir: Path, name: str) -> Dict[str, Dict]:
    """The evaluation and speed files of run `name`; a missing file is an error."""
    found = {}
    for suffix in ("ewt-test", "gum-test", "speed"):
        path = Path(metrics_dir) / f"{name}.{suffix}.json"
        if not path.exists():
            raise ValueError(f"{path} is missing: run the project's evaluate and benchmark steps")
        found[suffix] = json.loads(path.read_text(encoding="utf8"))
    return found


def _commit(metrics_dir: Path) -> str:
    """HEAD's short hash, marked when tracked files other than the run's own
    metrics (which the run rewrites) differ from it."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        exclude = f":(exclude){Path(metrics_dir).resolve()}"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ":/", exclude],
            capture_output=True,
            text=True,
        )
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def machine() -> str:
    """A line naming this machine: CPU, core count, Python, spaCy and torch."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf8") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"spaCy {spacy.__version__}, torch {torch.__version__}"
    )


def _cell(value: Optional[float]) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def report_table(runs: Sequence[Tuple[str, Dict[str, Dict]]]) -> str:
    """Markdown table: one row per (label, files) run, scores in %."""
    gpu = any(files["speed"].get("gpu_words_per_second") for _, files in runs)
    titles = [title for _, _, title in COLUMNS] + ["CPU words/s"] + (["GPU words/s"] if gpu else [])
    lines = ["| pipeline | " + " | ".join(titles) + " | MB |", "|---" * (len(titles) + 2) + "|"]
    for label, files in runs:
        cells = [_cell(files[suffix].get(key)) for suffix, key, _ in COLUMNS]
        speed = files["speed"]
        cells.append(f"{speed['cpu_words_per_second']:,.0f}")
        if gpu:
            value = speed.get("gpu_words_per_second")
            cells.append("—" if value is None else f"{value:,.0f}")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {speed['size_mb']:.1f} |")
    return "\n".join(lines)


def write_report(
    output: Path,
    metrics_dir: Path,
    runs: Sequence[Tuple[str, str]],
    *,
    plot: Optional[Path] = None,
    notes: Sequence[str] = (),
) -> str:
    """Write the report for `runs` ((label, run name) pairs) to `output`, and the
    plot (EWT test LAS against CPU words/s) to `plot`; returns the markdown."""
    loaded: List[Tuple[str, Dict[str, Dict]]] = [
        (label, read_run(metrics_dir, name)) for label, name in runs
    ]
    threads = {files["speed"].get("threads") for _, files in loaded}
    lines = [
        "# spacy-skd: teacher, gold-only student and distilled student",
        "",
        f"Date: {datetime.date.today().isoformat()}. Machine: {machine()}. "
        f"Commit: {_commit(metrics_dir)}.",
        "",
        report_table(loaded),
        "",
        "Scores in % (`spacy evaluate`) on UD English-EWT test (UNER for NER) and UD "
        "English-GUM test (out of domain, no NER). Words/s: median of timed `nlp.pipe` "
        f"passes over EWT test's texts on the CPU with {', '.join(map(str, sorted(threads)))} "
        "torch thread(s) (`spacy-skd benchmark`). MB: the pipeline's size on disk.",
    ]
    lines += [""] + list(notes) if notes else []
    if plot is not None:
        reports = [
            PipelineReport(
                label,
                {"dep_las": files["ewt-test"].get("dep_las")},
                files["speed"]["cpu_words_per_second"],
                files["speed"]["size_mb"],
            )
            for label, files in loaded
        ]
        plot_reports(reports, plot, "dep_las")
        lines += ["", f"![EWT test LAS against CPU words/s]({Path(plot).name})"]
    text = "\n".join(lines) + "\n"
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(text, encoding="utf8")
    return text
