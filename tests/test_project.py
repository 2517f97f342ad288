"""The spaCy project in project/: its workflows are well formed, and the smoke
workflow (every step of `all` on the committed EWT sample with a tiny random
transformer) runs from a fresh copy and ends in a report and a loadable package."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import srsly
from weasel.util import load_project_config

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "project"


def project_config(**overrides):
    return load_project_config(PROJECT, overrides={f"vars.{k}": v for k, v in overrides.items()})


def test_every_dependency_is_data_a_config_or_an_earlier_output():
    config = project_config(data_dir="DATA")
    commands = {command["name"]: command for command in config["commands"]}
    made = set()
    for name in config["workflows"]["all"]:
        command = commands[name]
        for dep in command.get("deps", []):
            assert dep.startswith(("DATA/", "../configs/")) or dep in made, (name, dep)
        made.update(command.get("outputs", []) + command.get("outputs_no_cache", []))
    assert {"metrics/report.md", "metrics/report.png"} <= made


def test_the_assets_mirror_the_data_folder_layout():
    """data_dir replaces the assets folder: the commands read the same files from both."""
    config = project_config()
    dests = {asset["dest"] for asset in config["assets"]}
    convert = next(c for c in config["commands"] if c["name"] == "convert")
    assert set(convert["deps"]) <= dests
    checked = {a["dest"] for a in config["assets"] if a.get("checksum")}
    assert checked == {
        "assets/UD_English-EWT/en_ewt-ud-dev.conllu",
        "assets/UD_English-EWT/en_ewt-ud-test.conllu",
        "assets/unlabelled/transfer-mix.txt",
    }
    # the transfer text has no public file: the user supplies it
    supplied = [asset["dest"] for asset in config["assets"] if not asset.get("url")]
    assert supplied == [config["vars"]["unlabelled"]]


def test_the_teacher_annotates_and_teaches_on_training_text_only():
    config = project_config(unlabelled_words=1000)
    assert config["vars"]["unlabelled"].endswith("unlabelled/transfer-mix.txt")
    commands = {command["name"]: command for command in config["commands"]}
    (annotate,) = commands["annotate"]["script"]
    assert annotate.split()[5] == "corpus/ewt-train.spacy"
    (distill,) = commands["distill"]["script"]
    assert "--paths.train corpus/ewt-train.spacy" in distill and "test" not in distill
    # the distiller reads the prefix that unlabelled-sample writes of the chosen text
    (sample,) = commands["unlabelled-sample"]["script"]
    prefix = "assets/unlabelled/transfer-1000.txt"
    assert sample.split()[4:] == [config["vars"]["unlabelled"], prefix, "--max-words", "1000"]
    assert f"--unlabelled={prefix}" in distill and prefix in commands["distill"]["deps"]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke workflow, run in a copy of the repository's project, configs and
    sample (so nothing is written into the checkout)."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(
        PROJECT,
        root / "project",
        ignore=shutil.ignore_patterns(
            "assets", "corpus", "training", "cache", "packages", "smoke", "project.lock"
        ),
    )
    shutil.copytree(ROOT / "configs", root / "configs")
    shutil.copytree(ROOT / "tests" / "fixtures", root / "tests" / "fixtures")
    result = subprocess.run(
        [sys.executable, "-m", "weasel", "run", "smoke", str(root / "project")],
        capture_output=True,
        text=True,
    )
    yield root / "project" / "smoke", result
    subprocess.run(
        [sys.executable, "-m", "pip", "uninstall", "-y", "en_skd_smoke"], capture_output=True
    )


def test_smoke_workflow_runs_every_step(smoke_run):
    work, result = smoke_run
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    steps = load_project_config(work)["workflows"]["all"]
    assert len(steps) == 12
    assert set(srsly.read_yaml(work / "project.lock")) == set(steps)


def test_smoke_report_has_the_three_pipelines(smoke_run):
    work, result = smoke_run
    report = (work / "metrics" / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split(" | ")[0] for row in rows[1:]] == [
        "| teacher (tiny)",
        "| gold-only student (cnn, seed 0)",
        "| distilled student (cnn, structural KD, seed 0)",
    ]
    assert (work / "metrics" / "report.png").stat().st_size > 1000
    speed = json.loads((work / "metrics" / "teacher-tiny.speed.json").read_text())
    assert speed["cpu_words_per_second"] > 0 and speed["gpu_words_per_second"] is None


def test_smoke_package_loads_with_spacy_load(smoke_run):
    work, result = smoke_run
    assert "['tok2vec', 'senter', 'tagger', 'upos', 'parser', 'ner']" in result.stdout
    distilled = work / "training" / "distilled-cnn-tiny-structural-u2000-s0"
    used = (distilled / "distill.cfg").read_text()
    assert "spacy.PlainTextCorpus.v1" in used and "skd_distiller" in used
    assert (
        "distiller"
        not in json.loads((distilled / "model-best" / "meta.json").read_text())["pipeline"]
    )
