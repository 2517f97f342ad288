"""Teacher, student and baseline side by side: spaCy's scores on a corpus,
words per second of `nlp.pipe` (median of repeated passes after a warm-up) and
the size of the pipeline on disk."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from .speed import directory_size_mb, time_passes

METRICS = (
    ("tag_acc", "XPOS"),
    ("pos_acc", "UPOS"),
    ("dep_uas", "UAS"),
    ("dep_las", "LAS"),
    ("ents_f", "NER F"),
    ("sents_f", "sents F"),
)


@dataclass
class PipelineReport:
    name: str
    scores: Dict[str, Optional[float]]
    words_per_second: float
    size_mb: float
    speeds: List[float] = field(default_factory=list)


def compare_pipelines(
    pipelines: Sequence[Path],
    corpus: Path,
    *,
    names: Optional[Sequence[str]] = None,
    repeats: int = 3,
    batch_size: int = 256,
    progress: Callable[[str], None] = lambda message: None,
) -> List[PipelineReport]:
    """One report per pipeline: scores on `corpus` (a `.spacy` DocBin, raw text
    re-tokenized as in training) and the median words/s of `repeats` passes."""
    names = list(names) if names else [Path(p).name for p in pipelines]
    if len(names) != len(pipelines):
        raise ValueError(f"{len(names)} names for {len(pipelines)} pipelines")
    reports = []
    for name, path in zip(names, pipelines):
        progress(f"{name}: loading {path}")
        nlp = spacy.load(path)
        references = list(DocBin().from_disk(corpus).get_docs(nlp.vocab))
        if not references:
            raise ValueError(f"{corpus} holds no docs")
        examples = [Example(nlp.make_doc(ref.text), ref) for ref in references]
        progress(f"{name}: scoring {len(examples)} docs")
        scores = nlp.evaluate(examples, batch_size=batch_size)
        speeds = time_passes(
            nlp,
            [ref.text for ref in references],
            repeats=repeats,
            batch_size=batch_size,
            progress=lambda message, name=name: progress(f"{name}: {message}"),
        )
        reports.append(
            PipelineReport(
                name,
                {key: scores.get(key) for key, _ in METRICS},
                statistics.median(speeds),
                directory_size_mb(path),
                speeds,
            )
        )
    return reports


def markdown_table(reports: Sequence[PipelineReport]) -> str:
    """The reports as a markdown table (scores in %, a dash where not scored)."""
    keys = [key for key, _ in METRICS if any(r.scores.get(key) is not None for r in reports)]
    titles = dict(METRICS)
    lines = [
        "| pipeline | " + " | ".join(titles[k] for k in keys) + " | words/s | MB |",
        "|---" * (len(keys) + 3) + "|",
    ]
    for report in reports:
        cells = [
            "—" if report.scores.get(k) is None else f"{100 * report.scores[k]:.2f}" for k in keys
        ]
        lines.append(
            f"| {report.name} | "
            + " | ".join(cells)
            + f" | {report.words_per_second:,.0f} | {report.size_mb:.1f} |"
        )
    return "\n".join(lines)


def plot_reports(reports: Sequence[PipelineReport], path: Path, metric: str = "dep_las") -> None:
    """A PNG of `metric` against words/s, one labelled point per pipeline
    (needs matplotlib: the `plot` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("plotting needs matplotlib: pip install 'spacy-skd[plot]'") from None
    points = [r for r in reports if r.scores.get(metric) is not None]
    if not points:
        raise ValueError(f"no pipeline has a {metric!r} score to plot")
    figure, axes = plt.subplots(figsize=(6, 4))
    for report in points:
        x, y = report.words_per_second, 100 * report.scores[metric]
        axes.scatter([x], [y])
        axes.annotate(report.name, (x, y), textcoords="offset points", xytext=(5, 5))
    axes.set_xscale("log")
    axes.set_xlabel("words per second (CPU, nlp.pipe)")
    axes.set_ylabel(dict(METRICS).get(metric, metric))
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
