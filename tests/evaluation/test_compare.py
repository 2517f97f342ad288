"""`spacy-skd compare`: scores, speed and size of pipelines on one corpus, as a
table and a plot."""

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.evaluation import compare_pipelines, markdown_table
from tests.small_teacher import gold_examples

pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")


@pytest.fixture
def corpus(tmp_path):
    docs = DocBin(docs=[eg.reference for eg in gold_examples(spacy.blank("en"))])
    docs.to_disk(tmp_path / "gold.spacy")
    return tmp_path / "gold.spacy"


def test_reports_match_spacys_own_evaluation(teacher_path, corpus):
    [report] = compare_pipelines([teacher_path], corpus, names=["teacher"], repeats=2)
    nlp = spacy.load(teacher_path)
    expected = nlp.evaluate(gold_examples(nlp))
    assert report.scores["tag_acc"] == expected["tag_acc"]
    assert report.scores["dep_las"] == expected["dep_las"]
    assert report.scores["pos_acc"] is None
    assert report.words_per_second > 0 and len(report.speeds) == 2 and report.size_mb > 0
    table = markdown_table([report]).splitlines()
    assert table[0] == "| pipeline | XPOS | UAS | LAS | sents F | words/s | MB |"
    assert table[2].startswith(f"| teacher | {100 * expected['tag_acc']:.2f} |")


def test_cli_prints_the_table_and_plots(teacher_path, corpus, tmp_path):
    plot = tmp_path / "plot.png"
    args = ["compare", str(corpus), str(teacher_path), str(teacher_path), "--names", "a,b"]
    result = CliRunner().invoke(app, args + ["--repeats", "1", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert "| a |" in result.output and "| b |" in result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = CliRunner().invoke(app, ["compare", str(corpus), str(teacher_path), "--names", "a,b"])
    assert bad.exit_code == 1 and "2 names for 1 pipelines" in bad.output
