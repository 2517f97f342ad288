"""The commands the spaCy project's steps call: text (naming a bad line of its
input), weights (tiny, --link), benchmark, report, and distill's --unlabelled."""

import json
import os
import subprocess

import pytest
import spacy
import torch
from spacy.tokens import DocBin
from spacy.util import registry
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.training.distill import with_unlabelled_text

CONLLU = """# sent_id = a-1
# text = Hello world.
1	Hello	hello	INTJ	UH	_	0	root	_	_
2	world	world	NOUN	NN	_	1	vocative	_	SpaceAfter=No
3	.	.	PUNCT	.	_	1	punct	_	_

# sent_id = a-2
# text = Bye.
1	Bye	bye	INTJ	UH	_	0	root	_	SpaceAfter=No
2	.	.	PUNCT	.	_	1	punct	_	_

"""


def test_text_writes_the_raw_sentences(tmp_path):
    (tmp_path / "in.conllu").write_text(CONLLU)
    out = tmp_path / "sub" / "out.txt"
    result = CliRunner().invoke(app, ["text", str(tmp_path / "in.conllu"), str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == "Hello world.\nBye.\n"
    (tmp_path / "bare.conllu").write_text(CONLLU.replace("# text", "# other"))
    result = CliRunner().invoke(app, ["text", str(tmp_path / "bare.conllu"), str(out)])
    assert result.exit_code == 1 and "no '# text =' lines" in result.output


@pytest.mark.parametrize(
    "max_words,expected",
    [("all", "a b c\nd e\nf g h i\n"), ("5", "a b c\nd e\n"), ("8", "a b c\nd e\n"), ("2", "")],
)
def test_text_keeps_the_first_lines_up_to_max_words(tmp_path, max_words, expected):
    (tmp_path / "in.txt").write_text("a b c\n\n  d e \nf g h i\n")
    out = tmp_path / "prefix.txt"
    args = ["text", str(tmp_path / "in.txt"), str(out), "--max-words", max_words]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.read_text() == expected


def test_text_refuses_a_bad_word_count_and_an_empty_file(tmp_path):
    (tmp_path / "in.txt").write_text("a b c\n")
    args = ["text", str(tmp_path / "in.txt"), str(tmp_path / "out.txt"), "--max-words", "-3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "neither 'all' nor a number" in result.output
    (tmp_path / "empty.txt").write_text("\n\n")
    result = CliRunner().invoke(app, ["text", str(tmp_path / "empty.txt"), str(tmp_path / "o.txt")])
    assert result.exit_code == 1 and "no non-empty lines" in result.output


def test_text_names_the_bad_line_and_keeps_the_output_it_had(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("kept\n")
    (tmp_path / "in.txt").write_bytes(b"a b\nc \xff d\n")
    result = CliRunner().invoke(app, ["text", str(tmp_path / "in.txt"), str(out)])
    assert result.exit_code == 1 and "in.txt:2: not UTF-8 (byte 0xff at column 3)" in result.output
    (tmp_path / "in.conllu").write_text(CONLLU.replace("Bye.", "Bye" * 30))
    args = ["text", str(tmp_path / "in.conllu"), str(out), "--max-line-chars", "60"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "in.conllu:8: longer than 60 characters" in result.output
    (tmp_path / "in.jsonl").write_text('{"text": " a b "}\n\n[]\n')
    result = CliRunner().invoke(app, ["text", str(tmp_path / "in.jsonl"), str(out)])
    assert result.exit_code == 1 and "in.jsonl:3: not a JSON object" in result.output
    assert out.read_text() == "kept\n" and not list(tmp_path.glob(".*"))
    (tmp_path / "in.jsonl").write_text('{"text": " a b "}\n\n{"text": "c"}\n')
    result = CliRunner().invoke(app, ["text", str(tmp_path / "in.jsonl"), str(out)])
    assert result.exit_code == 0 and out.read_text() == "a b\nc\n"


def test_text_keeps_an_output_that_holds_the_same_docs(tmp_path):
    (tmp_path / "in.txt").write_text("a b c\nd e\n")
    out = tmp_path / "out.txt"
    args = ["text", str(tmp_path / "in.txt"), str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    os.utime(out, ns=(10**18, 10**18))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and "Kept the same 2 docs (5 words)" in result.output
    assert out.stat().st_mtime_ns == 10**18 and not list(tmp_path.glob(".*"))
    (tmp_path / "in.txt").write_text("a b c\nd f\n")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and "Wrote 2 docs" in result.output
    assert out.read_text() == "a b c\nd f\n" and out.stat().st_mtime_ns != 10**18


def test_weights_tiny_is_built_once_and_linked(tmp_path):
    args = ["weights", "tiny", "-o", str(tmp_path / "w"), "--link", str(tmp_path / "link")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "link").is_symlink() and (tmp_path / "link" / "config.json").exists()
    built = (tmp_path / "w" / "tiny-bert" / "model.safetensors").stat().st_mtime_ns
    assert CliRunner().invoke(app, args).exit_code == 0
    assert (tmp_path / "w" / "tiny-bert" / "model.safetensors").stat().st_mtime_ns == built
    (tmp_path / "plain").mkdir()
    result = CliRunner().invoke(app, args[:-1] + [str(tmp_path / "plain")])
    assert result.exit_code == 1 and "is not a link" in result.output
    result = CliRunner().invoke(app, ["weights", "bert-large"])
    assert result.exit_code == 1 and "minilm, mpnet, tiny" in result.output


@pytest.fixture
def tagged_pipeline(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.to_disk(tmp_path / "pipeline")
    docs = [nlp(text) for text in ["One two three.", "Four five.", "Six."]]
    DocBin(docs=docs).to_disk(tmp_path / "corpus.spacy")
    return tmp_path / "pipeline", tmp_path / "corpus.spacy"


def test_benchmark_writes_words_per_second(tagged_pipeline, tmp_path):
    pipeline, corpus = tagged_pipeline
    out = tmp_path / "speed.json"
    # One thread: an OpenMP pool of two in this process would hang later tests'
    # nlp.pipe(n_process=2) workers, which fork it.
    args = ["benchmark", str(pipeline), str(corpus), "-o", str(out), "--repeats", "3"]
    args += ["--threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    speed = json.loads(out.read_text())
    assert len(speed["cpu_passes"]) == 3 and speed["cpu_words_per_second"] > 0
    assert sorted(speed["cpu_passes"])[1] == speed["cpu_words_per_second"]
    assert speed["gpu_words_per_second"] is None and speed["size_mb"] > 0
    assert speed["threads"] == 1 and torch.get_num_threads() == 1
    DocBin().to_disk(tmp_path / "empty.spacy")
    args[2] = str(tmp_path / "empty.spacy")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "holds no docs" in result.output


def write_run(folder, name, las, speed):
    for split in ("ewt-test", "gum-test"):
        scores = {"pos_acc": 0.9, "tag_acc": 0.8, "dep_uas": las + 0.05, "dep_las": las}
        (folder / f"{name}.{split}.json").write_text(json.dumps(scores))
    speed_file = {"cpu_words_per_second": speed, "gpu_words_per_second": None, "size_mb": 12.5}
    (folder / f"{name}.speed.json").write_text(json.dumps({**speed_file, "threads": 2}))


def test_report_tables_each_run_and_plots(tmp_path):
    write_run(tmp_path, "teacher", 0.86, 2500.0)
    write_run(tmp_path, "student", 0.80, 15000.0)
    out = tmp_path / "report.md"
    args = ["report", str(out), "big=teacher", "small=student", "--metrics-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args + ["--plot", str(tmp_path / "r.png"), "--note", "Hi."])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert (
        "| big | 90.00 | 80.00 | 91.00 | 86.00 | — | 90.00 | 91.00 | 86.00 | 2,500 | 12.5 |" in text
    )
    assert "| small |" in text and "15,000" in text and "Hi." in text and "Commit: " in text
    assert "![EWT test LAS against CPU words/s](r.png)" in text
    assert (tmp_path / "r.png").stat().st_size > 1000
    result = CliRunner().invoke(
        app, ["report", str(out), "x=missing", "--metrics-dir", str(tmp_path)]
    )
    assert result.exit_code == 1 and "missing.ewt-test.json is missing" in result.output
    result = CliRunner().invoke(app, ["report", str(out), "no-label"])
    assert result.exit_code == 1 and "LABEL=NAME" in result.output


def test_unlabelled_text_is_streamed_beside_the_train_reader(tmp_path):
    nlp = spacy.blank("en")
    DocBin(docs=[nlp("Gold text here.")]).to_disk(tmp_path / "train.spacy")
    (tmp_path / "raw.txt").write_text("Raw one\nRaw two\n")
    config = nlp.config
    config["corpora"]["train"] = {
        "@readers": "spacy.Corpus.v1",
        "path": str(tmp_path / "train.spacy"),
        "gold_preproc": False,
    }
    mixed = with_unlabelled_text(config, str(tmp_path / "raw.txt"), gold_share=0.5)
    assert mixed["corpora"]["train"]["@readers"] == "spacy-skd.MixedCorpus.v1"
    assert mixed["training"]["max_epochs"] == -1
    corpora = mixed.interpolate()["corpora"]
    reader = registry.resolve({"train": corpora["train"]})["train"]
    texts = [eg.text for eg in reader(nlp)]
    assert texts.count("Gold text here.") == 1
    assert set(texts) - {"Gold text here."} <= {"Raw one", "Raw two"}
    assert len(texts) > 1
    with pytest.raises(ValueError, match="a .txt or .jsonl file"):
        with_unlabelled_text(config, str(tmp_path / "train.spacy"))
    with pytest.raises(ValueError, match="does not exist"):
        with_unlabelled_text(config, str(tmp_path / "nothing.txt"))


def test_the_reports_commit_ignores_the_runs_own_metrics(tmp_path, monkeypatch):
    from spacy_skd.evaluation.report import _commit

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "run.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    monkeypatch.chdir(tmp_path / "metrics")
    (tmp_path / "metrics" / "run.json").write_text('{"rewritten": true}')
    assert "uncommitted" not in _commit(tmp_path / "metrics")
    (tmp_path / "code.py").write_text("x = 2\n")
    assert _commit(tmp_path / "metrics").endswith("(with uncommitted changes)")
