"""The project's smoke run: every step of the `all` workflow, in its own folder
(default `smoke/`, with its own project.lock), on the EWT sample committed under
tests/fixtures/ewt_sample and a tiny randomly initialised BERT built offline.
It checks that the steps fit together, not what they reach: the models are
trained for a few steps only.

python scripts/smoke.py smoke
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE = PROJECT.parent / "tests" / "fixtures" / "ewt_sample"
CONFIGS = PROJECT.parent / "configs"
# the committed files that the steps read
PROJECT_FILES = ("project.yml", "data.md", "scripts")

# the smoke run's vars: a few steps of everything, a package of its own name
SMOKE_VARS = {
    "teacher": "tiny",
    "data_dir": "data",
    "teacher_steps": 6,
    "student_steps": 6,
    "anneal_steps": 4,
    "eval_frequency": 3,
    "speed_repeats": 1,
    "speed_threads": 1,
    "package_name": "skd_smoke",
    # a prefix of the unlabelled text, as the real run can take
    "unlabelled_words": 2000,
}


def write_data(data_dir: Path) -> None:
    """The sample laid out like the project's data folder. It has no test or GUM
    split of its own: its dev file stands in for EWT test and GUM test, and the
    raw text of its train file for the unlabelled text (at the default path of
    the transfer text)."""
    layout = {
        "UD_English-EWT/en_ewt-ud-train.conllu": "train.conllu",
        "UD_English-EWT/en_ewt-ud-dev.conllu": "dev.conllu",
        "UD_English-EWT/en_ewt-ud-test.conllu": "dev.conllu",
        "UNER_English-EWT/en_ewt-ud-train.iob2": "train.iob2",
        "UNER_English-EWT/en_ewt-ud-dev.iob2": "dev.iob2",
        "UNER_English-EWT/en_ewt-ud-test.iob2": "dev.iob2",
        "UD_English-GUM/en_gum-ud-test.conllu": "dev.conllu",
    }
    for dest, source in layout.items():
        (data_dir / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLE / source, data_dir / dest)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy_skd",
            "text",
            str(SAMPLE / "train.conllu"),
            str(data_dir / "unlabelled" / "transfer-mix.txt"),
        ],
        check=True,
    )


def main(folder: str = "smoke") -> None:
    work = PROJECT / folder
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in PROJECT_FILES:
        copy = shutil.copytree if (PROJECT / name).is_dir() else shutil.copyfile
        copy(PROJECT / name, work / name)
    write_data(work / "data")
    smoke_vars = dict(SMOKE_VARS, configs_dir=str(CONFIGS))
    overrides = [f"--vars.{key}={value}" for key, value in smoke_vars.items()]
    subprocess.run(
        [sys.executable, "-m", "weasel", "run", "all", str(work), *overrides], check=True
    )
    print(f"smoke run passed: {work / 'metrics' / 'report.md'}")


if __name__ == "__main__":
    main(*sys.argv[1:])
