"""bench/sweep.py: the commands it plans (the same corpora, steps and seed for the
stock, gold-only and distilled runs; each student's overrides; hidden-state KD
for the +hidden variants; finished outputs skipped), and, marked slow, a whole
sweep on the committed EWT sample with a tiny teacher, run twice; the reports
(table, plots, learning curve) rewritten from fake result files alone."""

import importlib.util
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict

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


def load_bench(name: str):
    """bench/<name>.py as a module; it imports its neighbours in bench/ as a script
    run from there would."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return module


sweep = load_bench("sweep")
sweep_report = sys.modules["sweep_report"]
speed_ratio = load_bench("speed_ratio")
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
    assert sweep.student_rows(96) == [5000, 1000, 2500, 2500]
    assert sweep.student_rows(192) == [10000, 2000, 5000, 5000]
    assert sweep.student_rows(128) == [6700, 1300, 3300, 3300]
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
    nlp = load_model_from_config(load_config(ROOT / student.config, overrides=overrides))
    resolved = nlp.config.interpolate()
    tok2vec = resolved["components"]["tok2vec"]["model"]
    width = tok2vec["encode"]["width"]
    assert set(listener_widths(resolved["components"])) == {width}
    assert tok2vec["embed"]["width"] == width
    if name.startswith("cnn"):
        assert width == int(name[3:].split("d")[0])
        tables = [
            layer for layer in nlp.get_pipe("tok2vec").model.walk() if layer.name == "hashembed"
        ]
        assert [table.get_dim("nV") for table in tables] == sweep.student_rows(width)
        assert tok2vec["encode"]["depth"] == (8 if name.endswith("d8") else 4)


def test_dry_run_trains_every_run_alike(tmp_path):
    commands = dry_run(tmp_path, "cnn96", "cnn192", "cnn192+hidden-cosine", "bilstm")
    # the students of seed 7 in their own folder; the unlabelled text and stock shared
    runs = tmp_path / "runs" / "seed7"
    text = str(tmp_path / "runs" / "unlabelled" / "transfer-all.txt")
    assert commands[0] == ["-m", "spacy_skd", "text", "U.txt", text, "--max-words", "all"]
    trainings = [
        c
        for c in commands
        if c[:3] in (["-m", "spacy_skd", "train"], ["-m", "spacy_skd", "distill"])
    ]
    # stock once, each student's gold-only run once, one distilled run per variant
    outputs = [c[4] if c[2] == "train" else c[5] for c in trainings]
    # a stopped training continues from its model-last
    assert all("--resume" in c for c in trainings)
    assert outputs == [
        str(tmp_path / "runs" / "stock"),
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
    assert list(width) == ["--components.tok2vec.model.encode.width", "192"]
    # the stock pipeline is trained once, at seed 0, for every seed
    assert shlex.join(SAME_RUN[:-1] + ["0"]) in shlex.join(trainings[0])
    for command in trainings[1:]:
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
    stock = str(tmp_path / "runs" / "stock" / "model-best")
    assert speed[:3] == ["bench/speed_ratio.py", "C/ewt-test.spacy", stock]
    assert speed[3:5] == [str(runs / "cnn192/gold/model-best"), outputs[5] + "/model-best"]


def test_dry_run_skips_what_is_done_and_names_a_prefix(tmp_path):
    (tmp_path / "runs" / "stock").mkdir(parents=True)
    (tmp_path / "runs" / "seed7" / "cnn96" / "gold").mkdir(parents=True)
    extra = ["--unlabelled-words", "5000", "--hidden-layers", "-1,1"]
    commands = dry_run(tmp_path, "cnn96+hidden-mse", extra=extra)
    assert commands[0][-3:] == [
        str(tmp_path / "runs/unlabelled/transfer-5000.txt"),
        "--max-words",
        "5000",
    ]
    assert not [c for c in commands if c[2] == "train"]
    (distill,) = [c for c in commands if c[2] == "distill"]
    assert distill[5] == str(tmp_path / "runs/seed7/cnn96+hidden-mse-u5000/distilled")
    assert "--hidden-layer -1 --hidden-layer 1 --hidden-loss mse" in shlex.join(distill)
    # the stock and gold-only runs are done, their scores are not
    assert len([c for c in commands if c[2] == "evaluate"]) == 6
    # no unlabelled text: KD on the gold corpus alone
    commands = dry_run(tmp_path, "cnn96", extra=["--unlabelled-words", "0"])
    assert [c[2] for c in commands if c[1] == "spacy_skd"] == ["distill"]
    assert not [arg for c in commands for arg in c if "unlabelled" in arg]


def marking_step(output: Path, resumable: bool) -> "sweep.Step":
    """A step whose command lists what its folder held before it, then adds a file."""
    script = (
        "import pathlib, sys; p = pathlib.Path(sys.argv[1]); p.mkdir(exist_ok=True); "
        "found = sorted(f.name for f in p.iterdir()); (p / 'found.txt').write_text(','.join(found))"
    )
    return sweep.Step(
        "mark", output, lambda path: [sys.executable, "-c", script, str(path)], resumable
    )


@pytest.mark.parametrize("resumable", [True, False])
def test_a_stopped_step_resumes_only_when_it_can(tmp_path, resumable):
    output = tmp_path / "run" / "gold"
    partial = sweep.staged(output)
    partial.mkdir(parents=True)
    (partial / "model-last").write_text("left by a stopped run")
    sweep.run_steps([marking_step(output, resumable)], dry_run=False)
    assert not partial.exists()
    found = (output / "found.txt").read_text()
    assert found == ("model-last" if resumable else "")


def test_unknown_variants_and_word_counts_are_refused(tmp_path):
    for args in (["cnn100"], ["cnn96+hidden-kl"], ["cnn96", "--unlabelled-words", "lots"]):
        result = CliRunner().invoke(app, [*args, "--dry-run"])
        assert result.exit_code == 2 and "Invalid value" in result.output, result.output


def fake_scores(las: float, gum: bool = False) -> dict:
    """What `spacy evaluate --output` writes, the scores the sweep reads: UPOS
    and XPOS 10 points above LAS, no NER on GUM."""
    scores = {"token_acc": 1.0, "tag_acc": las + 0.1, "pos_acc": las + 0.1, "dep_uas": las + 0.05}
    return {**scores, "dep_las": las, "sents_f": 0.9, "ents_f": None if gum else las - 0.1}


def fake_sweep_run(
    tmp_path,
    name: str,
    unlabelled_words: str,
    las: Dict[str, float],
    speeds: Dict[str, float],
    seed: int = 0,
) -> dict:
    """The sweep's JSON for `name` from fake outputs of its steps: scores (GUM 10
    points under EWT), a timing in turns (bench/speed_ratio.py's summary) and an
    unlabelled sample of a 5-word line a doc, its words under the number asked."""
    variant = sweep.parse_variant(name)
    settings = sweep.Settings(
        teacher=tmp_path / "project" / "training" / "teacher-minilm" / "model-best",
        corpus_dir=tmp_path / "corpus",
        unlabelled=tmp_path / "transfer-mix.txt",
        unlabelled_words=unlabelled_words,
        steps=4000,
        eval_frequency=200,
        seed=seed,
        method="structural",
        hidden_layers=(-1, 3),
        cache_dir=None,
        distill_args=(),
        gpu_id=-1,
        rounds=5,
        threads=2,
        training_dir=tmp_path / "runs",
    )
    runs = {"stock": settings.stock, "gold": settings.gold(variant)}
    runs["distilled"] = settings.distilled(variant)
    for kind, run in runs.items():
        run.mkdir(parents=True, exist_ok=True)
        (run / "ewt-test.json").write_text(json.dumps(fake_scores(las[kind])))
        (run / "gum-test.json").write_text(json.dumps(fake_scores(las[kind] - 0.1, gum=True)))
    timings = {str(run / "model-best"): [speeds[kind]] * 5 for kind, run in runs.items()}
    summary = speed_ratio.speed_summary(timings, n_texts=2077, batch_size=64)
    settings.speed(variant).write_text(json.dumps({"corpus": "C", "rounds": 5, **summary}))
    if unlabelled_words != "0":
        docs = (1000 if unlabelled_words == "all" else int(unlabelled_words)) // 5
        settings.text.parent.mkdir(parents=True, exist_ok=True)
        settings.text.write_text("one two three four five\n" * docs)
    return sweep.results(variant, settings, sweep.plan([variant], settings))


def write_fake_sweep(tmp_path) -> Path:
    """Result files of a learning curve of cnn96 (0, 152 and 503 words asked, all
    1,000), of cnn96+hidden-mse and cnn128 on all of it, and the teacher's project
    metrics; returns the metrics folder."""
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    runs = [
        ("cnn96", "0", 0.81, 9000),
        ("cnn96", "152", 0.82, 8800),
        ("cnn96", "503", 0.83, 9100),
        ("cnn96", "all", 0.84, 8900),
        ("cnn96+hidden-mse", "all", 0.845, 9000),
        ("cnn128", "all", 0.85, 7000),
    ]
    for name, words, las, speed in runs:
        gold = 0.80 if name.startswith("cnn96") else 0.805
        result = fake_sweep_run(
            tmp_path,
            name,
            words,
            {"stock": 0.79, "gold": gold, "distilled": las},
            {"stock": 10000 + speed, "gold": speed + 100, "distilled": speed},
        )
        (metrics / f"{result['variant']}.json").write_text(json.dumps(result))
    teacher = tmp_path / "project" / "metrics"
    teacher.mkdir(parents=True)
    (teacher / "teacher-minilm.ewt-test.json").write_text(json.dumps(fake_scores(0.86)))
    speed = {"cpu_words_per_second": 1400.0, "gpu_words_per_second": None, "threads": 2}
    speed.update({"cpu": "some CPU", "size_mb": 94.0})
    (teacher / "teacher-minilm.speed.json").write_text(json.dumps(speed))
    return metrics


def test_results_record_the_sample_and_the_timing(tmp_path):
    las = {"stock": 0.79, "gold": 0.80, "distilled": 0.82}
    speeds = {"stock": 10000, "gold": 9000, "distilled": 8000}
    result = fake_sweep_run(tmp_path, "cnn96", "152", las, speeds)
    assert result["variant"] == "cnn96-u152" and result["transfer_words"] == 150
    assert result["timing"]["rounds"] == 5 and result["timing"]["texts"] == 2077
    assert result["runs"]["distilled"]["time_per_word_vs_stock"] == pytest.approx(10000 / 8000)
    assert result["runs"]["gold"]["gum-test"]["dep_las"] == pytest.approx(0.7)
    assert fake_sweep_run(tmp_path, "cnn96", "0", las, speeds)["transfer_words"] == 0


def test_the_reports_are_rewritten_from_the_json_files_alone(tmp_path):
    pytest.importorskip("matplotlib")
    metrics = write_fake_sweep(tmp_path)
    args = ["--metrics-dir", str(metrics), "--teacher-metrics", str(tmp_path / "project/metrics")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    names = sorted(path.name for path in metrics.iterdir() if path.suffix != ".json")
    assert names == ["curve.md", "curve.png", "plot-upos.png", "plot.png", "table.md"]
    for name in ("curve.png", "plot-upos.png", "plot.png"):
        assert (metrics / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (metrics / "table.md").read_text().splitlines()
    assert [row.split(" | ")[:2] for row in table[2:]] == [
        ["| spaCy stock CNN", "stock"],
        *[
            ["| " + name, run]
            for name in (
                "cnn96-u0",
                "cnn96-u152",
                "cnn96-u503",
                "cnn96",
                "cnn96+hidden-mse",
                "cnn128",
            )
            for run in ("gold", "distilled")
        ],
    ]
    # one curve, cnn96's: its gold-only twin, then a row per transfer set, in size order
    curve = (metrics / "curve.md").read_text()
    assert [line for line in curve.splitlines() if line.startswith("## ")] == ["## cnn96"]
    rows = [line.split(" | ") for line in curve.splitlines() if line.startswith("| ")][1:]
    assert [row[:3] for row in rows] == [
        ["| gold-only", "—", "—"],
        ["| distilled", "0", "0"],
        ["| distilled", "152", "150"],
        ["| distilled", "503", "500"],
        ["| distilled", "all", "1,000"],
    ]
    # EWT LAS, EWT UPOS, GUM LAS, GUM UPOS
    assert rows[0][3:] == ["80.00", "90.00", "70.00", "80.00 |"]
    assert [row[3] for row in rows[1:]] == ["81.00", "82.00", "83.00", "84.00"]
    # without the curve's runs, their curve goes
    for path in metrics.glob("cnn96-u*.json"):
        path.unlink()
    assert CliRunner().invoke(app, args).exit_code == 0
    assert not (metrics / "curve.md").exists() and not (metrics / "curve.png").exists()
    assert len((metrics / "table.md").read_text().splitlines()) == 2 + 1 + 6


def test_seeds_are_summed_up_apart_from_seed_0s_reports(tmp_path):
    metrics = tmp_path / "metrics"
    speeds = {"stock": 10000, "gold": 9000, "distilled": 8000}
    for seed, las in ((0, 0.82), (1, 0.84), (2, 0.83)):
        result = fake_sweep_run(
            tmp_path, "cnn96", "500", {"stock": 0.79, "gold": 0.80, "distilled": las}, speeds, seed
        )
        folder = metrics / sweep.seed_folder(seed)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{result['variant']}.json").write_text(json.dumps(result))
    # a run at one seed only has no row
    one = fake_sweep_run(
        tmp_path, "cnn128", "500", {"stock": 0.79, "gold": 0.8, "distilled": 0.8}, speeds
    )
    (metrics / f"{one['variant']}.json").write_text(json.dumps(one))
    sweep_report.write_seeds(metrics)
    rows = [line.split(" | ") for line in (metrics / "seeds.md").read_text().splitlines()[2:]]
    # EWT UPOS, EWT LAS, GUM UPOS, GUM LAS: mean ± sd over seeds 0, 1, 2
    assert rows == [
        ["| cnn96-u500", "gold", "0, 1, 2", "90.00 ± 0.00", "80.00 ± 0.00", "80.00 ± 0.00"]
        + ["70.00 ± 0.00", "1.11 |"],
        ["| cnn96-u500", "distilled", "0, 1, 2", "93.00 ± 1.00", "83.00 ± 1.00", "83.00 ± 1.00"]
        + ["73.00 ± 1.00", "1.25 |"],
    ]
    # seed 0's table holds seed 0 alone
    assert sweep_report.read_results(metrics, list(sweep.STUDENTS))[0]["seed"] == 0
    for path in metrics.glob("seed*/*.json"):
        path.unlink()
    sweep_report.write_seeds(metrics)
    assert not (metrics / "seeds.md").exists()


def test_the_plot_has_every_pipeline_once_and_the_teacher(tmp_path):
    pytest.importorskip("matplotlib")
    metrics = write_fake_sweep(tmp_path)
    results = sweep_report.read_results(metrics, list(sweep.STUDENTS))
    teachers = sweep_report.read_teachers(results, tmp_path / "project" / "metrics")
    points = sweep_report.plot_points(results, teachers, "dep_las")
    found = {(p.label, p.kind): (*p.words_per_second, *p.scores) for p in points}
    expected = {
        ("spaCy stock CNN", "stock"): (18950, 0.79),  # the median of its six timings
        ("cnn96", "gold"): (9100, 0.80),  # of its five, one beside each distilled run
        ("cnn128", "gold"): (7100, 0.805),
        ("cnn96-u0", "distilled"): (9000, 0.81),
        ("cnn96-u152", "distilled"): (8800, 0.82),
        ("cnn96-u503", "distilled"): (9100, 0.83),
        ("cnn96", "distilled"): (8900, 0.84),
        ("cnn96+hidden-mse", "distilled"): (9000, 0.845),
        ("cnn128", "distilled"): (7000, 0.85),
        ("teacher-minilm", "teacher"): (1400.0, 0.86),
    }
    assert len(points) == len(found) and set(found) == set(expected)
    for key, values in expected.items():
        assert found[key] == pytest.approx(values), key
    note = sweep_report.timing_note(results, teachers)
    assert "in turns" in note and "teacher: a separate timing" in note
    # without the teacher's files, the plot goes on without it
    assert sweep_report.read_teachers(results, tmp_path) == {}


def test_a_retrained_stock_pipeline_gets_its_own_row_and_point(tmp_path):
    metrics = write_fake_sweep(tmp_path)
    # cnn192 timed against the stock pipeline trained again, which scored otherwise
    result = fake_sweep_run(
        tmp_path,
        "cnn192",
        "all",
        {"stock": 0.785, "gold": 0.81, "distilled": 0.86},
        {"stock": 10000, "gold": 6000, "distilled": 5900},
    )
    (metrics / f"{result['variant']}.json").write_text(json.dumps(result))
    results = sweep_report.read_results(metrics, list(sweep.STUDENTS))
    labels = sweep_report.stock_labels(results)
    assert labels == ["spaCy stock CNN"] * 6 + ["spaCy stock CNN, retrained"]
    rows = [row.split(" | ")[:2] for row in sweep_report.table(results).splitlines()[2:]]
    assert (
        rows.index(["| spaCy stock CNN, retrained", "stock"])
        == rows.index(["| cnn192", "gold"]) - 1
    )
    assert [row[0] for row in rows].count("| spaCy stock CNN") == 1
    points = sweep_report.plot_points(results, {}, "dep_las")
    stock = {p.label: p.scores[0] for p in points if p.kind == "stock"}
    assert stock == pytest.approx({"spaCy stock CNN": 0.79, "spaCy stock CNN, retrained": 0.785})


def test_the_curve_keeps_its_labels_inside_and_needs_the_sample_size(tmp_path):
    pytest.importorskip("matplotlib")
    metrics = write_fake_sweep(tmp_path)
    results = sweep_report.read_results(metrics, list(sweep.STUDENTS))
    curves = sweep_report.curves(results)
    assert {name: [r["unlabelled_words"] for r in runs] for name, runs in curves.items()} == {
        "cnn96": ["0", "152", "503", "all"]
    }
    figure = sweep_report.curve_figure(curves)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    frame = figure.bbox
    texts = [figure.legends[0], *figure.texts]
    for axes in figure.axes:
        assert axes.get_xscale() == "symlog"
        assert [tick.get_text() for tick in axes.get_xticklabels()] == ["0", "150", "500", "1k"]
        texts += [axes.title, axes.xaxis.label, axes.yaxis.label]
        texts += axes.get_xticklabels() + axes.get_yticklabels()
    for text in texts:
        box = text.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, (text, box, frame)
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1, (text, box, frame)
    del curves["cnn96"][1]["transfer_words"]
    with pytest.raises(ValueError, match="cnn96-u152.json does not record"):
        sweep_report.curve_page(curves)


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
    args += ["--teacher-metrics", str(tmp_path)]
    first = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-5000:]
    assert sorted(p.name for p in metrics.iterdir()) == [
        "cnn96+hidden-mse-u1000.json",
        "cnn96-u1000.json",
        "plot-upos.png",
        "plot.png",
        "table.md",
    ]
    assert "warning: the plot leaves out the teacher" in first.stderr
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
    sample = (tmp_path / "runs" / "unlabelled" / "transfer-1000.txt").read_text().split()
    assert hidden["transfer_words"] == len(sample) <= 1000
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
