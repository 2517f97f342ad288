"""Peak resident memory of a short distillation against the size of the unlabelled
text: with the text streamed (`spacy-skd.MixedCorpus.v1`) and the distiller's
memory capped (`memory_entries`), the peak should not grow with the text.

For each `--lines N`, the first N lines of TEXT are written to a temporary file and
`spacy-skd distill ... --unlabelled FILE` trains the student for `--steps` steps
under `/usr/bin/time -v` (GNU time; Debian package `time`), in a fresh output
folder and, unless `--cache-dir` is given, a fresh target cache (the teacher
annotates every doc the run reaches). The table gives the text's lines and words,
the peak resident set size and the wall time of each run.

python bench/distill_memory.py TEACHER configs/student_cnn.cfg corpus/ewt-train.spacy \
    corpus/ewt-dev.spacy transfer-mix.txt --lines 20000 --lines 200000 --steps 200

Extra `--section.key value` options go to `spacy-skd distill` (config overrides).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

import typer

TIME = Path("/usr/bin/time")


def first_lines(source: Path, n_lines: int, target: Path) -> Tuple[int, int]:
    """Write the first `n_lines` lines of `source` to `target`; (lines, words)."""
    lines = words = 0
    with source.open(encoding="utf8") as reader, target.open("w", encoding="utf8") as writer:
        for line in reader:
            if lines == n_lines:
                break
            writer.write(line)
            lines += 1
            words += len(line.split())
    return lines, words


def peak_and_wall(report: str) -> Tuple[float, str]:
    """GNU time's maximum resident set size (MiB) and elapsed wall time."""
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", report)
    if peak is None or wall is None:
        raise RuntimeError(f"no memory report from {TIME}:\n{report[-2000:]}")
    return int(peak.group(1)) / 1024, wall.group(1)


def run(command: List[str], log: Path) -> Tuple[float, str]:
    """Run `command` under GNU time, its output into `log`; (peak MiB, wall)."""
    report = log.with_suffix(".time")
    with log.open("w") as output:
        done = subprocess.run(
            [str(TIME), "-v", "-o", str(report), *command], stdout=output, stderr=output
        )
    if done.returncode != 0:
        raise RuntimeError(f"the run failed ({done.returncode}); its output: {log}")
    return peak_and_wall(report.read_text())


def main(
    ctx: typer.Context,
    teacher: str = typer.Argument(..., help="Teacher pipeline"),
    config: Path = typer.Argument(..., exists=True, dir_okay=False, help="Student config"),
    train: Path = typer.Argument(..., exists=True, dir_okay=False, help="Gold train .spacy"),
    dev: Path = typer.Argument(..., exists=True, dir_okay=False, help="Dev .spacy"),
    text: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Unlabelled text, a doc a line"
    ),
    lines: List[int] = typer.Option(..., "--lines", help="Lines of TEXT to use (repeatable)"),
    steps: int = typer.Option(200, help="Training steps of each run"),
    gold_share: float = typer.Option(0.5, help="Share of each batch's words from gold"),
    memory_entries: Optional[int] = typer.Option(None, help="The distiller's memory cap"),
    cache_dir: Optional[Path] = typer.Option(None, help="Shared target cache (default: fresh)"),
    work_dir: Optional[Path] = typer.Option(None, help="Where runs and logs go (default: temp)"),
    output: Optional[Path] = typer.Option(None, help="Append the table to this file"),
) -> None:
    if not TIME.exists():
        raise typer.BadParameter(f"{TIME} is missing: install GNU time (apt-get install time)")
    work = Path(work_dir or tempfile.mkdtemp(prefix="distill-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    header = "| lines | words | steps | gold share | memory entries | peak RSS (MiB) | wall |"
    rows = [header, "|---:|---:|---:|---:|---:|---:|---:|"]
    print(header, flush=True)
    for n_lines in lines:
        folder = work / f"lines-{n_lines}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        n_lines, n_words = first_lines(text, n_lines, folder / "text.txt")
        cache = cache_dir or folder / "cache"
        command = [sys.executable, "-m", "spacy_skd", "distill", teacher, str(config)]
        command += [str(folder / "out"), "--unlabelled", str(folder / "text.txt")]
        command += ["--gold-share", str(gold_share), "--cache-dir", str(cache)]
        if memory_entries is not None:
            command += ["--memory-entries", str(memory_entries)]
        command += ["--paths.train", str(train), "--paths.dev", str(dev)]
        command += ["--training.max_steps", str(steps), "--training.eval_frequency", str(steps)]
        command += ctx.args
        peak, wall = run(command, folder / "distill.log")
        cap = memory_entries if memory_entries is not None else "default"
        row = (
            f"| {n_lines:,} | {n_words:,} | {steps} | {gold_share} | {cap} | {peak:,.0f} | {wall} |"
        )
        rows.append(row)
        print(row, flush=True)
    if output is not None:
        with output.open("a") as handle:
            handle.write(" ".join(["python", *sys.argv]) + "\n\n" + "\n".join(rows) + "\n\n")


if __name__ == "__main__":
    app = typer.Typer()
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(main)
    app()
