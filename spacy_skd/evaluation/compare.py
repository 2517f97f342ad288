"""Teacher, student and baseline side by side: spaCy's scores on a corpus,
words per second of `nlp.pipe` (median of repeated passes after a warm-up) and
the size of the pipeline on disk."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import spacy
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from tqdm import tqdm

from ..progress import progress_bar
from .plot import PlotPoint, accuracy_speed_figure, save_figure
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
    quiet: bool = False,
) -> List[PipelineReport]:
    """One report per pipeline: scores on `corpus` (a `.spacy` DocBin, raw text
    re-tokenized as in training, as `nlp.evaluate` scores it) and the median
    words/s of `repeats` passes. A progress bar per pipeline unless `quiet`."""
    names = list(names) if names else [Path(p).name for p in pipelines]
    if len(names) != len(pipelines):
        raise ValueError(f"{len(names)} names for {len(pipelines)} pipelines")
    n_docs = len(DocBin().from_disk(corpus))
    if not n_docs:
        raise ValueError(f"{corpus} holds no docs")
    reports = []
    for name, path in zip(names, pipelines):
        with progress_bar(n_docs * (1 + repeats), f"{name}: loading", quiet=quiet) as bar:
            nlp = spacy.load(path)
            references = list(DocBin().from_disk(corpus).get_docs(nlp.vocab))
            bar.set_description(f"{name}: scoring")
            scores = score(nlp, references, batch_size=batch_size, progress=bar)
            bar.set_description(f"{name}: timing")
            speeds = time_passes(
                nlp,
                [ref.text for ref in references],
                repeats=repeats,
                batch_size=batch_size,
                progress=bar,
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


def score(
    nlp: Language,
    references: Sequence[Doc],
    *,
    batch_size: int = 256,
    progress: Optional[tqdm] = None,
) -> Dict[str, Any]:
    """`nlp`'s scores on the gold `references`, as `nlp.evaluate` gives them
    (each text re-tokenized by `nlp`); `progress` advances by one per doc."""
    examples = [Example(nlp.make_doc(ref.text), ref) for ref in references]
    predicted = nlp.pipe((example.predicted for example in examples), batch_size=batch_size)
    for example, doc in zip(examples, predicted):
        example.predicted = doc
        if progress is not None:
            progress.update()
    return Scorer(nlp=nlp).score(examples)


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


def plot_reports(
    reports: Sequence[PipelineReport],
    path: Path,
    metric: str = "dep_las",
    title: str = "",
) -> None:
    """A PNG of `metric` against words/s, one labelled point per pipeline
    (needs matplotlib: the `plot` extra)."""
    points = [
        PlotPoint(report.name, [report.words_per_second], [report.scores[metric]])
        for report in reports
        if report.scores.get(metric) is not None
    ]
    if not points:
        raise ValueError(f"no pipeline has a {metric!r} score to plot")
    score_name = dict(METRICS).get(metric, metric)
    save_figure(accuracy_speed_figure(points, score_name=score_name, title=title), path)
