"""bench/sweep.py: the commands it plans (the same corpora, steps and seed for the
stock, gold-only and distilled runs; each student's overrides; hidden-state KD
for the +hidden variants; finished outputs skipped), and, marked slow, a whole
sweep on the committed EWT sample with a tiny teacher, run twice."""

import importlib.util
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from spacy.cli._util import parse_config_overrides
from spacy.cli.debug_config import debug_config
from spacy.cli.train import train
from spacy.util import load_config, load_model_from_config
from typer.testing import CliRunner

from spacy_skd.teacher.tiny_bert import make_tiny_bert
from spacy_skd.testing import force_hf_offline
from spacy_skd.training.convert import convert_corpus

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "fixtures" / "ewt_sample"
SAME_RUN = [
    "--paths.train",
    "C/ewt-train.spacy",
    "--paths.dev",
    "C/ewt-dev.spacy",
    "--training.max_steps",
    "3",
    "--training.eval_frequency",
    "2",
    "--system.seed",
    "7",
]


def load_sweep():
    """bench/sweep.py as a module; it imports its neighbours in bench/ as a script
    run from there would."""
    spec = importlib.util.spec_from_file_location("sweep", ROOT / "bench" / "sweep.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["sweep"] = module
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return module


sweep = load_sweep()
app = typer.Typer()
app.command()(sweep.main)


def dry_run(tmp_path, *variants, extra=()):
    """The commands `--dry-run` prints, split into argument lists (the
    interpreter's path dropped)."""
    args = [*variants, "--dry-run", "--teacher", "T", "--corpus-dir", "C", "--unlabelled", "U.txt"]
    args += ["--steps", "3", "--eval-frequency", "2", "--seed", "7"]
    args += ["--training-dir", str(tmp_path / "runs")]
    result = CliRunner().invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    commands = [shlex.split(line) for line in result.stdout.splitlines()]
    assert all(command[0] == sys.executable for command in commands)
    return [command[1:] for command in commands]


def test_rows_scale_with_the_width():
    assert sweep.scaled_rows(96) == [5000, 1000, 2500, 2500]
    assert sweep.scaled_rows(192) == [10000, 2000, 5000, 5000]
    assert sweep.scaled_rows(128) == [6700, 1300, 3300, 3300]
    assert list(sweep.STUDENTS) == ["cnn96", "cnn128", "cnn192", "cnn256", "cnn256d8", "bilstm"]
    assert sweep.STUDENTS["cnn96"].overrides == ()


def listener_widths(block) -> list:
    """The widths of every Tok2VecListener in a config block."""
    if not isinstance(block, dict):
        return []
    found = [block["width"]] if block.get("@architectures") == "spacy.Tok2VecListener.v1" else []
    return found + [width for value in block.values() for width in listener_widths(value)]


@pytest.mark.parametrize("name", list(sweep.STUDENTS))
def test_every_student_passes_debug_config_at_its_width(name, tmp_path):
    student = sweep.STUDENTS[name]
    overrides = parse_config_overrides(list(student.overrides))
    overrides.update(
        {"paths.train": str(tmp_path / "t.spacy"), "paths.dev": str(tmp_path / "d.spacy")}
    )
    debug_config(ROOT / student.config, overrides=overrides)
    config = load_model_from_config(load_config(ROOT / student.config, overrides=overrides)).config
    resolved = config.interpolate()
    tok2vec = resolved["components"]["tok2vec"]["model"]
    width = tok2vec["encode"]["width"]
    assert set(listener_widths(resolved["components"])) == {width}
    assert tok2vec["embed"]["width"] == width
    if name.startswith("cnn"):
        assert width == int(name[3:].split("d")[0])
        assert tok2vec["embed"]["rows"] == sweep.scaled_rows(width)
        assert tok2vec["encode"]["depth"] == (8 if name.endswith("d8") else 4)


def test_dry_run_trains_every_run_alike(tmp_path):
    commands = dry_run(tmp_path, "cnn96", "cnn192", "cnn192+hidden-cosine", "bilstm")
    runs = tmp_path / "runs"
    text = str(runs / "unlabelled" / "transfer-all.txt")
    assert commands[0] == ["-m", "spacy_skd", "text", "U.txt", text, "--max-words", "all"]
    trainings = [
        c for c in commands if c[:3] in (["-m", "spacy", "train"], ["-m", "spacy_skd", "distill"])
    ]
    # stock once, each student's gold-only run once, one distilled run per variant
    outputs = [c[c.index("--output") + 1] if "--output" in c else c[5] for c in trainings]
    assert outputs == [
        str(runs / "stock"),
        str(runs / "cnn96" / "gold"),
        str(runs / "cnn96" / "distilled"),
        str(runs / "cnn192" / "gold"),
        str(runs / "cnn192" / "distilled"),
        str(runs / "cnn192+hidden-cosine" / "distilled"),
        str(runs / "bilstm" / "gold"),
        str(runs / "bilstm" / "distilled"),
    ]
    assert trainings[0][3] == "bench/configs/stock_cnn_ner.cfg"
    width = sweep.cnn_overrides(192)
    assert list(width) == [
        "--components.tok2vec.model.encode.width",
        "192",
        "--components.tok2vec.model.embed.rows",
        "[10000,2000,5000,5000]",
    ]
    for command in trainings:
        joined = shlex.join(command)
        assert shlex.join(SAME_RUN) in joined
        assert ("192/" in joined or "192+" in joined) == joined.endswith(shlex.join(width))
    distills = [c for c in trainings if c[2] == "distill"]
    assert {c[4] for c in distills} == {"configs/student_cnn.cfg", "configs/student_bilstm.cfg"}
    for command in distills:
        assert command[3] == "T" and f"--unlabelled={text}" in command
        assert command[command.index("--method") + 1] == "structural"
        hidden = "--hidden-layer -1 --hidden-layer 3 --hidden-loss cosine" in shlex.join(command)
        assert hidden == ("hidden" in command[5])
    scored = [c[4] for c in commands if c[:3] == ["-m", "spacy", "evaluate"]]
    assert scored == ["C/ewt-test.spacy", "C/gum-test.spacy"] * 8
    (speed,) = [c for c in commands if "cnn192+hidden-cosine" in c[-1] and "speed" in c[-1]]
    assert speed[:3] == ["bench/speed_ratio.py", "C/ewt-test.spacy", str(runs / "stock/model-best")]
    assert speed[3:5] == [str(runs / "cnn192/gold/model-best"), outputs[5] + "/model-best"]


def test_dry_run_skips_what_is_done_and_names_a_prefix(tmp_path):
    (tmp_path / "runs" / "stock").mkdir(parents=True)
    (tmp_path / "runs" / "cnn96" / "gold").mkdir(parents=True)
    extra = ["--unlabelled-words", "5000", "--hidden-layers", "-1,1"]
    commands = dry_run(tmp_path, "cnn96+hidden-mse", extra=extra)
    assert commands[0][-3:] == [
        str(tmp_path / "runs/unlabelled/transfer-5000.txt"),
        "--max-words",
        "5000",
    ]
    assert not [c for c in commands if c[2] == "train"]
    (distill,) = [c for c in commands if c[2] == "distill"]
    assert distill[5] == str(tmp_path / "runs" / "cnn96+hidden-mse-u5000" / "distilled")
    assert "--hidden-layer -1 --hidden-layer 1 --hidden-loss mse" in shlex.join(distill)
    # the stock and gold-only runs are done, their scores are not
    assert len([c for c in commands if c[2] == "evaluate"]) == 6
    # no unlabelled text: KD on the gold corpus alone
    commands = dry_run(tmp_path, "cnn96", extra=["--unlabelled-words", "0"])
    assert [c[2] for c in commands if c[1] == "spacy_skd"] == ["distill"]
    assert not [arg for c in commands for arg in c if "unlabelled" in arg]


def test_unknown_variants_and_word_counts_are_refused(tmp_path):
    for args in (["cnn100"], ["cnn96+hidden-kl"], ["cnn96", "--unlabelled-words", "lots"]):
        result = CliRunner().invoke(app, [*args, "--dry-run"])
        assert result.exit_code == 2 and "Invalid value" in result.output, result.output


@pytest.mark.slow
def test_a_sweep_runs_and_resumes_on_the_sample(tmp_path, monkeypatch):
    force_hf_offline(monkeypatch)
    corpus = tmp_path / "corpus"
    for name, split in (("ewt-train", "train"), ("ewt-dev", "dev"), ("ewt-test", "dev")):
        ner = SAMPLE / f"{split}.iob2"
        convert_corpus(SAMPLE / f"{split}.conllu", corpus / f"{name}.spacy", iob2_path=ner)
    convert_corpus(SAMPLE / "dev.conllu", corpus / "gum-test.spacy")
    bert = make_tiny_bert(tmp_path / "tiny-bert")
    overrides = {
        "paths.teacher": str(bert),
        "paths.train": str(corpus / "ewt-train.spacy"),
        "paths.dev": str(corpus / "ewt-dev.spacy"),
        "training.max_steps": 2,
        "training.eval_frequency": 1,
    }
    train(ROOT / "configs" / "teacher_trf.cfg", tmp_path / "teacher", overrides=overrides)
    text = tmp_path / "text.txt"
    subprocess.run(
        [sys.executable, "-m", "spacy_skd", "text", str(SAMPLE / "train.conllu"), str(text)],
        check=True,
    )
    metrics = tmp_path / "metrics"
    args = [sys.executable, "bench/sweep.py", "cnn96", "cnn96+hidden-mse"]
    args += ["--teacher", str(tmp_path / "teacher" / "model-last"), "--corpus-dir", str(corpus)]
    args += ["--unlabelled", str(text), "--unlabelled-words", "1000", "--hidden-layers", "-1,1"]
    args += ["--steps", "2", "--eval-frequency", "1", "--rounds", "1", "--threads", "1"]
    args += ["--training-dir", str(tmp_path / "runs"), "--metrics-dir", str(metrics)]
    first = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-5000:]
    assert sorted(p.name for p in metrics.iterdir()) == [
        "cnn96+hidden-mse-u1000.json",
        "cnn96-u1000.json",
        "table.md",
    ]
    assert not list((tmp_path / "runs").glob("**/*.partial*"))
    hidden = json.loads((metrics / "cnn96+hidden-mse-u1000.json").read_text())
    assert hidden["hidden_layers"] == [-1, 1] and hidden["hidden_loss"] == "mse"
    assert "--hidden-loss mse" in hidden["commands"]["distilled"]
    assert set(hidden["runs"]) == {"stock", "gold", "distilled"}
    for run in hidden["runs"].values():
        assert 0 <= run["ewt-test"]["dep_las"] <= 1 and run["words_per_second"] > 0
        assert run["gum-test"]["ents_f"] is None
    assert hidden["runs"]["stock"]["time_per_word_vs_stock"] == 1.0
    distilled = tmp_path / "runs" / "cnn96+hidden-mse-u1000" / "distilled"
    used = load_config(distilled / "distill.cfg")["components"]["distiller"]
    assert used["hidden_layers"] == [-1, 1] and used["hidden_loss"] == "mse"
    assert len((tmp_path / "runs" / "unlabelled" / "transfer-1000.txt").read_text().split()) <= 1000
    table = (metrics / "table.md").read_text().splitlines()
    assert [row.split(" | ")[:2] for row in table[2:]] == [
        ["| spaCy stock CNN", "stock"],
        ["| cnn96-u1000", "gold"],
        ["| cnn96-u1000", "distilled"],
        ["| cnn96+hidden-mse-u1000", "gold"],
        ["| cnn96+hidden-mse-u1000", "distilled"],
    ]
    # a second sweep finds every output and runs nothing
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    progress = [line for line in again.stderr.splitlines() if line.startswith("[")]
    assert progress and all(line.endswith(")") and ": done (" in line for line in progress)
