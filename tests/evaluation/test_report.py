"""`spacy-skd report`: rows of one or several runs (seeds), their kinds, the
table's mean ± sd and the plot."""

import json
import subprocess

import pytest
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.evaluation.report import Row, _commit, parse_rows, read_row, report_table


def write_run(folder, name, las, speed, cpu="Some CPU"):
    for split in ("ewt-test", "gum-test"):
        scores = {"pos_acc": 0.9, "tag_acc": 0.8, "dep_uas": las + 0.05, "dep_las": las}
        (folder / f"{name}.{split}.json").write_text(json.dumps(scores))
    speed_file = {"cpu_words_per_second": speed, "gpu_words_per_second": None, "size_mb": 7.0}
    (folder / f"{name}.speed.json").write_text(json.dumps({**speed_file, "threads": 2, "cpu": cpu}))


def test_rows_join_names_and_labels_and_know_their_kind():
    rows = parse_rows(["big=teacher@teacher", "small=s0,s1@distilled", "small=s2,s1", "x=a=b"])
    assert rows == [
        Row("big", ["teacher"], "teacher"),
        Row("small", ["s0", "s1", "s2"], "distilled"),
        Row("x=a", ["b"], None),
    ]
    for bad, message in [
        ("no-label", "LABEL=NAME"),
        ("=name", "LABEL=NAME"),
        ("label=", "LABEL=NAME"),
        ("label=name@", "LABEL=NAME"),
        ("label=name@student", "unknown kind 'student'"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_rows([bad])
    with pytest.raises(ValueError, match="the kinds 'gold' and 'distilled'"):
        parse_rows(["a=x@gold", "a=y@distilled"])


def test_a_glob_stands_for_every_matching_run(tmp_path):
    for seed, las in enumerate([0.80, 0.82, 0.84]):
        write_run(tmp_path, f"student-s{seed}", las, 1000.0 * (seed + 1))
    write_run(tmp_path, "teacher", 0.9, 500.0)
    runs = read_row(tmp_path, Row("s", ["student-s*", "student-s1"]))
    assert [run["speed"]["cpu_words_per_second"] for run in runs] == [1000.0, 2000.0, 3000.0]
    with pytest.raises(ValueError, match="no run in .* matches 'other-\\*'"):
        read_row(tmp_path, Row("s", ["other-*"]))
    table = report_table([("teacher", read_row(tmp_path, Row("t", ["teacher"]))), ("s", runs)])
    lines = table.splitlines()
    assert lines[0].startswith("| pipeline | n | EWT UPOS |")
    assert lines[2].startswith("| teacher | 1 | 90.00 | 80.00 | 95.00 | 90.00 | — |")
    # LAS 80, 82, 84: mean 82, sample sd 2; words/s 1k, 2k, 3k: mean 2k, sd 1k
    assert "| 87.00 ± 2.00 | 82.00 ± 2.00 |" in lines[3]
    assert lines[3].endswith("| 2,000 ± 1,000 | 7.0 |")


def test_cli_report_of_several_seeds_and_kinds(tmp_path):
    write_run(tmp_path, "teacher", 0.86, 1400.0)
    for seed in range(3):
        write_run(tmp_path, f"gold-s{seed}", 0.79 + 0.002 * seed, 6500.0 + 100 * seed)
        write_run(tmp_path, f"kd-s{seed}", 0.81 + 0.002 * seed, 7500.0 + 100 * seed)
    out, plot = tmp_path / "report.md", tmp_path / "report.png"
    rows = ["teacher=teacher@teacher", "gold-only=gold-s*@gold", "distilled=kd-s0,kd-s1@distilled"]
    rows += ["distilled=kd-s2"]
    args = ["report", str(out), *rows, "--metrics-dir", str(tmp_path), "--plot", str(plot)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "| gold-only | 3 | 90.00 ± 0.00 |" in text and "| distilled | 3 |" in text
    assert "mean ± the sample standard deviation" in text
    assert "on the CPU (Some CPU, 2 torch threads;" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = CliRunner().invoke(app, ["report", str(out), "a=teacher@pupil", "--metrics-dir", "."])
    assert bad.exit_code == 1 and "unknown kind 'pupil'" in bad.output


def test_the_reports_commit_sees_changes_when_its_metrics_lie_outside(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path / "repo", check=True, capture_output=True)

    (tmp_path / "repo").mkdir()
    (tmp_path / "metrics").mkdir()
    git("init", "-q")
    (tmp_path / "repo" / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    monkeypatch.chdir(tmp_path / "repo")
    assert "uncommitted" not in _commit(tmp_path / "metrics")
    (tmp_path / "repo" / "code.py").write_text("x = 2\n")
    assert _commit(tmp_path / "metrics").endswith("(with uncommitted changes)")
