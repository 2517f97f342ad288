"""The spaCy project in project/: its workflows are well formed, and the smoke
workflow (every step of `all` on the committed EWT sample with a tiny random
transformer) runs from a fresh copy and ends in a report and a loadable package."""

import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import srsly
from thinc.api import Config
from weasel.util import load_project_config

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "project"


def project_config(**overrides):
    return load_project_config(PROJECT, overrides={f"vars.{k}": v for k, v in overrides.items()})


def test_every_dependency_is_data_a_config_or_an_earlier_output():
    """... or a file committed with the project (outside the folders of its runs)."""
    config = project_config(data_dir="DATA")
    commands = {command["name"]: command for command in config["commands"]}
    made = set()
    for name in config["workflows"]["all"]:
        command = commands[name]
        for dep in command.get("deps", []):
            committed = dep.split("/")[0] not in config["directories"] and (PROJECT / dep).is_file()
            assert dep.startswith(("DATA/", "../configs/")) or dep in made or committed, (name, dep)
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


def project_script(name: str):
    """A module of project/scripts/."""
    spec = importlib.util.spec_from_file_location(name, PROJECT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ship_package = project_script("ship_package")
smoke = project_script("smoke")


def write_sdist(path: Path, card: str, payload: str = "weights") -> Path:
    """A stand-in sdist: `NAME-VERSION/README.md` and a model file."""
    top = path.name[: -len(".tar.gz")]
    with tarfile.open(path, "w:gz") as archive:
        for name, text in (("README.md", card), ("model/weights", payload)):
            data = text.encode("utf8")
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_the_package_step_ships_its_sdist_alone_under_packages():
    config = project_config(package_name="skd_x", package_version="1.2.3")
    (package,) = [c for c in config["commands"] if c["name"] == "package"]
    assert package["outputs"] == ["packages/en_skd_x-1.2.3.tar.gz"]
    card, build, ship, install, _ = package["script"]
    assert card.split()[4:6] == [package["deps"][0], "packages/build/pipeline"]
    assert build.split()[4:6] == ["packages/build/pipeline", "packages/build"]
    assert "--build sdist" in build
    dist = "packages/build/en_skd_x-1.2.3/dist/en_skd_x-1.2.3.tar.gz"
    assert ship.split()[2:] == [dist, "packages", "--max-mb", "20"]
    assert install.endswith(" packages/en_skd_x-1.2.3.tar.gz")
    ignored = subprocess.run(
        ["git", "check-ignore", "packages/build/x", "packages/en_skd_x-1.2.3.tar.gz"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == ["packages/build/x"]


def test_ship_keeps_one_package_and_the_old_file_when_the_card_is_the_same(tmp_path):
    shipped = tmp_path / "packages"
    shipped.mkdir()
    old = write_sdist(shipped / "en_skd_cnn-0.0.9.tar.gz", "old card")
    (shipped / "notes.txt").write_text("kept")
    build = tmp_path / "build"
    build.mkdir()
    first = write_sdist(build / "en_skd_cnn-0.1.0.tar.gz", "card v1").read_bytes()
    target = ship_package.ship(build / "en_skd_cnn-0.1.0.tar.gz", shipped)
    assert target.read_bytes() == first and not old.exists()
    assert sorted(p.name for p in shipped.iterdir()) == ["en_skd_cnn-0.1.0.tar.gz", "notes.txt"]
    # a rebuild with the same card (other bytes) leaves the shipped file as it was
    same = write_sdist(build / "en_skd_cnn-0.1.0.tar.gz", "card v1", payload="rebuilt")
    assert same.read_bytes() != first
    assert ship_package.ship(same, shipped).read_bytes() == first
    changed = write_sdist(build / "en_skd_cnn-0.1.0.tar.gz", "card v2")
    assert ship_package.card(ship_package.ship(changed, shipped)) == b"card v2"


def test_ship_refuses_an_oversized_or_missing_sdist(tmp_path):
    sdist = write_sdist(tmp_path / "en_big-0.1.0.tar.gz", "card", payload="x" * 2000)
    size = sdist.stat().st_size / 1e6
    with pytest.raises(ValueError, match=rf"is {size:.1f} MB, over the 0.0001 MB"):
        ship_package.ship(sdist, tmp_path / "packages", max_mb=0.0001)
    assert not (tmp_path / "packages").exists()
    with pytest.raises(ValueError, match="not an sdist"):
        ship_package.ship(tmp_path / "en_none-0.1.0.tar.gz", tmp_path / "packages")
    with pytest.raises(SystemExit, match="error: .* over the 0.0001 MB"):
        ship_package.main([str(sdist), str(tmp_path / "packages"), "--max-mb", "0.0001"])


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
    assert len(steps) == 14
    assert set(srsly.read_yaml(work / "project.lock")) == set(steps)


def test_smoke_report_has_the_three_pipelines(smoke_run):
    work, result = smoke_run
    report = (work / "metrics" / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split(" | ")[0] for row in rows[1:]] == [
        "| teacher (tiny)",
        "| gold-only student (cnn128)",
        "| distilled student (cnn128, structural KD)",
    ]
    assert (work / "metrics" / "report.png").stat().st_size > 1000
    speed = json.loads((work / "metrics" / "teacher-tiny.speed.json").read_text())
    assert speed["cpu_words_per_second"] > 0 and speed["gpu_words_per_second"] is None


def test_smoke_package_loads_with_spacy_load(smoke_run):
    work, result = smoke_run
    assert "['tok2vec', 'senter', 'tagger', 'upos', 'parser', 'ner'] CC BY-SA 4.0" in result.stdout
    # the one sdist in the smoke run's packages/, with the model card as its README
    smoke_vars = project_config(**smoke.SMOKE_VARS)["vars"]
    version = smoke_vars["package_version"]
    (sdist,) = [path.name for path in (work / "packages").iterdir() if path.is_file()]
    assert sdist == f"en_skd_smoke-{version}.tar.gz"
    card = ship_package.card(work / "packages" / sdist).decode("utf8")
    assert card.startswith(f"# en_skd_smoke {version}\n")
    assert "| this pipeline | UD English-GUM test |" in card and "| teacher | " in card
    assert "| gold-only twin | " in card and "Stack Exchange" in card
    distilled = work / "training" / f"{smoke_vars['distilled_run']}-s0"
    assert distilled.name == "distilled-cnn128-tiny-structural-u2000-steps6-s0"
    used = (distilled / "distill.cfg").read_text()
    assert "spacy-skd.TextCorpus.v1" in used and "skd_distiller" in used
    # the project's student width, with the hash-embedding rows that follow it
    student = Config().from_disk(distilled / "model-best" / "config.cfg")
    assert student["components"]["tok2vec"]["model"]["encode"]["width"] == 128
    assert student["components"]["tok2vec"]["model"]["embed"]["rows"]["width"] == 128
    assert (
        "distiller"
        not in json.loads((distilled / "model-best" / "meta.json").read_text())["pipeline"]
    )
    # the second stage, what is packaged: from the first stage's weights, annealed
    annealed = work / "training" / f"{smoke_vars['distilled_annealed']}-s0"
    assert annealed.name == "distilled-cnn128-tiny-structural-u2000-steps6-anneal4-s0"
    second = Config().from_disk(annealed / "distill.cfg", interpolate=False)
    assert second["initialize"]["after_init"]["path"] == f"training/{distilled.name}/model-last"
    assert second["training"]["optimizer"]["learn_rate"]["total_steps"] == 4
    assert f"--run {annealed.name}" in result.stdout or annealed.name in card
